"""Fit the rig's motion parameters to tracked landmarks: the inverse of ``render.rig.pose_vertices``.

One source of truth: the face being captured gets the same rig the renderer builds for a portrait
(``build_rig`` on its neutral landmarks), and each frame is explained by that rig:

1. head pose: the least-squares similarity that maps the rig's rest skull (``RIGID_POINTS``) onto the
   frame's, split into yaw/pitch/roll (the rig's convention), headX/headY (face heights) and headScale;
2. expression: the frame's landmarks brought back into the rest pose, then the 36 expression
   coefficients that make the rig's deformation reproduce them, by bounded, damped Gauss-Newton
   (the linear blendshapes are exact; the jaw rotation and mouthClose are linearised), weighted
   towards the lips, lids, irises and brows. A small ridge prior keeps unused shapes at 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from talkingface.face import topology as tp
from talkingface.face.geometry import RIGID_POINTS, similarity_transform
from talkingface.motion.params import EXPRESSION_PARAMETERS, HEAD_PARAMETERS, PARAMETERS
from talkingface.render.rig import (JAW_MAX_DEG, LINEAR_SHAPES, LOWER_LIP_MIDDLE, UPPER_LIP_MIDDLE, Rig,
                                    build_rig)

N = tp.NUM_LANDMARKS
EXPRESSION_BOUNDS = {"jawOpen": (0.0, 1.2)}  # every other expression coefficient lies in [0, 1]
DEPTH_WEIGHT = 0.3  # MediaPipe's depth is less reliable than x, y
RIDGE = 2e-4  # prior pulling every coefficient towards 0, in (face heights)^2 per unit^2
GAUSS_NEWTON_STEPS = 3
_JAW, _CLOSE = EXPRESSION_PARAMETERS.index("jawOpen"), EXPRESSION_PARAMETERS.index("mouthClose")
_LINEAR = np.array([EXPRESSION_PARAMETERS.index(name) for name in LINEAR_SHAPES])


def box_least_squares(hessian: np.ndarray, gradient: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                      start: np.ndarray, *, iterations: int = 30) -> np.ndarray:
    """argmin of 0.5 x'Hx - g'x with lower <= x <= upper (bounds may be infinite), H positive definite.

    A primal active-set method for small problems: solve for the free variables with the others held
    at their bounds, pin the ones that leave their box, free a pinned one whose gradient points back
    inside; each step is one dense solve (43 x 43 here: microseconds, unlike a general solver)."""
    x = np.clip(start, lower, upper)
    free = (x > lower) & (x < upper)  # what starts at a bound starts pinned there
    for _ in range(iterations):
        fixed = ~free
        candidate = x.copy()
        if free.any():
            rhs = gradient[free] - hessian[np.ix_(free, fixed)] @ x[fixed]
            candidate[free] = np.linalg.solve(hessian[np.ix_(free, free)], rhs)
        outside = free & ((candidate < lower) | (candidate > upper))
        x = np.clip(candidate, lower, upper)
        if outside.any():
            free &= ~outside
            continue
        slope = hessian @ x - gradient  # KKT: >= 0 at a lower bound, <= 0 at an upper one
        wrong = fixed & (((x <= lower) & (slope < -1e-12)) | ((x >= upper) & (slope > 1e-12)))
        if not wrong.any():
            break
        free[np.argmax(np.where(wrong, np.abs(slope), 0.0))] = True
    return x


def _cross_matrices(vectors: np.ndarray) -> np.ndarray:
    """(N, 3, 3) matrices [v]x with [v]x @ w = v x w, for vectors (N, 3)."""
    x, y, z = vectors[:, 0], vectors[:, 1], vectors[:, 2]
    zero = np.zeros_like(x)
    return np.stack([np.stack([zero, -z, y], 1), np.stack([z, zero, -x], 1), np.stack([-y, x, zero], 1)], 1)


def landmark_weights() -> np.ndarray:
    """(478,) how much each landmark counts in the expression fit: lips, lids, irises and brows carry
    the expression; the face oval is noisy and barely moves with it."""
    weight = np.full(N, 0.5, np.float32)
    groups = {
        4.0: tp.LIPS_UPPER_OUTER + tp.LIPS_LOWER_OUTER + tp.LIPS_UPPER_INNER + tp.LIPS_LOWER_INNER
        + UPPER_LIP_MIDDLE + LOWER_LIP_MIDDLE,
        3.0: tp.RIGHT_EYE_UPPER0 + tp.RIGHT_EYE_LOWER0 + tp.LEFT_EYE_UPPER0 + tp.LEFT_EYE_LOWER0
        + tp.RIGHT_IRIS + tp.LEFT_IRIS,
        2.0: tp.RIGHT_BROW_UPPER + tp.LEFT_BROW_UPPER + tp.RIGHT_BROW_LOWER + tp.LEFT_BROW_LOWER,
        0.3: tp.FACE_OVAL,
    }
    for value, indices in groups.items():
        weight[list(indices)] = value
    weight[[tp.CHIN, 148, 176, 149, 377, 400, 378]] = 1.5  # the chin shows the jaw
    return weight


def euler_from_rotation(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) degrees of a rotation (3, 3) built as ``render.rig.rotation_matrix`` does."""
    roll, pitch, minus_yaw = Rotation.from_matrix(rotation).as_euler("ZXY", degrees=True)
    return -float(minus_yaw), float(pitch), float(roll)


