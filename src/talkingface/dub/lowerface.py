"""Re-lip one video frame: warp its lower face from the mouth it shows to the new one.

The face's rig (``render.rig``, built on the video's own neutral face) explains each frame through
its captured parameters. Posed twice at the frame's head pose, once with the frame's own mouth and
once with the new mouth, its vertices give a displacement; the frame's tracked landmarks moved by it
are the new face, and every pixel of the lower face is taken back from the frame itself through that
mesh (the rasterizer's backward map). Only triangles that move (and the mouth opening) are drawn, in
a box around them; every other pixel of the frame stays bit-identical, and the warp is continuous,
so there is no seam. Through the opened lips a mouth interior is drawn: the video's own teeth, cut
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
from talkingface.render.mouth import MouthPalette, OwnMouth, draw_mouth_interior, draw_own_interior
from talkingface.render.raster import identity_map, rasterize
from talkingface.render.rig import LABEL_MOUTH, Rig, pose_vertices

N = tp.NUM_LANDMARKS
MOUTH_PARAMETERS = LIP_PARAMETERS + ("mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight")
"""What a dub changes: the lips and jaw (LIP_PARAMETERS), and the mouth corners an emotion moves."""
MIN_MOVE_PX = 0.02  # vertices displaced less than this (px) count as still
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


class LowerFaceWarp:
    """Re-lips frames of one face; build once per video (rig: built on the face's neutral at the
    video's resolution; interior: what the opened lips show)."""

    def __init__(self, rig: Rig, interior: MouthInterior) -> None:
        self.rig = rig
        self.interior = interior
        self._mouth_triangles = rig.labels == LABEL_MOUTH

    def apply(self, frame: np.ndarray, points: np.ndarray, original: np.ndarray, new: np.ndarray) -> bool:
        """Re-lip frame (H, W, 3) uint8 in place from its own mouth (captured parameters original (P,)
        and landmarks points (478, 3) px) to the mouth of parameters new (P,). Returns whether any
        pixel may have changed."""
        posed = pose_vertices(self.rig, original)
        shift = pose_vertices(self.rig, new) - posed
        source = posed
        source[:N] = points
        target = source + shift
        moving = np.abs(shift[:, :2]).max(axis=1) > MIN_MOVE_PX
        chosen = moving[self.rig.triangles].any(axis=1) | self._mouth_triangles
        triangles = np.ascontiguousarray(self.rig.triangles[chosen])
        box = _box(np.concatenate([source[triangles.ravel(), :2], target[triangles.ravel(), :2]]),
                   frame.shape[1], frame.shape[0])
        if box is None:
            return False
        x0, y0, x1, y1 = box
        origin = np.array([x0, y0, 0.0], np.float32)
        source, target = (source - origin).astype(np.float32), (target - origin).astype(np.float32)
        identity = identity_map(y1 - y0, x1 - x0)
        texture_map = identity.copy()
        label = np.full((y1 - y0, x1 - x0), -1, np.int8)
        depth = np.full((y1 - y0, x1 - x0), -np.inf, np.float32)
        rasterize(triangles, np.ascontiguousarray(target[:, :2]), np.ascontiguousarray(-target[:, 2]),
                  np.ascontiguousarray(source[:, :2]), self.rig.labels[chosen], texture_map, label, depth)
        window = frame[y0:y1, x0:x1]
        warped = cv2.remap(window, texture_map, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        opening = label == LABEL_MOUTH
        if opening.any():
            self.interior.draw(warped, opening, target, lip_colour(frame, points))
        moved = cv2.absdiff(texture_map, identity)
        changed = (np.maximum(moved[..., 0], moved[..., 1]) > 1e-3) | opening
        changed = cv2.dilate(changed.view(np.uint8), np.ones((3, 3), np.uint8))
        cv2.copyTo(warped, changed, window)
        return True


def _box(xy: np.ndarray, width: int, height: int) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) px around points xy (K, 2), 3 px padded, inside the frame; None if empty."""
    if xy.size == 0:
        return None
    x0, y0 = np.maximum(np.floor(xy.min(axis=0)).astype(int) - 3, 0)
    x1, y1 = np.minimum(np.ceil(xy.max(axis=0)).astype(int) + 4, (width, height))
    if x1 <= x0 or y1 <= y0:
        return None
    return int(x0), int(y0), int(x1), int(y1)
