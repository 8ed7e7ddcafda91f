"""Eyeglasses as a rigid layer: found in the portrait, removed from the face texture, drawn back moved
with the head only, so blinks, brow raises and squints no longer bend the frame.

Detection works in a canonical view of the eye band: the portrait is resampled so the eye centres lie
at (-50, 0) and (50, 0) px. There, a line detector (darker, or lighter, than both sides at several
widths and 8 orientations, on log intensity so shadowed and lit sides count alike) responds to thin
and thick frames. Each rim is traced as a closed path around its eye by dynamic programming in polar
coordinates, both rims at once (a frame is mirror-symmetric), then each eye on its own near the joint
path. A face wears glasses when the paths run along lines below and beside both eyes (where skin has
none running that way), and a bridge crosses the nose between them. The frame's pixels are then the
line pixels along the rims, the bridge and the temple arms.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from talkingface.face import topology as tp

EYE_DISTANCE = 100.0  # canonical px between the eye centres
CANVAS = (-130.0, -85.0, 130.0, 100.0)  # canonical x0, y0, x1, y1 (eye centres at (+-50, 0))
RIM_CENTRE_Y = 12.0  # canonical px: lenses sit a little below the eye centres
RADII = np.arange(18.0, 80.0, 0.5, dtype=np.float32)  # canonical px searched for the rim
ANGLES = 128  # polar samples around each eye
WIDTHS = (1.5, 2.5, 4.0, 6.0)  # line half-widths tested, canonical px
ORIENTATIONS = 8
ALONG_SIGMA = 2.5  # canonical px over which the line detector averages along the line
LOG_GAIN = 60.0  # line responses are in LOG_GAIN * log(grey + LOG_OFFSET) units (~0.6 per % contrast)
LOG_OFFSET = 16.0
BRIGHT_WEIGHT = 0.7  # lighter-than-surroundings lines (metal against dark hair) count this much
RESPONSE_CAP = 15.0  # a path sample scores at most this (one strong crossing must not carry a path)
MAX_STEP = 4  # radius rows a path may move between neighbouring angles
STEP_COST = 0.25  # score lost per radius row moved


@dataclass(frozen=True)
class Glasses:
    """A glasses frame cut out of the texture, drawn back each frame moved rigidly with the head.

    rgb: (h, w, 3) float32 colours of the frame's bounding box in the original texture; alpha: (h, w)
    float32 coverage in [0, 1] (1 on the frame, feathered at its edge); origin: (x0, y0) texture px of
    the box's top-left pixel; anchors: landmark indices whose rest -> posed motion moves the layer.
    """

    rgb: np.ndarray
    alpha: np.ndarray
    origin: tuple[int, int]
    anchors: tuple[int, ...]


def canonical_transform(points: np.ndarray) -> np.ndarray:
    """(2, 3) float64 affine from texture px to canonical canvas px (origin at the canvas's top-left),
    a similarity that puts the eye centres (means of the eye contours of points (478, 2+)) at
    (-50, 0) and (50, 0) canonical px."""
    right = points[list(tp.RIGHT_EYE_CONTOUR), :2].mean(axis=0)
    left = points[list(tp.LEFT_EYE_CONTOUR), :2].mean(axis=0)
    across = left - right
    scale = EYE_DISTANCE / max(float(np.linalg.norm(across)), 1e-6)
    angle = np.arctan2(across[1], across[0])
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    linear = np.array([[cos, sin], [-sin, cos]])
    offset = -linear @ (0.5 * (right + left)) - np.array(CANVAS[:2])
    return np.hstack([linear, offset[:, None]])


def _canvas_size() -> tuple[int, int]:
    return int(CANVAS[2] - CANVAS[0]), int(CANVAS[3] - CANVAS[1])


def _to_canvas(x: float, y: float) -> np.ndarray:
    """Canonical coordinates (eye centres at (+-50, 0)) -> canvas px."""
    return np.array([x - CANVAS[0], y - CANVAS[1]])


def log_grey(image: np.ndarray) -> np.ndarray:
    """(H, W) float32 log intensity of an RGB uint8 image (H, W, 3), in LOG_GAIN units, lightly blurred."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return cv2.GaussianBlur(LOG_GAIN * np.log(grey + LOG_OFFSET), (0, 0), 0.8)


def _along_kernel(theta: float, sigma: float) -> np.ndarray:
    """(S, S) float32 kernel averaging along direction theta (radians from +x): a Gaussian of sigma px
    along it, 0.5 px across it, summing to 1."""
    half = int(np.ceil(2.5 * sigma))
    ys, xs = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float32)
    along = xs * np.cos(theta) + ys * np.sin(theta)
    across = -xs * np.sin(theta) + ys * np.cos(theta)
    kernel = np.exp(-0.5 * (along / sigma) ** 2 - 0.5 * (across / 0.6) ** 2)
    return (kernel / kernel.sum()).astype(np.float32)


