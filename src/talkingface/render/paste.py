"""Paste a head region rendered at a working resolution back into the full-resolution portrait.

Only pixels that changed (moved, revealed or redrawn) take the upsampled render; everything else keeps
the portrait's own pixels, with a feathered seam between the two. So a 4K portrait costs the render at
the working resolution plus an upsampling of the changed area, not a render at 4K.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numba
import numpy as np

MOVED_PX = 0.1  # working px of displacement that counts as a change
CHANGED_LEVEL = 3  # grey levels of difference that count as a change
FEATHER_PX = 1.0  # working px: sigma of the seam's feathering


@dataclass(frozen=True)
class RestPose:
    """The head region rendered at rest: image (h, w, 3) uint8, backward map (h, w, 2) float32, and
    always (h, w) bool, the pixels where even the rest render differs from the portrait by design
    (a portrait's parted lips closed at rest)."""

    image: np.ndarray
    texture_map: np.ndarray
    always: np.ndarray


def rest_pose(image: np.ndarray, texture_map: np.ndarray, identity: np.ndarray) -> RestPose:
    """The rest render image (h, w, 3) and its backward map (h, w, 2), against the identity map."""
    shift = cv2.absdiff(texture_map, identity)
    always = np.maximum(shift[..., 0], shift[..., 1]) > MOVED_PX
    return RestPose(image=image.copy(), texture_map=texture_map.copy(), always=always)


def change_weight(head: np.ndarray, texture_map: np.ndarray, coverage: np.ndarray, rest: RestPose
                  ) -> np.ndarray:
    """Weight (h, w) float32 in [0, 1] of the rendered head (h, w, 3) uint8 over the portrait: 1 where
    the person (coverage (h, w) > 0) moved (backward map (h, w, 2) away from the rest map), the render
    differs from the rest render, or the rest render differs from the portrait; feathered to 0 around."""
    shift = cv2.absdiff(texture_map, rest.texture_map)
    colour = cv2.absdiff(head, rest.image)
    # per-channel maxima with elementwise ops: numpy's reductions over a short last axis are slow
    moved = (np.maximum(shift[..., 0], shift[..., 1]) > MOVED_PX) & (coverage > 0.0)
    differs = np.maximum(np.maximum(colour[..., 0], colour[..., 1]), colour[..., 2]) > CHANGED_LEVEL
    changed = cv2.dilate((moved | differs | rest.always).astype(np.uint8), np.ones((5, 5), np.uint8))
    feathered = cv2.GaussianBlur(changed.astype(np.float32), (0, 0), FEATHER_PX)
    return np.minimum(2.0 * feathered, 1.0)


def paste_head(frame: np.ndarray, head: np.ndarray, weight: np.ndarray, origin: tuple[int, int],
               factor: float) -> None:
    """Blend head (h, w, 3) uint8, upsampled by factor (native px per working px), into frame
    (H, W, 3) uint8 in place at native origin (x, y), with weight (h, w) float32 per working pixel."""
    i0, j0, box_width, box_height = cv2.boundingRect((weight > 0).astype(np.uint8))
    if box_width == 0 or box_height == 0:
        return
    i1, j1 = i0 + box_width, j0 + box_height
    height, width = frame.shape[:2]
    x0, y0 = origin[0] + round(i0 * factor), origin[1] + round(j0 * factor)
    x1 = min(origin[0] + round(i1 * factor), width)
    y1 = min(origin[1] + round(j1 * factor), height)
    if x1 <= x0 or y1 <= y0:
        return
    window = frame[y0:y1, x0:x1]
    part = weight[j0:j1, i0:i1]
    up = cv2.resize(head[j0:j1, i0:i1], (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    core = cv2.resize((part >= 1.0).astype(np.uint8), (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
    cv2.copyTo(up, core, window)
    band_rows, band_cols = np.nonzero((part > 0) & (part < 1.0))
    _blend_band(window, up, np.ascontiguousarray(part), band_rows.astype(np.int32), band_cols.astype(np.int32),
                (x1 - x0) / (i1 - i0), (y1 - y0) / (j1 - j0))


@numba.njit(cache=True, nogil=True)
def _blend_band(window, up, weight, band_rows, band_cols, fx, fy):  # pragma: no cover - jitted
    """Blend up into window (both (H, W, 3) uint8) over the native pixels of each working pixel in the
    band, with the working weight (h, w) bilinearly interpolated at each native pixel."""
    height, width = window.shape[:2]
    h, w = weight.shape
    for k in range(band_rows.shape[0]):
        j, i = band_rows[k], band_cols[k]
        for y in range(int(j * fy), min(int((j + 1) * fy + 0.999), height)):
            wy = (y + 0.5) / fy - 0.5
            jy = min(max(int(np.floor(wy)), 0), h - 1)
            jy1 = min(jy + 1, h - 1)
            ty = min(max(wy - jy, 0.0), 1.0)
            for x in range(int(i * fx), min(int((i + 1) * fx + 0.999), width)):
                wx = (x + 0.5) / fx - 0.5
                ix = min(max(int(np.floor(wx)), 0), w - 1)
                ix1 = min(ix + 1, w - 1)
                tx = min(max(wx - ix, 0.0), 1.0)
                alpha = ((weight[jy, ix] * (1 - tx) + weight[jy, ix1] * tx) * (1 - ty)
                         + (weight[jy1, ix] * (1 - tx) + weight[jy1, ix1] * tx) * ty)
                if alpha <= 0.0:
                    continue
                for c in range(3):
                    value = window[y, x, c] + alpha * (float(up[y, x, c]) - window[y, x, c])
                    window[y, x, c] = np.uint8(min(max(value + 0.5, 0.0), 255.0))
