"""Irises drawn over the eye openings, so gaze moves the iris without stretching the eye.

At preparation, each iris is cut out of the portrait as a small patch (the part the lids hid is
completed by mirroring) and its place in the texture is filled with the sclera's colour. Every frame,
the patch is drawn centred on the posed iris landmarks, clipped to the pixels the rasterizer marked as
eye opening, so the lids cover it as they close and the sclera shows where it was.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from talkingface.face import topology as tp

EYES = ((tp.RIGHT_IRIS, tp.RIGHT_EYE_CONTOUR), (tp.LEFT_IRIS, tp.LEFT_EYE_CONTOUR))
PATCH_MARGIN = 1.25  # patch half-side in iris radii
MIN_IRIS_RADIUS_PX = 1.5  # smaller irises are left in the texture (nothing to gain, only aliasing)


@dataclass(frozen=True)
class Iris:
    """One eye's iris: patch (S, S, 3) float32 colour and alpha (S, S) float32 coverage, centred on
    the iris centre; radius: iris radius px at rest; landmarks: the 5 iris landmark indices."""

    patch: np.ndarray
    alpha: np.ndarray
    radius: float
    landmarks: tuple[int, ...]


def _polygon_mask(shape: tuple[int, int], polygon: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(polygon * 16).astype(np.int32)], 1, cv2.LINE_AA, 4)
    return mask > 0


def iris_radius(points: np.ndarray, iris: tuple[int, ...]) -> float:
    """Iris radius px from the centre landmark and its 4 rim landmarks (rows of points (N, 2+))."""
    return float(np.mean(np.linalg.norm(points[list(iris[1:]), :2] - points[iris[0], :2], axis=1)))


def _cut_iris(texture: np.ndarray, opening: np.ndarray, centre: np.ndarray, radius: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """Patch (S, S, 3) float32 and alpha (S, S) of the iris around centre; the parts the lids hid
    (outside opening (H, W) bool) are mirrored from the other half, or failing that, its mean colour."""
    half = int(np.ceil(PATCH_MARGIN * radius)) + 1
    side = 2 * half + 1
    offsets = np.arange(side, dtype=np.float32) - half
    xs = (centre[0] + offsets)[None, :].repeat(side, 0)
    ys = (centre[1] + offsets)[:, None].repeat(side, 1)
    patch = cv2.remap(texture, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    visible = cv2.remap(opening.astype(np.float32), xs, ys, cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_CONSTANT) > 0.99
    distance = np.hypot(*np.meshgrid(offsets, offsets))
    inside = distance <= radius
    mirrored = visible[::-1]
    fill = inside & ~visible & mirrored
    patch[fill] = patch[::-1][fill]
    known = inside & (visible | mirrored)
    if known.any():
        patch[inside & ~known] = patch[known].mean(axis=0)
    alpha = np.clip(radius + 1.5 - distance, 0.0, 1.0).astype(np.float32)  # covers the filled disc
    return patch, alpha


def _sclera_colour(texture: np.ndarray, opening: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    """Median colour (3,) of the brightest tenth of the eye opening beside the iris (away from the
    lid margins)."""
    inner = cv2.erode(opening.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    ys, xs = np.nonzero(inner if inner.sum() >= 8 else opening)
    beside = (np.hypot(xs - centre[0], ys - centre[1]) > 1.15 * radius) & (np.abs(ys - centre[1]) < 0.6 * radius)
    pixels = texture[ys[beside], xs[beside]].astype(np.float32)
    if len(pixels) < 4:
        return np.full(3, 200.0, np.float32)
    luma = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.median(pixels[luma >= np.percentile(luma, 90)], axis=0)


def prepare_irises(texture: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, tuple[Iris, ...]]:
    """Cut both irises out of texture (H, W, 3) uint8 given landmarks (478, 3) px.

    Returns the texture with each iris's visible part replaced by sclera colour (darker under the upper
    lid), and the irises to draw back each frame.
    """
    texture = texture.copy()
    irises = []
    for iris, contour in EYES:
        centre, radius = points[iris[0], :2], iris_radius(points, iris)
        if radius < MIN_IRIS_RADIUS_PX:
            continue
        opening = _polygon_mask(texture.shape[:2], points[list(contour), :2])
        if not opening.any():
            continue
        patch, alpha = _cut_iris(texture, opening, centre, radius)
        _fill_sclera(texture, opening, centre, radius, _sclera_colour(texture, opening, centre, radius))
        irises.append(Iris(patch=patch, alpha=alpha, radius=radius, landmarks=iris))
    return texture, tuple(irises)


def _fill_sclera(texture: np.ndarray, opening: np.ndarray, centre: np.ndarray, radius: float,
                 colour: np.ndarray) -> None:
    """Paint the iris disc inside the opening with the sclera beside it: each row interpolates between
    the sclera just left and right of the iris (keeping the lids' shading), or the sclera colour where
    a row has no visible sclera beside the iris."""
    height, width = opening.shape
    x0, x1 = max(int(centre[0] - 2 * radius), 0), min(int(centre[0] + 2 * radius) + 1, width)
    y0, y1 = max(int(centre[1] - 2 * radius), 0), min(int(centre[1] + 2 * radius) + 1, height)
    if x0 >= x1 or y0 >= y1:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    reach = 1.3 * radius + 1.0
    left, left_ok = _beside(texture, opening, centre[0] - reach, y0, y1)
    right, right_ok = _beside(texture, opening, centre[0] + reach, y0, y1)
    t = np.clip((xs - (centre[0] - reach)) / (2 * reach), 0.0, 1.0)[..., None]
    left = np.where(left_ok[:, None], left, np.where(right_ok[:, None], right, colour))
    right = np.where(right_ok[:, None], right, left)
    sigma = max(0.3 * radius, 0.8)  # smooth along the rows: lashes and noise would make stripes
    left = cv2.GaussianBlur(left[:, None, :], (1, 0), sigmaX=0.1, sigmaY=sigma)[:, 0]
    right = cv2.GaussianBlur(right[:, None, :], (1, 0), sigmaX=0.1, sigmaY=sigma)[:, 0]
    fill = left[:, None, :] * (1 - t) + right[:, None, :] * t
    disc = np.clip(radius + 1.5 - np.hypot(xs - centre[0], ys - centre[1]), 0.0, 1.0)
    weight = (disc * opening[y0:y1, x0:x1])[..., None]
    region = texture[y0:y1, x0:x1].astype(np.float32)
    texture[y0:y1, x0:x1] = np.clip(region + weight * (fill - region), 0, 255).astype(np.uint8)


def _beside(texture: np.ndarray, opening: np.ndarray, x: float, y0: int, y1: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """Colours (R, 3) float32 at column x for rows y0..y1-1 (3-px horizontal average), and whether
    each lies inside the opening (R,) bool."""
    column = round(x)
    if not 1 <= column < texture.shape[1] - 1:
        return np.zeros((y1 - y0, 3), np.float32), np.zeros(y1 - y0, bool)
    colours = texture[y0:y1, column - 1:column + 2].astype(np.float32).mean(axis=1)
    inside = opening[y0:y1, column - 1:column + 2].all(axis=1)
    return colours, inside


def draw_irises(frame: np.ndarray, opening: np.ndarray, vertices: np.ndarray, irises: tuple[Iris, ...]) -> None:
    """Draw each iris into frame (H, W, 3) uint8 in place at its posed landmarks (vertices (N, 3) px),
    clipped to opening (H, W) bool, the pixels showing the eyeball."""
    height, width = opening.shape
    for iris in irises:
        centre = vertices[iris.landmarks[0], :2]
        scale = iris_radius(vertices, iris.landmarks) / iris.radius
        half = (iris.patch.shape[0] // 2) * scale
        x0, x1 = max(int(np.floor(centre[0] - half)), 0), min(int(np.ceil(centre[0] + half)) + 1, width)
        y0, y1 = max(int(np.floor(centre[1] - half)), 0), min(int(np.ceil(centre[1] + half)) + 1, height)
        if x0 >= x1 or y0 >= y1:
            continue
        clip = opening[y0:y1, x0:x1]
        if not clip.any():
            continue
        # patch coordinates of each frame pixel in the window
        px = ((np.arange(x0, x1, dtype=np.float32) - centre[0]) / scale + iris.patch.shape[1] // 2)
        py = ((np.arange(y0, y1, dtype=np.float32) - centre[1]) / scale + iris.patch.shape[0] // 2)
        map_x, map_y = np.meshgrid(px, py)
        colour = cv2.remap(iris.patch, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        alpha = cv2.remap(iris.alpha, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        alpha *= cv2.GaussianBlur(clip.astype(np.float32), (3, 3), 0.6)
        region = frame[y0:y1, x0:x1].astype(np.float32)
        blended = region + alpha[..., None] * (colour - region)
        frame[y0:y1, x0:x1] = np.clip(blended, 0, 255).astype(np.uint8)
