"""Re-lip one video frame: warp its lower face from the mouth it shows to the new one.

The face's rig (``render.rig``, built on the video's own neutral face) explains each frame through
its captured parameters. Posed twice at the frame's head pose, once with the frame's own mouth and
once with the new mouth, its vertices give a displacement; the frame's tracked landmarks moved by it
are the new face, and every pixel of the lower face is taken back from the frame itself through that
mesh (the rasterizer's backward map). Around the mouth the frame's own departure from the rig is
swapped for the face's resting one (MouthResidual), so none of the old mouth is left behind; the
rings outside the face oval never move (neck, body and background stay). Only triangles that move
are drawn, in a box around them; every other pixel of the frame stays bit-identical, and the warp is
continuous, so there is no seam. Through the opened lips a mouth interior is drawn: the video's own teeth, cut
from one of its frames where they show (the same reference for every frame, so nothing flickers), or
else the synthetic interior, both shaded per frame by the frame's own lip colour.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from talkingface.face import topology as tp
from talkingface.motion.lips import LIP_PARAMETERS
from talkingface.motion.params import PARAMETER_INDEX
from talkingface.render.mouth import (
    MouthPalette,
    OwnMouth,
    draw_mouth_interior,
    draw_own_interior,
)
from talkingface.render.raster import identity_map, rasterize
from talkingface.render.rig import LABEL_MOUTH, RING_COUNT, Rig, pose_vertices

N = tp.NUM_LANDMARKS
MOUTH_PARAMETERS = LIP_PARAMETERS + ("mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight")
"""What a dub changes: the lips and jaw (LIP_PARAMETERS), and the mouth corners an emotion moves."""
MIN_MOVE_PX = 0.1  # vertices displaced less than this (px) stay where they are (the rig's
# jaw falls off smoothly up to the eyes: a hundredth of a pixel there is no change worth drawing)
GAIN_RANGE = (0.6, 1.6)  # per-channel colour gain of the interior from frame to frame
_LIP_MIDDLE = (list(tp.LIPS_UPPER_OUTER[2:-2] + tp.LIPS_LOWER_OUTER[2:-2]),
               list(tp.LIPS_UPPER_INNER[2:-2] + tp.LIPS_LOWER_INNER[2:-2]))


def lip_colour(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(3,) float32 median RGB of the lips (halfway between their outer and inner contours) in image
    (H, W, 3) uint8 with landmarks (478, 3) px."""
    xy = 0.5 * (points[_LIP_MIDDLE[0], :2] + points[_LIP_MIDDLE[1], :2])
    height, width = image.shape[:2]
    cols = np.clip(np.rint(xy[:, 0]).astype(int), 0, width - 1)
    rows = np.clip(np.rint(xy[:, 1]).astype(int), 0, height - 1)
    return np.median(image[rows, cols].astype(np.float32), axis=0)


@dataclass(frozen=True)
class MouthInterior:
    """What the opened lips show: own (the video's own teeth, from one of its frames) or None (the
    synthetic interior from palette); lips: (3,) the reference frame's lip colour, against which each
    frame's interior is shaded."""

    palette: MouthPalette
    own: OwnMouth | None
    lips: np.ndarray

    def draw(self, canvas: np.ndarray, opening: np.ndarray, vertices: np.ndarray, lips: np.ndarray) -> None:
        """Paint the interior into canvas (h, w, 3) uint8 where opening (h, w) bool is set; vertices:
        the posed rig (N, 3) in canvas px; lips: (3,) this frame's lip colour."""
        gain = np.clip(lips / np.maximum(self.lips, 1.0), *GAIN_RANGE).astype(np.float32)
        if self.own is not None:
            own = replace(self.own, upper=_tinted(self.own.upper, gain), lower=_tinted(self.own.lower, gain),
                          palette=_tinted_palette(self.own.palette, gain))
            draw_own_interior(canvas, opening, vertices, own)
        else:
            draw_mouth_interior(canvas, opening, vertices, _tinted_palette(self.palette, gain))


