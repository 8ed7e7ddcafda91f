"""The captured face's own neutral: its rest shape, estimated from the video itself.

Motion is relative: a person with a wide mouth or raised brows at rest must not make every portrait
grin or look surprised. The neutral is the median shape of the frames where the mouth is closest to
shut and the eyes are open, after aligning every frame's skull to a common reference, and it is
placed at the clip's mean head pose, so captured head angles are turns away from that mean.
"""

from __future__ import annotations

import numpy as np

from talkingface.face import topology as tp
from talkingface.face.geometry import RIGID_POINTS, mean_rotation, similarity_transform

NEUTRAL_SAMPLES = 400  # frames the estimate looks at (evenly spread over the clip)
CLOSED_SHARE = 0.25  # the share of those frames with the smallest mouth opening
_RIGID = list(RIGID_POINTS)
_LID_PAIRS = ((159, 145), (386, 374), (158, 153), (385, 380))


def _align(frames: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every frame (S, 478, 3) mapped onto reference (478, 3) by the similarity of its rigid points:
    aligned frames (S, 478, 3), rotations (S, 3, 3) and scales (S,) of frame = scale * ref @ R.T + t."""
    aligned, rotations, scales = [], [], []
    for points in frames:
        matrix, offset = similarity_transform(points[_RIGID], reference[_RIGID])
        aligned.append(points @ matrix.T + offset)
        scale = float(np.cbrt(np.linalg.det(matrix)))
        rotations.append((matrix / scale).T)  # rotation taking the reference to the frame
        scales.append(1.0 / scale)
    return np.stack(aligned), np.stack(rotations), np.asarray(scales)


def _gaps(points: np.ndarray, pairs: tuple[tuple[int, int], ...]) -> np.ndarray:
    """(S,) mean 3D distance between landmark pairs, for frames (S, 478, 3)."""
    return np.mean([np.linalg.norm(points[:, a] - points[:, b], axis=-1) for a, b in pairs], axis=0)


def evenly_spread(indices: np.ndarray, count: int = NEUTRAL_SAMPLES) -> np.ndarray:
    """Up to `count` of `indices` (K,), evenly spread over them (all of them when there are fewer)."""
    return indices[np.linspace(0, len(indices) - 1, min(len(indices), count)).round().astype(int)]


def estimate_neutral(frames: np.ndarray) -> np.ndarray:
    """Neutral landmarks (478, 3) in frame pixels from tracked frames (S, 478, 3) (no NaN).

    The skulls are aligned to a reference (the mean of all frames aligned to the first, twice); the
    frames whose mouth opening is in the lowest CLOSED_SHARE and whose eyes are at least as open as
    the median frame's give the median shape, which is then turned to the clip's mean rotation and
    placed at its mean scale and position.
    """
    frames = np.asarray(frames, np.float64)
    frames = frames[evenly_spread(np.arange(len(frames)))]
    reference = frames[0]
    for _ in range(2):
        aligned, rotations, scales = _align(frames, reference)
        reference = aligned.mean(axis=0)
    iod = np.linalg.norm(aligned[:, 263] - aligned[:, 33], axis=-1)
    opening = _gaps(aligned, tp.INNER_LIP_PAIRS) / iod
    eyes = _gaps(aligned, _LID_PAIRS) / iod
    closed = opening <= np.quantile(opening, CLOSED_SHARE)
    chosen = closed & (eyes >= np.median(eyes[closed]))
    neutral = np.median(aligned[chosen if chosen.any() else closed], axis=0)
    centre = neutral[_RIGID].mean(axis=0)
    turned = (neutral - centre) @ mean_rotation(rotations).T * float(np.mean(scales))
    placed = frames[:, _RIGID].mean(axis=(0, 1))
    return (turned + placed).astype(np.float32)
