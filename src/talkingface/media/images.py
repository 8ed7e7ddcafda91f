"""Still images: load a portrait as RGB, validate arrays, save PNGs, build contact sheets.

Every image leaves this module as an ``(H, W, 3)`` ``uint8`` RGB array. Transparent pixels are
composited over white (the usual look of a cut-out portrait on a page); EXIF orientation is
applied; embedded ICC profiles are converted to sRGB; 16-bit and float images are scaled to 8 bits.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from talkingface.errors import ImageError, OptionError
from talkingface.media.paths import atomic_output, check_input_file, check_output_path

PathLike = str | os.PathLike[str]

MIN_SIDE = 32
"""Smallest accepted width and height of a loaded image, in pixels."""

BACKGROUND = 255
"""Grey level (white) that transparent pixels are composited over."""

_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_HIGH_DEPTH_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError)


def load_image(path: PathLike, *, max_pixels: int = 40_000_000) -> np.ndarray:
    """Load a still image file as RGB.

    Parameters
    ----------
    path : path
        Any still image Pillow reads (JPEG, PNG, WebP, TIFF, BMP, GIF, AVIF, ...).
    max_pixels : int, keyword-only
        Largest accepted ``width * height``, checked from the header before decoding.

    Returns
    -------
    np.ndarray, shape (H, W, 3), uint8
        RGB, upright (EXIF orientation applied), in sRGB when the file has an ICC profile.
        Grey, 16-bit, CMYK and palette images are converted; transparency is composited over
        white. The first image of a multi-picture JPEG (MPO) is used.

    Raises
    ------
    InputNotFoundError
        The file does not exist or is not a regular file.
    ImageError
        It cannot be read, is not an image, is truncated or corrupt, is animated or multi-page,
        is larger than ``max_pixels`` or smaller than 32 px on a side.
    OptionError
        ``max_pixels`` is not positive.

    Notes
    -----
    Truncated files are detected only while ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` is False
    (Pillow's default); this function never changes that process-wide flag.
    """
    if max_pixels <= 0:
        raise OptionError("max_pixels", max_pixels, "must be > 0")
    path = Path(path)
    data = _read_bytes(path)
    with _open_image(path, data, max_pixels) as im:
        _check_header(path, im, max_pixels)
        frame = _still_frame(path, im)
        try:
            frame.load()
        except _DECODE_ERRORS as err:
            raise ImageError(path, f"is truncated or corrupt ({_reason(err)})") from err
        frame = _upright(frame)
        try:
            return _to_rgb(frame)
        except ValueError as err:
            raise ImageError(path, f"has colour mode {frame.mode}, which cannot be converted to RGB "
                                   f"({_reason(err)})") from err


def _read_bytes(path: Path) -> bytes:
    """Read the whole file; InputNotFoundError / ImageError naming the problem."""
    check_input_file(path, "an image file")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except PermissionError as err:
        raise ImageError(path, "cannot be read: permission denied") from err
    except OSError as err:
        raise ImageError(path, f"cannot be read: {err.strerror or err}") from err
    if not data:
        raise ImageError(path, "is empty (0 bytes)")
    return data


def _open_image(path: Path, data: bytes, max_pixels: int) -> Image.Image:
    """Parse the header only (no pixel decoding)."""
    try:
        with warnings.catch_warnings():
            # we apply our own (usually lower) limit in _check_header
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as err:
        found = re.search(r"\((\d+) pixels\)", str(err))
        size = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise ImageError(path, f"has {size}, more than the limit of {max_pixels:,} (max_pixels); "
                               "refusing to decode a possible decompression bomb") from err
    except UnidentifiedImageError as err:
        raise ImageError(path, f"is not an image Pillow can read{_format_hint(data)}") from err
    except _DECODE_ERRORS as err:
        raise ImageError(path, f"is corrupt ({_reason(err)})") from err


def _format_hint(data: bytes) -> str:
    """A hint for well-known formats Pillow cannot open by itself."""
    if data[4:8] == b"ftyp" and data[8:12] in {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1"}:
        return " (it is HEIC/HEIF: convert it to JPEG or PNG, or install pillow-heif)"
    if data.lstrip()[:1] in {b"<", b"{"} or data[:4] == b"%PDF":
        return " (it looks like a text or PDF document)"
    return ""


def _check_header(path: Path, im: Image.Image, max_pixels: int) -> None:
    """Size limits, from the header, before any pixel is decoded."""
    w, h = im.size
    if w * h > max_pixels:
        raise ImageError(path, f"is {w}x{h} ({w * h:,} pixels), more than the limit of "
                               f"{max_pixels:,} (max_pixels); refusing to decode it")
    if min(w, h) < MIN_SIDE:
        raise ImageError(path, f"is too small ({w}x{h}); need at least {MIN_SIDE} px on each side")


def _still_frame(path: Path, im: Image.Image) -> Image.Image:
    """The image itself; reject animations and multi-page files (MPO: the primary picture)."""
    try:
        n_frames = int(getattr(im, "n_frames", 1))
    except _DECODE_ERRORS as err:
        raise ImageError(path, f"is truncated or corrupt ({_reason(err)})") from err
    if n_frames > 1 and im.format != "MPO":
        kind = "is animated" if im.format in {"GIF", "PNG", "WEBP", "AVIF"} else "has several pages"
        raise ImageError(path, f"{kind} ({n_frames} frames); give a still image")
    return im


def _upright(im: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a malformed EXIF block is ignored."""
    try:
        return ImageOps.exif_transpose(im) or im
    except _DECODE_ERRORS:
        return im


def _to_rgb(im: Image.Image) -> np.ndarray:
    """Any Pillow mode -> (H, W, 3) uint8 RGB."""
    if im.mode in _HIGH_DEPTH_MODES:
        return image_from_array(_high_depth_to_uint8(im))
    icc = im.info.get("icc_profile")
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        im = _over_background(im.convert("RGBA"))
    if im.mode in {"RGB", "CMYK"} and icc:
        im = _icc_to_srgb(im, icc)
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.array(im, dtype=np.uint8)


def _high_depth_to_uint8(im: Image.Image) -> np.ndarray:
    """16/32-bit integer or float grey -> (H, W) uint8.

    ``I;16*``: full 16-bit range. ``I``: 16-bit range when any value exceeds 255, else 8-bit.
    ``F``: ``[0, 1]`` when its maximum is <= 1, else ``[0, 255]``. Values outside are clipped.
    """
    a = np.asarray(im)
    if im.mode == "F":
        a = np.nan_to_num(a.astype(np.float32), nan=0.0)
        scale = 255.0 if a.max(initial=0.0) <= 1.0 else 1.0
    elif im.mode.startswith("I;16") or a.max(initial=0) > 255:
        scale = 255.0 / 65535.0
    else:
        scale = 1.0
    return np.clip(np.rint(a.astype(np.float32) * scale), 0, 255).astype(np.uint8)


def _over_background(rgba: Image.Image) -> Image.Image:
    """Composite an RGBA image over the background colour -> RGB."""
    back = Image.new("RGBA", rgba.size, (BACKGROUND,) * 3 + (255,))
    return Image.alpha_composite(back, rgba).convert("RGB")


def _icc_to_srgb(im: Image.Image, icc: bytes) -> Image.Image:
    """Convert an RGB/CMYK image through its ICC profile to sRGB; unchanged if that fails.

    Profiles that describe themselves as sRGB are skipped (no change, no cost).
    """
    try:
        from PIL import ImageCms
    except ImportError:  # Pillow built without littlecms
        return im
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if im.mode == "RGB" and "srgb" in ImageCms.getProfileDescription(src).lower():
            return im
        dst = ImageCms.createProfile("sRGB")
        return ImageCms.profileToProfile(im, src, dst, outputMode="RGB") or im
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return im  # a broken profile: fall back to the plain conversion


def _reason(err: BaseException) -> str:
    return str(err) or type(err).__name__


def image_from_array(array: object) -> np.ndarray:
    """Validate an image array and convert it to RGB ``uint8``.

    Parameters
    ----------
    array : array-like, shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)
        ``uint8``; ``bool``; ``uint16`` (full 16-bit range); other integers in ``[0, 255]``;
        floats in ``[0, 1]``. Channels are RGB(A); alpha is composited over white.

    Returns
    -------
    np.ndarray, shape (H, W, 3), uint8, C-contiguous (a new array).

    Raises
    ------
    OptionError
        Wrong shape, empty, unsupported dtype, values out of range or not finite.
    """
    a = np.asarray(array)
    desc = f"array of shape {a.shape} and dtype {a.dtype}"
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))):
        raise OptionError("image", desc, "expected shape (H, W), (H, W, 3) or (H, W, 4)")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise OptionError("image", desc, "is empty")
    a = _as_uint8(a, desc)
    if a.ndim == 2:
        return np.ascontiguousarray(np.repeat(a[:, :, None], 3, axis=2))
    if a.shape[2] == 4:
        alpha = a[:, :, 3:4].astype(np.uint16)
        rgb = (a[:, :, :3].astype(np.uint16) * alpha + BACKGROUND * (255 - alpha) + 127) // 255
        return rgb.astype(np.uint8)
    return np.array(a, dtype=np.uint8, order="C")


def _as_uint8(a: np.ndarray, desc: str) -> np.ndarray:
    """Scale any supported dtype to uint8 (same shape)."""
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if a.dtype == np.uint16:
        return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if np.issubdtype(a.dtype, np.integer):
        if a.min() < 0 or a.max() > 255:
            raise OptionError("image", desc, "integer images must be in [0, 255]")
        return a.astype(np.uint8)
    if np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise OptionError("image", desc, "contains NaN or infinite values")
        if a.min() < 0.0 or a.max() > 1.0 + 1e-6:
            raise OptionError("image", desc, f"float images must be in [0, 1]; found [{a.min():g}, {a.max():g}]")
        return np.rint(np.clip(a, 0.0, 1.0) * 255.0).astype(np.uint8)
    raise OptionError("image", desc, "unsupported dtype; use uint8, uint16, bool or float in [0, 1]")


def save_png(path: PathLike, image: np.ndarray, *, compress_level: int = 1) -> Path:
    """Save an image array as PNG, atomically.

    Parameters
    ----------
    path : path ending in ``.png``
    image : array accepted by :func:`image_from_array` (e.g. (H, W, 3) uint8 RGB)
    compress_level : int, keyword-only
        zlib level 0-9; 1 is fast and usually within 10 % of the smallest file.

    Returns
    -------
    pathlib.Path : the resolved path written.
    """
    out = check_output_path(path, suffixes=(".png",))
    rgb = image_from_array(image)
    with atomic_output(out) as tmp:
        Image.fromarray(rgb).save(tmp, format="PNG", compress_level=compress_level)
    return out


def contact_sheet(
    images: Sequence[np.ndarray],
    cols: int = 4,
    labels: Sequence[str] | None = None,
    *,
    pad: int = 4,
    background: int = 255,
) -> np.ndarray:
    """Tile images into one RGB sheet, optionally with a text label on each.

    Parameters
    ----------
    images : sequence of arrays accepted by :func:`image_from_array`
        Sizes may differ: each cell is as large as the largest image; smaller ones are centred.
    cols : int
        Images per row.
    labels : sequence of str, optional
        One per image, drawn (cv2.putText) white on a dark strip at the top-left of the cell.
    pad : int, keyword-only
        Pixels between cells and around the sheet.
    background : int, keyword-only
        Grey level of the gaps.

    Returns
    -------
    np.ndarray, shape (rows * (cell_h + pad) + pad, cols * (cell_w + pad) + pad, 3), uint8
    """
    if not images:
        raise OptionError("images", images, "needs at least one image")
    if cols < 1:
        raise OptionError("cols", cols, "must be >= 1")
    if labels is not None and len(labels) != len(images):
        raise OptionError("labels", f"{len(labels)} labels", f"need one per image ({len(images)})")
    rgbs = [image_from_array(im) for im in images]
    cell_h = max(im.shape[0] for im in rgbs)
    cell_w = max(im.shape[1] for im in rgbs)
    cols = min(cols, len(rgbs))
    rows = -(-len(rgbs) // cols)
    sheet = np.full((rows * (cell_h + pad) + pad, cols * (cell_w + pad) + pad, 3), background, np.uint8)
    for i, im in enumerate(rgbs):
        r, c = divmod(i, cols)
        y = pad + r * (cell_h + pad) + (cell_h - im.shape[0]) // 2
        x = pad + c * (cell_w + pad) + (cell_w - im.shape[1]) // 2
        sheet[y:y + im.shape[0], x:x + im.shape[1]] = im
        if labels is not None and labels[i]:
            _draw_label(sheet, str(labels[i]), x, y, im.shape[1])
    return sheet


def _draw_label(sheet: np.ndarray, text: str, x: int, y: int, width: int) -> None:
    """Draw ``text`` in place at (x, y), scaled to the cell width, on a dark strip."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = float(np.clip(width / 512.0, 0.3, 1.5))
    thickness = max(1, round(scale * 1.5))
    (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    x1 = min(x + tw + 8, sheet.shape[1])
    y1 = min(y + th + base + 8, sheet.shape[0])
    sheet[y:y1, x:x1] = (sheet[y:y1, x:x1] * 0.35).astype(np.uint8)
    cv2.putText(sheet, text, (x + 4, y + th + 4), font, scale, (255, 255, 255), thickness, cv2.LINE_AA)
