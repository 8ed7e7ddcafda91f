"""Choose, while the video is tracked, the frame whose own mouth interior the dub will show.

A talking video shows its speaker's teeth far better than any synthesis: the frame where the mouth is
open moderately wide, the face is frontal and the interior holds the most tooth-bright pixels becomes
the reference (one for the whole video, so the interior never flickers). A video whose mouth never
opens with teeth in view gets the synthetic interior, coloured from a closed-mouth frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from talkingface.dub.lowerface import MouthInterior, lip_colour
from talkingface.face import topology as tp
from talkingface.render.mouth import mouth_palette, own_mouth
from talkingface.render.rig import mouth_is_open

EVERY = 3  # look at every n-th frame with a face (the choice needs no more)
OPENING_RANGE = (0.12, 0.5)  # inner-lip gap / mouth width of a usable reference
MIN_TEETH_SHARE = 0.08  # share of the opening that must be tooth-bright to reuse the video's own
_CHEEKS = [205, 50, 187, 425, 280, 411]
_GAP_PAIRS = tp.INNER_LIP_PAIRS


def _opening_ratio(points: np.ndarray) -> float:
    """Inner-lip gap / mouth width, 2D."""
    width = float(np.linalg.norm(points[tp.MOUTH_LEFT_CORNER, :2] - points[tp.MOUTH_RIGHT_CORNER, :2]))
    gap = np.mean([np.linalg.norm(points[a, :2] - points[b, :2]) for a, b in _GAP_PAIRS])
    return float(gap / max(width, 1.0))


def _frontal(points: np.ndarray) -> float:
    """1 for a face looking at the camera, falling towards 0 as it turns (nose off the eyes' middle)."""
    middle = 0.5 * (points[133, 0] + points[362, 0])
    iod = max(abs(points[263, 0] - points[33, 0]), 1.0)
    return float(np.clip(1.0 - 2.0 * abs(points[tp.NOSE_TIP, 0] - middle) / iod, 0.0, 1.0))


def teeth_share(image: np.ndarray, points: np.ndarray) -> float:
    """Share of the pixels inside the inner-lip contour that are tooth-bright (luma above 85 % of
    the cheeks' and low in saturation), for image (H, W, 3) uint8 and landmarks (478, 3) px."""
    contour = np.rint(points[list(tp.INNER_LIP_CONTOUR), :2]).astype(np.int32)
    x0, y0 = np.maximum(contour.min(axis=0), 0)
    x1, y1 = np.minimum(contour.max(axis=0) + 1, (image.shape[1], image.shape[0]))
    if x1 - x0 < 3 or y1 - y0 < 3:
        return 0.0
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [contour - (x0, y0)], 1)
    inside = image[y0:y1, x0:x1][mask > 0].astype(np.float32)
    if inside.size == 0:
        return 0.0
    cheeks = image[np.clip(np.rint(points[_CHEEKS, 1]).astype(int), 0, image.shape[0] - 1),
                   np.clip(np.rint(points[_CHEEKS, 0]).astype(int), 0, image.shape[1] - 1)].astype(np.float32)
    skin = float((cheeks @ np.array([0.299, 0.587, 0.114])).mean())
    luma = inside @ np.array([0.299, 0.587, 0.114], np.float32)
    spread = inside.max(axis=1) - inside.min(axis=1)
    bright = (luma > 0.85 * skin) & (spread < 0.35 * np.maximum(luma, 1.0))
    return float(bright.mean())


class InteriorPicker:
    """A frame hook (``see``) that keeps the best reference frame; ``interior()`` then builds the
    MouthInterior. Holds at most two frames."""

    def __init__(self) -> None:
        self._seen = 0
        self._best: tuple[float, np.ndarray, np.ndarray] | None = None  # score, image, points
        self._closed: tuple[np.ndarray, np.ndarray] | None = None
        self.teeth_share = 0.0

    def see(self, index: int, time_s: float, image: np.ndarray, points: np.ndarray | None) -> None:
        if points is None:
            return
        self._seen += 1
        if self._closed is None or (mouth_is_open(self._closed[1]) and not mouth_is_open(points)):
            self._closed = (image.copy(), points.copy())  # the first frame, then the first closed one
        if self._seen % EVERY:
            return
        ratio = _opening_ratio(points)
        if not OPENING_RANGE[0] <= ratio <= OPENING_RANGE[1]:
            return
        share = teeth_share(image, points)
        score = share * _frontal(points) * min(ratio / 0.25, 1.0)
        if share >= MIN_TEETH_SHARE and (self._best is None or score > self._best[0]):
            self._best = (score, image.copy(), points.copy())
            self.teeth_share = share

    def interior(self) -> MouthInterior:
        """The interior the dub draws: the best reference frame's own teeth, else synthetic."""
        if self._best is not None:
            _, image, points = self._best
            palette = mouth_palette(image, points)
            return MouthInterior(palette=palette, own=own_mouth(image, points, palette),
                                 lips=lip_colour(image, points))
        if self._closed is None:
            raise ValueError("no frame with a face was seen")
        image, points = self._closed
        return MouthInterior(palette=mouth_palette(image, points), own=None, lips=lip_colour(image, points))