@dataclass(frozen=True)
class FaceFit:
    """One frame's fit: params (P,) float32 ordered as PARAMETERS, and the RMS landmark error of the
    weighted fit in face heights (how well the rig explains the frame)."""

    params: np.ndarray
    error: float


class RigFitter:
    """Fits frames of one face, whose neutral landmarks (478, 3) px define the rig.

    ``fit(points)`` takes a frame's landmarks (478, 3) in the same pixel space and returns a FaceFit;
    successive calls start from the previous frame's expression (faster, steadier).
    """

    def __init__(self, neutral: np.ndarray, width: int, height: int) -> None:
        self.rig: Rig = build_rig(neutral.astype(np.float32), width, height)
        self.face_height = self.rig.face_height
        self._rest = self.rig.rest[:N].astype(np.float64)
        self._shapes = self.rig.shapes[:, :N].astype(np.float64) / self.face_height  # (K, N, 3)
        self._jaw_weight = self.rig.jaw_weight[:N].astype(np.float64)
        self._lip_close = self.rig.lip_close[:N].astype(np.float64)
        weight = np.sqrt(landmark_weights().astype(np.float64))
        self._row_weight = np.stack([weight, weight, weight * DEPTH_WEIGHT], axis=1).reshape(-1)  # (3N,)
        lower = [EXPRESSION_BOUNDS.get(name, (0.0, 1.0))[0] for name in EXPRESSION_PARAMETERS]
        upper = [EXPRESSION_BOUNDS.get(name, (0.0, 1.0))[1] for name in EXPRESSION_PARAMETERS]
        self._bounds = (np.array(lower), np.array(upper))
        self._previous = np.zeros(len(EXPRESSION_PARAMETERS))

    # ----------------------------------------------------------------------------------- head pose

    def head_parameters(self, rotation: np.ndarray, scale: float, offset: np.ndarray) -> np.ndarray:
        """headYaw, headPitch, headRoll (degrees), headX, headY (face heights), headScale of the pose
        ``points = scale * rest @ rotation.T + offset`` (px): the rig turns about its head pivot and
        then shifts, ``points = (v - pivot) @ M.T + pivot + shift``."""
        yaw, pitch, roll = euler_from_rotation(rotation)
        pivot = self.rig.head_pivot.astype(np.float64)
        shift = offset - pivot + scale * pivot @ rotation.T
        return np.array([yaw, pitch, roll, shift[0] / self.face_height, shift[1] / self.face_height,
                         scale - 1.0])

    # ---------------------------------------------------------------------------------- expression

    def _deform(self, coefficients: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rest landmarks deformed by expression coefficients (36,), in face heights: positions
        (N, 3) and the Jacobian (3N, 36)."""
        linear = self._rest / self.face_height + np.tensordot(coefficients[_LINEAR], self._shapes, axes=1)
        jaw, close = coefficients[_JAW], coefficients[_CLOSE]
        limit = np.radians(JAW_MAX_DEG)
        share = self._jaw_weight * (1.0 - close * self._lip_close)
        angle = limit * jaw * share
        cos, sin = np.cos(angle), np.sin(angle)
        pivot = self.rig.jaw_pivot.astype(np.float64) / self.face_height
        dy, dz = linear[:, 1] - pivot[1], linear[:, 2] - pivot[2]
        out = linear.copy()
        out[:, 1] = pivot[1] + dy * cos - dz * sin
        out[:, 2] = pivot[2] + dy * sin + dz * cos
        jacobian = np.zeros((N, 3, len(EXPRESSION_PARAMETERS)))
        shapes = self._shapes  # rotated by each vertex's jaw angle
        jacobian[:, 0, _LINEAR] = shapes[:, :, 0].T
        jacobian[:, 1, _LINEAR] = (shapes[:, :, 1] * cos - shapes[:, :, 2] * sin).T
        jacobian[:, 2, _LINEAR] = (shapes[:, :, 1] * sin + shapes[:, :, 2] * cos).T
        turn = np.stack([np.zeros(N), -dy * sin - dz * cos, dy * cos - dz * sin], axis=1)  # d out / d angle
        jacobian[:, :, _JAW] = turn * (limit * share)[:, None]
        jacobian[:, :, _CLOSE] = turn * (-limit * jaw * self._jaw_weight * self._lip_close)[:, None]
        return out, jacobian.reshape(3 * N, -1)

    def _solve(self, points: np.ndarray, coefficients: np.ndarray, rotation: np.ndarray, scale: float,
               offset: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, float]:
        """Joint Gauss-Newton refinement of expression (bounded) and pose (free) for one frame.

        The model is ``points ≈ scale * deform(coefficients) @ rotation.T + offset`` (face heights);
        each step linearises it (rotation by a small rotation vector, relative scale change, shift)
        and solves the bounded least squares on its normal equations (43 x 43 instead of 1434 rows).
        Returns coefficients, rotation, scale, offset (px) and the weighted RMS error (face heights)."""
        target = points / self.face_height
        offset = offset / self.face_height
        count = len(coefficients)
        ridge = np.zeros((count + 7, count + 7))
        ridge[:count, :count] = RIDGE * np.eye(count)
        lower = np.concatenate([self._bounds[0], np.full(7, -np.inf)])
        upper = np.concatenate([self._bounds[1], np.full(7, np.inf)])
        for _ in range(GAUSS_NEWTON_STEPS):
            model, jacobian = self._deform(coefficients)
            posed = scale * model @ rotation.T  # (N, 3), before the shift
            residual = (target - posed - offset).reshape(-1)
            expression = scale * (jacobian.reshape(N, 3, count).transpose(0, 2, 1) @ rotation.T)  # (N, K, 3)
            columns = np.zeros((N, 3, count + 7))
            columns[:, :, :count] = expression.transpose(0, 2, 1)
            columns[:, :, count:count + 3] = -_cross_matrices(posed)  # small rotation: w x q
            columns[:, :, count + 3] = posed  # relative scale change
            columns[:, :, count + 4:] = np.eye(3)  # shift
            weighted = columns.reshape(3 * N, -1) * self._row_weight[:, None]
            rhs = residual * self._row_weight
            step_start = np.concatenate([coefficients, np.zeros(7)])
            solution = box_least_squares(weighted.T @ weighted + ridge, weighted.T @ (rhs + weighted @ step_start),
                                         lower, upper, step_start)
            coefficients = np.clip(solution[:count], *self._bounds)
            turn, stretch, shift = solution[count:count + 3], solution[count + 3], solution[count + 4:]
            rotation = Rotation.from_rotvec(turn).as_matrix() @ rotation
            scale *= 1.0 + stretch
            offset = offset + shift
        model, _ = self._deform(coefficients)
        residual = (target - scale * model @ rotation.T - offset).reshape(-1) * self._row_weight
        error = float(np.sqrt(np.mean(residual ** 2)))
        return coefficients, rotation, scale, offset * self.face_height, error

    # --------------------------------------------------------------------------------------- frame

    def fit(self, points: np.ndarray) -> FaceFit:
        """Motion parameters (P,) of one frame's landmarks (478, 3) px.

        The pose starts from the similarity that aligns the skull's rigid points with the rest shape
        as deformed by the previous frame's expression; pose and expression are then refined
        together, since the rig's brow and lip shapes reach some of those points."""
        points = np.asarray(points, np.float64)
        model = self._deform(self._previous)[0] * self.face_height
        matrix, offset = similarity_transform(model[list(RIGID_POINTS)], points[list(RIGID_POINTS)])
        scale = float(np.cbrt(np.linalg.det(matrix)))
        coefficients, rotation, scale, offset, error = self._solve(points, self._previous, matrix / scale,
                                                                    scale, offset)
        self._previous = coefficients
        params = np.zeros(len(PARAMETERS), np.float32)
        params[:len(HEAD_PARAMETERS)] = self.head_parameters(rotation, scale, offset)
        params[len(HEAD_PARAMETERS):] = coefficients
        return FaceFit(params, error)

    def reset(self) -> None:
        """Forget the previous frame (after a gap in tracking)."""
        self._previous = np.zeros(len(EXPRESSION_PARAMETERS))
