"""Two layers of the rendered region: the moving person and the still background behind it.

The person (head, hair, neck, body) is warped by the face rig; the background never moves. Where the
warped person no longer covers a pixel, the background plate shows: the portrait with the person
removed and the hole filled from the surrounding background. So a turning head reveals background
instead of dragging it along in streaks.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from talkingface.face import topology as tp

PLATE_WORK_SIDE = 160  # px: the hole behind the person is filled at this resolution, then upsampled
ALPHA_FLOOR, ALPHA_CEILING = 0.2, 0.8  # segmentation confidences mapped to coverage 0 and 1
FACE_HULL_SCALE = 1.08  # the face oval, enlarged about its centre, always belongs to the person


@dataclass(frozen=True)
class Layers:
    """alpha: (H, W) float32 person coverage in [0, 1]; plate: (H, W, 3) uint8 background with the
    person filled in from its surroundings (equal to the texture where alpha is ~0)."""

    alpha: np.ndarray
    plate: np.ndarray


def person_alpha(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Person coverage (H, W) float32: the segmentation mask (H, W) united with the face oval of the
    landmarks (478, 3) px, so the face itself is never treated as background."""
    oval = points[list(tp.FACE_OVAL), :2]
    centre = oval.mean(axis=0)
    hull = np.zeros(mask.shape, np.uint8)
    polygon = np.round((centre + FACE_HULL_SCALE * (oval - centre)) * 16).astype(np.int32)
    cv2.fillPoly(hull, [polygon], 255, cv2.LINE_AA, 4)
    solid = np.clip((mask.astype(np.float32) - ALPHA_FLOOR) / (ALPHA_CEILING - ALPHA_FLOOR), 0.0, 1.0)
    return np.maximum(solid, hull.astype(np.float32) / 255.0)


def background_plate(texture: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The texture (H, W, 3) uint8 with the person (alpha (H, W) > ~0) replaced by a smooth fill
    of the background around it (inpainted at low resolution)."""
    height, width = alpha.shape
    margin = max(3, int(0.02 * max(height, width)))
    hole = cv2.dilate((alpha > 0.03).astype(np.uint8), np.ones((margin, margin), np.uint8))
    if not hole.any():
        return texture.copy()
    if hole.all():  # no background visible at all: the best guess is the mean border colour
        border = np.concatenate([texture[0], texture[-1], texture[:, 0], texture[:, -1]])
        return np.broadcast_to(border.mean(axis=0).astype(np.uint8), texture.shape).copy()
    scale = min(1.0, PLATE_WORK_SIDE / max(height, width))
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    small = cv2.resize(texture, size, interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole, size, interpolation=cv2.INTER_NEAREST)
    small_hole = cv2.dilate(small_hole, np.ones((3, 3), np.uint8))
    filled = cv2.inpaint(small, small_hole, 3, cv2.INPAINT_TELEA)
    filled = cv2.GaussianBlur(filled, (0, 0), 1.5)
    fill = cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR)
    # the fill covers the person and fades into the texture over the margin around it, so no trace of
    # the person's soft edge (a faint outline) stays behind when the head moves away
    weight = cv2.GaussianBlur(hole.astype(np.float32), (0, 0), margin / 2.0)
    weight = np.maximum(np.clip(2.0 * weight - 0.5, 0.0, 1.0), (alpha > 0.03).astype(np.float32))
    blended = texture + weight[..., None] * (fill.astype(np.float32) - texture)
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def build_layers(texture: np.ndarray, mask: np.ndarray, points: np.ndarray) -> Layers:
    """Layers of a region: texture (H, W, 3) uint8, person mask (H, W) float32, landmarks (478, 3) px."""
    alpha = person_alpha(mask, points)
    return Layers(alpha=alpha, plate=background_plate(texture, alpha))


def silhouette_distance(alpha: np.ndarray, origins: np.ndarray, units: np.ndarray, limits: np.ndarray,
                        threshold: float = 0.5) -> np.ndarray:
    """Distance (K,) px from each origin (K, 2) along its unit direction (K, 2) to where the person
    alpha (H, W) first drops below threshold, searched up to limits (K,) px (returned if never)."""
    height, width = alpha.shape
    steps = np.arange(0.0, float(limits.max()) + 1.0, 1.0, dtype=np.float32)
    xs = np.clip(np.round(origins[:, None, 0] + units[:, None, 0] * steps), 0, width - 1).astype(int)
    ys = np.clip(np.round(origins[:, None, 1] + units[:, None, 1] * steps), 0, height - 1).astype(int)
    outside = (alpha[ys, xs] < threshold) | (steps[None, :] >= limits[:, None])
    first = np.argmax(outside, axis=1)
    return np.minimum(steps[first], limits).astype(np.float32)


def composite(person: np.ndarray, alpha: np.ndarray, plate: np.ndarray) -> np.ndarray:
    """Warped person (H, W, 3) uint8 over the plate (H, W, 3) uint8 with coverage alpha (H, W) float32."""
    weight = np.clip(alpha, 0.0, 1.0)
    return cv2.blendLinear(person, plate, weight, 1.0 - weight)