def _tinted(layer: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """An RGBA layer (h, w, 4) float32 with its colour scaled by gain (3,)."""
    out = layer.copy()
    out[..., :3] *= gain
    return out


def _tinted_palette(palette: MouthPalette, gain: np.ndarray) -> MouthPalette:
    return replace(palette, cavity=palette.cavity * gain, teeth=np.minimum(palette.teeth * gain, 250.0),
                   tongue=palette.tongue * gain, gum=palette.gum * gain, inner_lip=palette.inner_lip * gain)


MOUTH_COLUMNS = np.array([PARAMETER_INDEX[name] for name in MOUTH_PARAMETERS])
_REPLACED = np.array([name in LIP_PARAMETERS for name in MOUTH_PARAMETERS])


def mouth_parameters(original: np.ndarray, new_mouth: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """A frame's parameters (P,) with the new mouth: original (P,) the frame's captured (raw)
    parameters; new_mouth (len(MOUTH_PARAMETERS),) the new mouth, relative to rest (as generated
    motion is); rest (len(MOUTH_PARAMETERS),) the face's resting level of those raw coefficients.
    The lips and jaw are replaced; the corners' smile and frown (the original's expression) get the
    new motion's added on top (an emotion asked for)."""
    params = original.astype(np.float32).copy()
    mouth = params[MOUTH_COLUMNS]
    params[MOUTH_COLUMNS] = np.where(_REPLACED, rest + new_mouth, mouth + new_mouth)
    return params


@dataclass(frozen=True)
class Relip:
    """One frame's re-lip, planned: box (x0, y0, x1, y1) the frame region it touches (even corners);
    triangles (M, 3) int32 and labels (M,) int8 of the moving part of the mesh; source, target (N, 3)
    float32 vertices in box px, where each vertex is in the frame and where it goes; lips (3,) the
    frame's lip colour."""

    box: tuple[int, int, int, int]
    triangles: np.ndarray
    labels: np.ndarray
    source: np.ndarray
    target: np.ndarray
    lips: np.ndarray


CLOSED_SHARE = 0.25  # frames with the mouth this closed show the face's own lip shape at rest
_LIP_LANDMARKS = sorted(set(tp.LIPS_UPPER_OUTER + tp.LIPS_LOWER_OUTER + tp.LIPS_UPPER_INNER + tp.LIPS_LOWER_INNER))


@dataclass(frozen=True)
class MouthResidual:
    """How the face's tracked landmarks depart from its fitted rig at rest: rest (478, 3) px, the
    median residual (landmarks minus posed rig) over its most closed frames, and weight (478,) in
    [0, 1], where a frame's own residual is replaced by it (1 on the lips, fading out over the mouth
    region and the jaw).

    The rig fitted to a frame under-reads its mouth's opening (by about a third, mocap.calibrate), so a
    frame's landmarks minus its posed rig keep part of the old mouth; moved by the rig's displacement
    alone, the lips would still half-speak the old line. Around the mouth the frame's residual is
    therefore swapped for the resting one."""

    rest: np.ndarray
    weight: np.ndarray


def mouth_residual(rig: Rig, points: np.ndarray, values: np.ndarray) -> MouthResidual:
    """The MouthResidual of a face from frames: landmarks points (S, 478, 3) px and their raw captured
    parameters values (S, P)."""
    residual = np.stack([p - pose_vertices(rig, v)[:N] for p, v in zip(points, values)])
    gaps = np.mean([np.linalg.norm(points[:, a, :2] - points[:, b, :2], axis=-1) for a, b in tp.INNER_LIP_PAIRS],
                   axis=0)
    closed = gaps <= np.quantile(gaps, CLOSED_SHARE)
    rest = np.median(residual[closed], axis=0)
    lips = rig.rest[_LIP_LANDMARKS, :2]
    centre = lips.mean(axis=0)
    width = float(np.ptp(lips[:, 0]))
    distance = np.linalg.norm(rig.rest[:N, :2] - centre, axis=1)
    weight = np.maximum(np.exp(-0.5 * (distance / (0.45 * width)) ** 2), rig.jaw_weight[:N])
    weight[_LIP_LANDMARKS] = 1.0
    return MouthResidual(rest=rest.astype(np.float32), weight=np.clip(weight, 0.0, 1.0).astype(np.float32))


class LowerFaceWarp:
    """Re-lips frames of one face; build once per video (rig: built on the face's neutral at the
    video's resolution; interior: what the opened lips show; residual: the face's MouthResidual, or
    None to move the landmarks by the rig's displacement alone)."""

    def __init__(self, rig: Rig, interior: MouthInterior, residual: MouthResidual | None = None) -> None:
        self.rig = rig
        self.interior = interior
        self.residual = residual
        # the rings outside the face oval stay: their triangles reach the neck, the body and the
        # background (down to the frame's border), which a dub leaves alone; the band between the face
        # oval and the first ring (a few % of a face height) takes up the chin's movement
        ring = (len(rig.rest) - N - 3) // RING_COUNT
        self._still = np.zeros(len(rig.rest), bool)
        self._still[N:N + RING_COUNT * ring] = True
        self._identity = identity_map(1, 1)

    def plan(self, points: np.ndarray, original: np.ndarray, new: np.ndarray, size: tuple[int, int],
             lips: np.ndarray) -> Relip | None:
        """Plan the re-lip of a frame of size (width, height) px from its own mouth (captured
        parameters original (P,), landmarks points (478, 3) px) to the mouth of parameters new (P,);
        lips: (3,) the frame's lip colour (lip_colour). None when nothing moves."""
        posed = pose_vertices(self.rig, original)
        shift = pose_vertices(self.rig, new) - posed
        if self.residual is not None:  # the frame's own residual around the mouth -> the resting one
            own = points - posed[:N]
            shift[:N] -= self.residual.weight[:, None] * (own - self.residual.rest)
        moving = (np.abs(shift[:, :2]).max(axis=1) > MIN_MOVE_PX) & ~self._still
        shift[~moving] = 0.0
        chosen = moving[self.rig.triangles].any(axis=1)  # the mouth's fan too, once its lips move
        if not chosen.any():
            return None
        source = posed
        source[:N] = points
        target = source + shift
        triangles = np.ascontiguousarray(self.rig.triangles[chosen])
        corners = np.concatenate([source[triangles.ravel(), :2], target[triangles.ravel(), :2]])
        box = _box(corners, *size)
        if box is None:
            return None
        origin = np.array([box[0], box[1], 0.0], np.float32)
        return Relip(box=box, triangles=triangles, labels=self.rig.labels[chosen],
                     source=(source - origin).astype(np.float32), target=(target - origin).astype(np.float32),
                     lips=lips)

    def draw(self, relip: Relip, window: np.ndarray) -> np.ndarray:
        """Re-lip window (h, w, 3) uint8 RGB, the frame's relip.box region, in place; returns the
        (h, w) uint8 mask of the pixels that may have changed."""
        height, width = window.shape[:2]
        if self._identity.shape[0] < height or self._identity.shape[1] < width:
            self._identity = identity_map(max(height, self._identity.shape[0]), max(width, self._identity.shape[1]))
        identity = self._identity[:height, :width]
        texture_map = identity.copy()
        label = np.full((height, width), -1, np.int8)
        depth = np.full((height, width), -np.inf, np.float32)
        rasterize(relip.triangles, np.ascontiguousarray(relip.target[:, :2]),
                  np.ascontiguousarray(-relip.target[:, 2]), np.ascontiguousarray(relip.source[:, :2]),
                  relip.labels, texture_map, label, depth)
        warped = cv2.remap(window, texture_map, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        opening = label == LABEL_MOUTH
        if opening.any():
            self.interior.draw(warped, opening, relip.target, relip.lips)
        moved = cv2.absdiff(texture_map, identity)
        changed = (np.maximum(moved[..., 0], moved[..., 1]) > 1e-3) | opening
        changed = cv2.dilate(changed.view(np.uint8), np.ones((3, 3), np.uint8))
        cv2.copyTo(warped, changed, window)
        return changed

    def apply(self, frame: np.ndarray, points: np.ndarray, original: np.ndarray, new: np.ndarray) -> bool:
        """Re-lip an RGB frame (H, W, 3) uint8 in place (plan + draw); returns whether anything moved."""
        relip = self.plan(points, original, new, (frame.shape[1], frame.shape[0]), lip_colour(frame, points))
        if relip is None:
            return False
        x0, y0, x1, y1 = relip.box
        self.draw(relip, frame[y0:y1, x0:x1])
        return True


def _box(xy: np.ndarray, width: int, height: int) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) px around points xy (K, 2), 3 px padded, inside the frame, with even corners
    (whole 4:2:0 chroma blocks); None if empty."""
    if xy.size == 0:
        return None
    x0, y0 = np.maximum(np.floor(xy.min(axis=0)).astype(int) - 3, 0) // 2 * 2
    x1, y1 = np.minimum((np.ceil(xy.max(axis=0)).astype(int) + 5) // 2 * 2, (width // 2 * 2, height // 2 * 2))
    if x1 <= x0 or y1 <= y0:
        return None
    return int(x0), int(y0), int(x1), int(y1)
