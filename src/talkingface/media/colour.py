"""Y'CbCr 4:2:0 <-> RGB, for writing RGB frames and for editing part of a decoded frame in place.

A video's colour is described by FFmpeg's tags (matrix, primaries, transfer, range). ``YCbCr`` holds
them and the conversion matrices they imply, read the way swscale reads them (the BT.709 matrix for a
BT.709 tag, BT.601 otherwise; full range for the JPEG range tag), so a region converted to RGB here,
edited and converted back matches the RGB the decoder gave for the rest of the video.

I420 arrays are FFmpeg's ``yuv420p`` packed in one (H * 3 / 2, W) uint8 array: the Y plane (H x W),
then Cb and Cr (H/2 x W/2 each).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# FFmpeg tag values (AVCOL_SPC_*, AVCOL_PRI_*, AVCOL_TRC_*, AVCOL_RANGE_*)
BT709_TAG, UNSPECIFIED_TAG, MPEG_RANGE, JPEG_RANGE = 1, 2, 1, 2


@dataclass(frozen=True)
class YCbCr:
    """A video's colour tags: colorspace (matrix), primaries, trc (transfer), color_range."""

    colorspace: int = BT709_TAG
    primaries: int = BT709_TAG
    trc: int = BT709_TAG
    color_range: int = MPEG_RANGE

    @property
    def full_range(self) -> bool:
        return self.color_range == JPEG_RANGE

    def to_ycbcr(self) -> np.ndarray:
        """3x4 float32 matrix with offsets: 8-bit R'G'B' -> Y'CbCr."""
        return _ycbcr_matrix(*((0.2126, 0.0722) if self.colorspace == BT709_TAG else (0.299, 0.114)),
                             full=self.full_range)

    def to_rgb(self) -> np.ndarray:
        """3x4 float32 matrix with offsets: Y'CbCr -> 8-bit R'G'B' (the inverse of to_ycbcr)."""
        forward = self.to_ycbcr().astype(np.float64)
        inverse = np.linalg.inv(forward[:, :3])
        return np.hstack([inverse, -inverse @ forward[:, 3:]]).astype(np.float32)


BT709 = YCbCr()
"""What VideoWriter tags RGB input as: BT.709 matrix, primaries and transfer, limited range."""


def _ycbcr_matrix(kr: float, kb: float, *, full: bool = False) -> np.ndarray:
    """3x4 matrix: 8-bit R'G'B' (0-255) -> Y'CbCr, limited range (Y 16-235, C 16-240) or full
    (0-255), with offsets."""
    kg = 1.0 - kr - kb
    m = np.array([
        [kr, kg, kb],
        [-0.5 * kr / (1 - kb), -0.5 * kg / (1 - kb), 0.5],
        [0.5, -0.5 * kg / (1 - kr), -0.5 * kb / (1 - kr)],
    ])
    if not full:
        m *= np.array([[219.0], [224.0], [224.0]]) / 255.0
    out = np.hstack([m, [[0.0 if full else 16.0], [128.0], [128.0]]]).astype(np.float32)
    out.flags.writeable = False
    return out


def rgb_to_i420(rgb: np.ndarray, colour: YCbCr = BT709) -> np.ndarray:
    """Convert RGB to planar 4:2:0 (the layout FFmpeg calls ``yuv420p``) in the given colour.

    Parameters
    ----------
    rgb : np.ndarray, shape (H, W, 3), uint8, H and W even

    Returns
    -------
    np.ndarray, shape (H * 3 // 2, W), uint8
        Y plane (H x W), then Cb and Cr planes (H/2 x W/2 each, 2x2 box-averaged), packed.
        About 0.3 ms at 512x512 (3x faster than swscale).
    """
    h, w = rgb.shape[:2]
    y, cb, cr = cv2.split(cv2.transform(np.ascontiguousarray(rgb), colour.to_ycbcr()))
    out = np.empty(h * w * 3 // 2, np.uint8)
    q = h * w // 4
    out[: h * w] = y.reshape(-1)
    out[h * w: h * w + q] = cv2.resize(cb, (w // 2, h // 2), interpolation=cv2.INTER_AREA).reshape(-1)
    out[h * w + q:] = cv2.resize(cr, (w // 2, h // 2), interpolation=cv2.INTER_AREA).reshape(-1)
    return out.reshape(h * 3 // 2, w)


def i420_planes(i420: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views (Y (H, W), Cb (H/2, W/2), Cr (H/2, W/2)) of an I420 array (H * 3 / 2, W)."""
    w = i420.shape[1]
    h = i420.shape[0] * 2 // 3
    flat = i420.reshape(-1)
    q = h * w // 4
    return (flat[:h * w].reshape(h, w), flat[h * w:h * w + q].reshape(h // 2, w // 2),
            flat[h * w + q:].reshape(h // 2, w // 2))


def i420_region_to_rgb(i420: np.ndarray, box: tuple[int, int, int, int], colour: YCbCr) -> np.ndarray:
    """(y1 - y0, x1 - x0, 3) uint8 RGB of the region box = (x0, y0, x1, y1) (even corners) of an I420
    frame, chroma upsampled bilinearly."""
    x0, y0, x1, y1 = box
    y, cb, cr = i420_planes(i420)
    size = (x1 - x0, y1 - y0)
    chroma = [cv2.resize(plane[y0 // 2:y1 // 2, x0 // 2:x1 // 2], size, interpolation=cv2.INTER_LINEAR)
              for plane in (cb, cr)]
    ycc = cv2.merge([np.ascontiguousarray(y[y0:y1, x0:x1]), *chroma])
    return cv2.transform(ycc, colour.to_rgb())


def paste_rgb_into_i420(i420: np.ndarray, box: tuple[int, int, int, int], rgb: np.ndarray,
                        changed: np.ndarray, colour: YCbCr) -> None:
    """Write RGB (h, w, 3) uint8 into the region box (even corners) of an I420 frame in place, only
    where changed (h, w) is non-zero: luma per pixel, chroma per 2x2 block touching a changed pixel."""
    x0, y0, x1, y1 = box
    y, cb, cr = i420_planes(i420)
    ycc = cv2.transform(np.ascontiguousarray(rgb), colour.to_ycbcr())
    mask = changed.astype(bool)
    np.copyto(y[y0:y1, x0:x1], ycc[..., 0], where=mask)
    half = ((x1 - x0) // 2, (y1 - y0) // 2)
    blocks = cv2.resize(mask.astype(np.float32), half, interpolation=cv2.INTER_AREA) > 0
    for plane, channel in ((cb, 1), (cr, 2)):
        averaged = cv2.resize(np.ascontiguousarray(ycc[..., channel]), half, interpolation=cv2.INTER_AREA)
        np.copyto(plane[y0 // 2:y1 // 2, x0 // 2:x1 // 2], averaged, where=blocks)