def line_response(grey: np.ndarray, widths: tuple[float, ...] = WIDTHS, along: float = ALONG_SIGMA
                  ) -> tuple[np.ndarray, np.ndarray]:
    """How much darker each pixel of grey (H, W) is than both its sides, along ORIENTATIONS line
    directions (k * 180 / ORIENTATIONS degrees from +x): (ORIENTATIONS, H, W) float32, maximum over
    half-widths (px) of min(side_a, side_b) - centre, after averaging grey along the line direction
    (Gaussian, along px), which keeps continuous lines and evens out skin texture; and the index into
    widths of that maximum (ORIENTATIONS, H, W) int8."""
    height, width = grey.shape
    best = np.full((ORIENTATIONS, height, width), -np.inf, np.float32)
    which = np.zeros((ORIENTATIONS, height, width), np.int8)
    for k in range(ORIENTATIONS):
        theta = np.pi * k / ORIENTATIONS
        smooth = cv2.filter2D(grey, -1, _along_kernel(theta, along), borderType=cv2.BORDER_REPLICATE)
        normal = np.array([-np.sin(theta), np.cos(theta)])
        for i, w in enumerate(widths):
            sides = [cv2.warpAffine(smooth, np.float32([[1, 0, s * w * normal[0]], [0, 1, s * w * normal[1]]]),
                                    (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                     for s in (1, -1)]
            response = np.minimum(sides[0], sides[1]) - smooth
            better = response > best[k]
            best[k][better] = response[better]
            which[k][better] = i
    return best, which


def _polar(response: np.ndarray, centre: np.ndarray, mirrored: bool) -> tuple[np.ndarray, np.ndarray]:
    """Line response sampled on circles around centre (canvas px): (len(RADII), ANGLES) float32 taking,
    at each sample, the best orientation within one step of the circle's tangent; and the sample
    positions (len(RADII), ANGLES, 2) canvas px. Angle j is 2 pi j / ANGLES from +x (y down); mirrored
    reflects it about the vertical (angle pi - theta), so both eyes index alike: 0 = towards the nose."""
    theta = 2 * np.pi * np.arange(ANGLES) / ANGLES
    theta = np.pi - theta if mirrored else theta
    xs = (centre[0] + np.cos(theta)[None] * RADII[:, None]).astype(np.float32)
    ys = (centre[1] + np.sin(theta)[None] * RADII[:, None]).astype(np.float32)
    tangent = np.round(((theta + np.pi / 2) % np.pi) / (np.pi / ORIENTATIONS)).astype(int) % ORIENTATIONS
    sampled = np.stack([cv2.remap(r, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                        for r in response])  # (K, R, A)
    columns = np.arange(ANGLES)
    out = np.full((len(RADII), ANGLES), -np.inf, np.float32)
    for dk in (-1, 0, 1):
        out = np.maximum(out, sampled[(tangent + dk) % ORIENTATIONS, :, columns].T)
    return out, np.stack([xs, ys], axis=-1)


def closed_path(score: np.ndarray, band: np.ndarray | None = None) -> np.ndarray:
    """Row index per column (ANGLES,) int of the best closed path through score (R, ANGLES): maximum
    total score less STEP_COST per row moved, at most MAX_STEP rows between neighbouring columns,
    first and last columns joined (solved over three turns, the middle one kept). band: optional
    (R, ANGLES) bool of allowed samples."""
    rows, columns = score.shape
    score = np.where(band, score, -1e6) if band is not None else score
    tiled = np.tile(score, (1, 3))
    total = tiled[:, 0].copy()
    back = np.zeros(tiled.shape, np.int32)
    index = np.arange(rows)
    for j in range(1, tiled.shape[1]):
        best = np.full(rows, -np.inf)
        arg = np.zeros(rows, np.int32)
        for step in range(-MAX_STEP, MAX_STEP + 1):
            source = np.clip(index + step, 0, rows - 1)
            value = total[source] - STEP_COST * abs(step)
            better = value > best
            best[better] = value[better]
            arg[better] = source[better]
        total = best + tiled[:, j]
        back[:, j] = arg
    path = np.zeros(tiled.shape[1], np.int32)
    path[-1] = int(np.argmax(total))
    for j in range(tiled.shape[1] - 1, 0, -1):
        path[j - 1] = back[path[j], j]
    return path[columns:2 * columns]
