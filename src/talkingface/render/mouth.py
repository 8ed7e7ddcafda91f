"""The mouth interior shown through the opened lips: cavity, upper and lower teeth, tongue.

Colours come from the portrait: the cavity is a darkened lip colour, teeth are an off-white matched to
the face's exposure and saturation (grey in a black-and-white photo), so the interior sits in the
picture's own palette. The upper teeth hang from the (skull-fixed) upper lip, the lower teeth rise from
the (jaw-driven) lower lip; everything is clipped to the opening the rasterizer marked.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from talkingface.face import topology as tp

SUBPIXEL_BITS = 4  # fixed-point bits for anti-aliased polygon drawing


@dataclass(frozen=True)
class MouthPalette:
    """Interior colours, RGB float32 (3,) in 0..255."""

    cavity: np.ndarray
    teeth: np.ndarray
    tongue: np.ndarray


def mouth_palette(texture: np.ndarray, points: np.ndarray) -> MouthPalette:
    """Derive interior colours from the texture (H, W, 3) uint8 and the rest landmarks (478, 3) px."""
    lips = _sample(texture, points[list(tp.LIPS_LOWER_OUTER[2:-2] + tp.LIPS_UPPER_OUTER[2:-2]), :2])
    cheeks = _sample(texture, points[[205, 425, 50, 280, 1], :2])
    skin_luma = float(cheeks.mean())
    saturation = float(np.clip((cheeks.max() - cheeks.min()) / max(cheeks.max(), 1.0) * 3.0, 0.0, 1.0))
    exposure = float(np.clip(skin_luma / 160.0, 0.55, 1.05))
    teeth_colour = np.array([240.0, 234.0, 222.0])
    teeth = _desaturate(teeth_colour, saturation) * exposure
    tongue = _desaturate(0.55 * lips + 0.45 * np.array([170.0, 80.0, 80.0]), saturation) * min(exposure, 0.9)
    return MouthPalette(cavity=(0.22 * lips).astype(np.float32), teeth=teeth.astype(np.float32),
                        tongue=tongue.astype(np.float32))


def _sample(texture: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Mean colour (3,) at the given pixel positions (K, 2), each averaged over a 3x3 patch."""
    blurred = cv2.blur(texture, (3, 3))
    cols = np.clip(np.round(xy[:, 0]).astype(int), 0, texture.shape[1] - 1)
    rows = np.clip(np.round(xy[:, 1]).astype(int), 0, texture.shape[0] - 1)
    return blurred[rows, cols].astype(np.float32).mean(axis=0)


def _desaturate(colour: np.ndarray, saturation: float) -> np.ndarray:
    grey = float(colour @ np.array([0.299, 0.587, 0.114]))
    return grey + saturation * (colour - grey)


def draw_mouth_interior(frame: np.ndarray, opening: np.ndarray, vertices: np.ndarray,
                        palette: MouthPalette) -> None:
    """Paint the interior into frame (H, W, 3) uint8 in place where opening (H, W) bool is set.

    vertices: posed vertex positions (N, 3) px, first 478 are the face landmarks.
    """
    rows, cols = np.nonzero(opening)
    if rows.size == 0:
        return
    pad = 3
    y0, y1 = max(rows.min() - pad, 0), min(rows.max() + pad + 1, frame.shape[0])
    x0, x1 = max(cols.min() - pad, 0), min(cols.max() + pad + 1, frame.shape[1])
    origin = np.array([x0, y0], np.float32)
    upper = vertices[list(tp.LIPS_UPPER_INNER), :2] - origin
    lower = vertices[list(tp.LIPS_LOWER_INNER), :2] - origin
    width = float(np.linalg.norm(upper[-1] - upper[0]))
    down = _unit_down(upper[0], upper[-1])
    interior = _cavity(y1 - y0, x1 - x0, upper, lower, palette)
    _teeth(interior, upper, down, 0.16 * width, palette.teeth)
    _teeth(interior, lower, -down, 0.07 * width, 0.85 * palette.teeth)
    interior = cv2.GaussianBlur(interior, (3, 3), 0.6)
    alpha = cv2.GaussianBlur(opening[y0:y1, x0:x1].astype(np.float32), (3, 3), 0.7)[..., None]
    region = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = np.clip(region + alpha * (interior - region), 0, 255).astype(np.uint8)


def _unit_down(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    axis = (right - left) / max(float(np.linalg.norm(right - left)), 1e-6)
    down = np.array([-axis[1], axis[0]], np.float32)
    return down if down[1] >= 0 else -down


def _cavity(height: int, width: int, upper: np.ndarray, lower: np.ndarray,
            palette: MouthPalette) -> np.ndarray:
    """Dark cavity, shaded darker towards the back, with the tongue low in the mouth."""
    interior = np.empty((height, width, 3), np.float32)
    interior[:] = palette.cavity
    centre = 0.5 * (upper.mean(axis=0) + lower.mean(axis=0))
    span = max(float(np.ptp(upper[:, 0])), 1.0)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    shade = np.clip(((xs - centre[0]) / (0.5 * span)) ** 2, 0.0, 1.0)
    interior *= (0.55 + 0.45 * shade)[..., None]
    gap = float(np.median(lower[:, 1] - upper[:, 1]))
    if gap > 2.0:  # tongue: an ellipse resting behind the lower teeth
        tongue_centre = lower.mean(axis=0) + np.array([0.0, 0.1 * gap])
        axes = (int(0.28 * span * 2**SUBPIXEL_BITS), int(0.3 * gap * 2**SUBPIXEL_BITS))
        cv2.ellipse(interior, _fixed(tongue_centre), axes, 0, 180, 360,
                    (palette.tongue * 0.55).tolist(), -1, cv2.LINE_AA, SUBPIXEL_BITS)
    return interior


def _teeth(interior: np.ndarray, lip: np.ndarray, direction: np.ndarray, height: float,
           colour: np.ndarray) -> None:
    """A row of teeth along a lip contour (11, 2), reaching `height` px along direction, in place."""
    centre = lip.mean(axis=0)
    span = max(float(np.ptp(lip[:, 0])), 1.0)
    inner = lip[2:-2]  # teeth show between the canines, not in the corners
    edge = inner + direction * height
    polygon = np.concatenate([inner, edge[::-1]])
    mask = np.zeros(interior.shape[:2], np.float32)
    cv2.fillPoly(mask, [np.round(polygon * 2**SUBPIXEL_BITS).astype(np.int32)], 1.0, cv2.LINE_AA,
                 SUBPIXEL_BITS)
    xs = np.arange(interior.shape[1], dtype=np.float32)
    falloff = np.clip(1.0 - ((xs - centre[0]) / (0.55 * span)) ** 2, 0.25, 1.0)  # darker to the sides
    shaded = colour[None, None, :] * falloff[None, :, None]
    interior += mask[..., None] * (shaded - interior)


def _fixed(point: np.ndarray) -> tuple[int, int]:
    return int(round(point[0] * 2**SUBPIXEL_BITS)), int(round(point[1] * 2**SUBPIXEL_BITS))
