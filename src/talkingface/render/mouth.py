"""The mouth interior shown through the opened lips: cavity, upper and lower teeth, tongue, inner lips.

Colours come from the portrait: the cavity, tongue, gums and the wet inner lips are shades of the
photo's own lip colour; the teeth are an off-white whose brightness follows the face's exposure (and
the eye whites where they can be seen) and whose tint follows the photo's white balance, so a
black-and-white photo gets a grey interior. The interior is drawn with the photo's own edge softness
(its blur, measured once) and grain, so it does not look pasted on.

Geometry lives in a 3D *skull frame* (inner eye corners and nose bridge, which no expression moves).
The upper teeth are fixed in it (to the skull); the lower teeth and the tongue move with a landmark on
the jaw. Both rows are arcs of real-sized teeth (millimetres, scaled by the face) seen from the
head's current angle, so at small openings only the upper incisors' edge shows and wider openings
reveal the lower teeth and the tongue. Everything is clipped to the opening the rasterizer marked.

Portraits that already show an open mouth can use their own interior instead (own_mouth,
draw_own_interior): the photo's teeth are cut into an upper and a lower part that move with the lips,
with a toothless cavity where they part, so no second set of teeth is ever drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numba
import numpy as np

from talkingface.face import topology as tp

# --------------------------------------------------------------------------------- anatomy (mm)

INNER_CANTHAL_MM = 32.0  # distance between the inner eye corners of an adult
MOUTH_WIDTH_MM = 52.0  # corner to corner, lips relaxed
ARCH_RADIUS_MM = 26.0  # the dental arch seen from the front, as a circle
UPPER_SHOW_MM = 3.0  # upper incisor edge below the line where the lips meet at rest
OVERBITE_MM = 2.3  # lower incisor edge above the upper one, teeth closed
OVERJET_MM = 2.0  # lower incisors behind the upper ones
INCISOR_DEPTH_MM = 6.0  # upper incisors' front behind the point where the lips meet
JAW_POINT = 199  # a landmark on the jaw just below the lower lip that lip expressions barely move
# per tooth from the midline outwards (central incisor, lateral incisor, canine, 2 premolars, molar):
# width, crown height, incisal edge raise over the central's, corner rounding (mm), brightness
UPPER_TEETH = np.array([[8.6, 6.6, 7.6, 7.0, 6.8, 10.0],
                        [10.5, 9.0, 10.0, 8.2, 7.6, 7.0],
                        [0.0, 0.6, 0.1, 0.5, 0.8, 1.1],
                        [0.7, 1.1, 1.3, 1.2, 1.0, 1.0],
                        [1.0, 0.98, 0.95, 0.95, 0.93, 0.9]])
# the lower row's edges are its tops: raise and rounding point down
LOWER_TEETH = np.array([[5.3, 5.9, 6.9, 7.0, 7.1, 11.0],
                        [9.0, 9.5, 11.0, 8.5, 8.0, 7.5],
                        [0.0, -0.1, 0.5, -0.4, -0.7, -1.0],
                        [-0.5, -0.7, -1.6, -1.2, -1.0, -1.0],
                        [1.0, 0.98, 0.95, 0.93, 0.92, 0.9]])
GRAIN_TILE = 64  # side of the repeating grain pattern, px


@dataclass(frozen=True)
class MouthPalette:
    """What the interior is drawn from, derived once per portrait and output resolution.

    Colours are RGB float32 (3,) in 0..255: cavity, teeth, tongue, gum and inner_lip (the wet inside of
    the lips). blur_px: the photo's own blur as a Gaussian sigma, px (0: sharp); grain: the photo's
    noise standard deviation, 0..255 levels; light: left-right lighting tilt in -1..1 (> 0: the
    image's right side is brighter). Rest geometry in skull units (see _Skull: the 3D distance of the
    inner eye corners): upper_edge and lower_edge (3,) the middles of the upper and lower incisor
    edges, jaw (3,) the jaw landmark JAW_POINT, mm the length of one millimetre. noise: (64, 64)
    float32 unit-variance grain tile.
    """

    cavity: np.ndarray
    teeth: np.ndarray
    tongue: np.ndarray
    gum: np.ndarray
    inner_lip: np.ndarray
    blur_px: float
    grain: float
    light: float
    upper_edge: np.ndarray
    lower_edge: np.ndarray
    jaw: np.ndarray
    mm: float
    noise: np.ndarray


# ------------------------------------------------------------------------------------ skull frame

SKULL_POINTS = np.array([133, 362, 195])  # inner eye corners and the nose bridge: no expression moves them
INNER_LIP = np.array(tp.INNER_LIP_CONTOUR)


@dataclass(frozen=True)
class _Skull:
    """The skull frame of posed or rest landmarks, in 3D and as seen in the image.

    origin: (3,) px, midway between the inner eye corners; rotation: (3, 3) whose columns are the
    skull's x (along the eyes), y (down the face) and z (into the head) axes; scale: the 3D
    inner-eye-corner distance, px (the skull unit). The image-plane frame that canvases are drawn in:
    origin (2,) = origin[:2], axis (2,) the skull's x axis as seen in the image, down (2,) normal to it.
    """

    origin: np.ndarray
    rotation: np.ndarray
    scale: float
    axis: np.ndarray
    down: np.ndarray

    def local(self, xyz: np.ndarray) -> np.ndarray:
        """Positions (..., 3) px to skull units."""
        return (xyz - self.origin) @ self.rotation / self.scale

    def world(self, local: np.ndarray) -> np.ndarray:
        """Skull units (..., 3) to positions px."""
        return self.origin + (local * self.scale) @ self.rotation.T

    def canvas(self, xy: np.ndarray) -> np.ndarray:
        """Image positions (..., 2) px to the image-plane frame (along axis, along down), px."""
        return (xy - self.origin[:2]) @ np.array([self.axis, self.down]).T

    @property
    def turn(self) -> float:
        """Yaw of the skull, radians, > 0 when its x axis recedes into the image."""
        return float(np.arctan2(self.rotation[2, 0], np.hypot(self.rotation[0, 0], self.rotation[1, 0])))


def _skull(points: np.ndarray, upright: bool = False) -> _Skull:
    """The skull frame of landmarks (478+, 3) px. upright: snap an image-plane roll under ~1 degree to
    zero, so that canvases fall on the pixel grid."""
    right, left, bridge = points[SKULL_POINTS, :3].astype(np.float64)
    x = left - right
    scale = max(float(np.sqrt(x @ x)), 1e-6)
    x /= scale
    origin = 0.5 * (left + right)
    y = bridge - origin
    y -= (y @ x) * x
    y /= max(float(np.sqrt(y @ y)), 1e-9)
    z = np.array([x[1] * y[2] - x[2] * y[1], x[2] * y[0] - x[0] * y[2], x[0] * y[1] - x[1] * y[0]])
    rotation = np.array([x, y, z]).T
    axis = x[:2] / max(float(np.hypot(x[0], x[1])), 1e-9)
    if upright and abs(axis[1]) < 0.02:
        axis = np.array([1.0, 0.0])
    return _Skull(origin=origin, rotation=rotation, scale=scale, axis=axis,
                  down=np.array([-axis[1], axis[0]]))


# ----------------------------------------------------------------------------------------- palette

def mouth_palette(texture: np.ndarray, points: np.ndarray) -> MouthPalette:
    """Derive the interior's colours, sharpness, grain and rest geometry.

    texture: (H, W, 3) uint8 RGB at output resolution; points: rest landmarks (478, 3) px in it.
    """
    texture = np.ascontiguousarray(texture)
    # the lips' colour halfway between their outer and inner contours
    outer = points[list(tp.LIPS_UPPER_OUTER[2:-2] + tp.LIPS_LOWER_OUTER[2:-2]), :2]
    inner = points[list(tp.LIPS_UPPER_INNER[2:-2] + tp.LIPS_LOWER_INNER[2:-2]), :2]
    lips = np.median(_samples(texture, 0.5 * (outer + inner)), axis=0)
    cheek_r = _samples(texture, points[[205, 50, 187], :2]).mean(axis=0)
    cheek_l = _samples(texture, points[[425, 280, 411], :2]).mean(axis=0)
    skin = 0.5 * (cheek_r + cheek_l)
    skin_luma = _luma(skin)
    tint = np.clip(skin / max(skin_luma, 1.0), 0.2, 3.0) ** 0.5
    tint /= _luma(tint)
    teeth_luma = 255.0 - 0.55 * (255.0 - skin_luma)
    sclera = _sclera_luma(texture, points)
    if sclera is not None and sclera > 0.8 * skin_luma:
        teeth_luma = 0.5 * (teeth_luma + min(sclera, 250.0))
    teeth = np.clip(teeth_luma * tint, 0.0, 250.0)
    lips = np.maximum(lips, 1.0)
    light = float(np.clip((_luma(cheek_l) - _luma(cheek_r)) / max(_luma(cheek_l) + _luma(cheek_r), 1.0)
                          * 2.0, -0.6, 0.6))
    skull = _skull(points)
    mouth_width = float(np.linalg.norm(points[tp.MOUTH_LEFT_CORNER, :2] - points[tp.MOUTH_RIGHT_CORNER, :2]))
    mm = 0.5 * (1.0 / INNER_CANTHAL_MM + mouth_width / skull.scale / MOUTH_WIDTH_MM)
    # incisor edges placed along the image axes (the portrait faces the camera), then held in the skull
    lip_line = 0.5 * (points[13, :3] + points[14, :3]).astype(np.float64)
    mm_px = mm * skull.scale
    upper_edge = skull.local(lip_line + np.array([0.0, UPPER_SHOW_MM, INCISOR_DEPTH_MM]) * mm_px)
    lower_edge = skull.local(lip_line + np.array([0.0, UPPER_SHOW_MM - OVERBITE_MM,
                                                  INCISOR_DEPTH_MM + OVERJET_MM]) * mm_px)
    jaw = skull.local(points[JAW_POINT, :3].astype(np.float64))
    blur = _blur_sigma(texture, points)
    return MouthPalette(
        cavity=(0.3 * lips).astype(np.float32), teeth=teeth.astype(np.float32),
        tongue=(0.78 * lips + 0.08 * _luma(lips)).astype(np.float32),
        gum=(0.92 * lips).astype(np.float32), inner_lip=(0.62 * lips).astype(np.float32),
        blur_px=blur, grain=_noise_sigma(texture, points), light=light,
        upper_edge=upper_edge.astype(np.float32), lower_edge=lower_edge.astype(np.float32),
        jaw=jaw.astype(np.float32), mm=float(mm), noise=_grain_tile(blur))


def _luma(colour: np.ndarray) -> float:
    return float(np.asarray(colour, np.float64) @ np.array([0.299, 0.587, 0.114]))


def _samples(texture: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Colours (K, 3) float32 at pixel positions (K, 2), each the median of a 3x3 patch."""
    height, width = texture.shape[:2]
    cols = np.clip(np.round(xy[:, 0]).astype(int), 1, width - 2)
    rows = np.clip(np.round(xy[:, 1]).astype(int), 1, height - 2)
    patches = np.stack([texture[rows + dy, cols + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
    return np.median(patches.astype(np.float32), axis=0)


def _sclera_luma(texture: np.ndarray, points: np.ndarray) -> float | None:
    """Brightness of the eye whites beside the irises, or None when the eyes are too small or shut."""
    values = []
    for iris, rim, corners in ((468, 469, (33, 133)), (473, 474, (362, 263))):
        radius = float(np.linalg.norm(points[rim, :2] - points[iris, :2]))
        if radius < 2.5:
            continue
        centre = points[iris, :2]
        for corner in corners:
            towards = points[corner, :2] - centre
            reach = float(np.linalg.norm(towards))
            if reach < 1.8 * radius:
                continue
            spot = centre + towards / reach * min(1.5 * radius, 0.5 * (reach + radius))
            values.append(_luma(_samples(texture, spot[None])[0]))
    return float(np.percentile(values, 75)) if len(values) >= 2 else None


def _lip_box(points: np.ndarray, texture_shape: tuple[int, ...], grow: float) -> tuple[int, int, int, int]:
    """Box (x0, y0, x1, y1) around the lips grown by `grow` mouth widths, clipped to the texture."""
    lips = points[list(tp.LIPS_UPPER_OUTER + tp.LIPS_LOWER_OUTER), :2]
    width = max(float(np.ptp(lips[:, 0])), 4.0)
    x0, y0 = np.floor(lips.min(axis=0) - grow * width).astype(int)
    x1, y1 = np.ceil(lips.max(axis=0) + grow * width).astype(int)
    height, full_width = texture_shape[:2]
    return max(x0, 0), max(y0, 0), min(x1, full_width), min(y1, height)


def _blur_sigma(texture: np.ndarray, points: np.ndarray) -> float:
    """Gaussian sigma (px) of the photo's own blur, measured on the strong edges around the mouth.

    Re-blur ratio: an edge of blur s has gradient peaks sqrt(1 + (r/s)^2) times higher than the same
    edge blurred again by r. The measurement includes the ~0.7 px every sampled edge has, which is
    taken out; lip edges are soft by nature, so only 80 % of the rest counts as blur. (Eyelashes and
    other thin lines break the step-edge model, so the eyes are not used.)
    """
    x0, y0, x1, y1 = _lip_box(points, texture.shape, 0.35)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return 0.0
    grey = cv2.cvtColor(np.ascontiguousarray(texture[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    first = _gradient(grey)
    second = _gradient(cv2.GaussianBlur(grey, (0, 0), 2.0))
    strong = first >= max(float(np.percentile(first, 97)), 4.0)
    if strong.sum() < 10:
        return 0.0
    ratio = float(np.median(first[strong] / np.maximum(second[strong], 1e-3)))
    measured = 2.0 / np.sqrt(max(ratio * ratio - 1.0, 0.04))
    return float(np.clip(0.8 * np.sqrt(max(measured**2 - 0.49, 0.0)), 0.0, 8.0))


def _gradient(grey: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=1)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=1)
    return cv2.magnitude(gx, gy)


def _noise_sigma(texture: np.ndarray, points: np.ndarray) -> float:
    """The photo's noise (std, 0..255 levels) on the cheeks and chin (Immerkaer's Laplacian estimate,
    taken as the lower quartile over small patches so that skin texture and edges count little)."""
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    grey = None
    values = []
    half = max(int(0.04 * np.linalg.norm(points[133, :2] - points[362, :2]) * 3), 3)
    for index in (205, 425, 50, 280, 199, 18):
        x, y = np.round(points[index, :2]).astype(int)
        x0, y0 = max(x - half, 0), max(y - half, 0)
        patch = texture[y0:y + half + 1, x0:x + half + 1]
        if patch.shape[0] < 5 or patch.shape[1] < 5:
            continue
        grey = cv2.cvtColor(patch, cv2.COLOR_RGB2GRAY).astype(np.float32)
        response = cv2.filter2D(grey, -1, kernel)[1:-1, 1:-1]
        values.append(np.sqrt(np.pi / 2) / 6.0 * float(np.mean(np.abs(response))))
    return float(np.clip(np.percentile(values, 25), 0.0, 12.0)) if values else 0.0


def _grain_tile(blur_px: float) -> np.ndarray:
    """A (64, 64) float32 tileable unit-variance grain pattern, as fine as the photo is sharp."""
    rng = np.random.default_rng(20240531)
    noise = rng.standard_normal((GRAIN_TILE, GRAIN_TILE)).astype(np.float32)
    sigma = float(np.clip(0.7 * blur_px, 0.0, 2.0))
    if sigma > 0.2:
        pad = int(np.ceil(3 * sigma))
        wrapped = np.pad(noise, pad, mode="wrap")
        noise = cv2.GaussianBlur(wrapped, (0, 0), sigma)[pad:-pad, pad:-pad]
    return (noise / max(float(noise.std()), 1e-6)).astype(np.float32)


# -------------------------------------------------------------------------------------- drawing

def draw_mouth_interior(frame: np.ndarray, opening: np.ndarray, vertices: np.ndarray,
                        palette: MouthPalette) -> None:
    """Paint the interior into frame (H, W, 3) uint8 in place where opening (H, W) bool is set.

    vertices: posed vertex positions (N, 3) px, the first 478 are the face landmarks. Only the
    opening's bounding box is touched; pixels next to the opening get partial (anti-aliased) cover.
    """
    drawn = _synthetic(opening, vertices, palette, teeth=True)
    if drawn is not None:
        (x0, y0, x1, y1), canvas = drawn
        _blend(frame[y0:y1, x0:x1], canvas, _cover_mask(opening, x0, y0, x1, y1))


def _cover_mask(opening: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """(h, w) uint8: the opening in the box, grown by one pixel (partial cover reaches no further)."""
    return cv2.dilate(opening[y0:y1, x0:x1].view(np.uint8), np.ones((3, 3), np.uint8))


def _synthetic(opening: np.ndarray, vertices: np.ndarray, palette: MouthPalette, teeth: bool
               ) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """The synthetic interior over the opening's box: ((x0, y0, x1, y1), canvas (h, w, 4) float32 with
    RGB 0..255 and cover 0..1), or None when nothing is open. teeth=False leaves out both rows."""
    box = _opening_box(opening, vertices)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    skull = _skull(vertices, upright=True)
    axis, down = skull.axis, skull.down
    upright = axis[1] == 0.0  # canvas pixel (i, j) is image pixel (x0 + i, y0 + j)
    contour = skull.canvas(vertices[INNER_LIP, :2].astype(np.float64))
    if upright:
        s0, t0 = x0 - skull.origin[0], y0 - skull.origin[1]
        width, height = x1 - x0, y1 - y0
    else:
        s0, t0 = np.floor(contour.min(axis=0)) - 3.0
        width, height = (np.ceil(contour.max(axis=0)) + 3.0 - (s0, t0)).astype(int)
    canvas = _interior(contour, s0, t0, width, height, skull, vertices, palette, teeth)
    if not upright:
        shift = np.array([x0, y0]) - skull.origin[:2]
        matrix = np.array([[axis[0], axis[1], shift @ axis - s0],
                           [down[0], down[1], shift @ down - t0]], np.float64)
        canvas = cv2.warpAffine(canvas, matrix, (x1 - x0, y1 - y0),
                                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return box, canvas


def _opening_box(opening: np.ndarray, vertices: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1) of the opening, 2 px padded, or None when nothing is open.

    The inner-lip contour bounds the opening, so only that box is searched; the full mask is only
    scanned when it holds opening pixels outside the box.
    """
    height, width = opening.shape
    lips = vertices[INNER_LIP, :2]
    x0, y0 = np.maximum(np.floor(lips.min(axis=0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(lips.max(axis=0)).astype(int) + 3, (width, height))
    inside = opening[y0:y1, x0:x1] if x1 > x0 and y1 > y0 else opening[:0, :0]
    count = int(np.count_nonzero(inside))
    if count != np.count_nonzero(opening):
        rows, cols = np.nonzero(opening)
        if rows.size == 0:
            return None
        x0, y0 = max(int(cols.min()) - 2, 0), max(int(rows.min()) - 2, 0)
        x1, y1 = min(int(cols.max()) + 3, width), min(int(rows.max()) + 3, height)
    elif count == 0:
        return None
    return int(x0), int(y0), int(x1), int(y1)


def _curve(s: np.ndarray, contour_s: np.ndarray, contour_t: np.ndarray, outside: float) -> np.ndarray:
    """A lip contour's t (px) at columns s (W,), `outside` beyond its ends."""
    order = np.argsort(contour_s, kind="stable")
    return np.interp(s, contour_s[order], contour_t[order], left=outside, right=outside)


def _teeth_row(profile: np.ndarray, first: int, s: np.ndarray, centre: np.ndarray, mm_px: float,
               radius_mm: float, teeth: np.ndarray, lift_mm: float, softness: float, light: float,
               rooted: float, seam: float, turn: float) -> None:
    """A row of teeth on a circular arch seen from the front, written into profile rows first..first+3.

    s: (W,) canvas columns, px; centre: (2,) canvas position (px) of the midline incisal edge;
    teeth: (5, 6) per tooth from the midline out: width, crown height, edge raise, corner rounding (mm)
    and brightness; lift_mm: how far the edges climb towards the back of the arch; rooted: -1 when the
    crowns reach up from the edge (upper row), +1 when they reach down (lower row); seam: darkness of
    the gaps between teeth; turn: the skull's yaw, radians. Rows written: incisal edge t (px), gum
    line t (px), shade (0..1: the arch turning away, gaps, lighting), and 1 where the row exists (0
    beyond the arch).
    """
    # gaps: a dark seam 0.25 mm wide at each tooth boundary, blurred like the photo: its darkness
    # spreads out but keeps its area
    gap_sigma = float(np.hypot(0.2 * mm_px, 0.5 * softness))
    depth = min(seam * 0.25 * mm_px / (2.5066 * gap_sigma), 0.6)
    # the arch's centre lies radius_mm behind the incisors; turned, it shows off to one side
    arch_s = float(centre[0]) - radius_mm * mm_px * np.sin(turn)
    _row_kernel(profile[first:first + 4], s, arch_s, float(centre[1]), mm_px, radius_mm, teeth,
                lift_mm, gap_sigma, depth, light, rooted, turn)


@numba.njit(cache=True, nogil=True)
def _row_kernel(out, s, arch_s, centre_t, mm_px, radius_mm, teeth, lift_mm, gap_sigma, depth, light,
                rooted, turn):  # pragma: no cover - jitted
    """Per column: see _teeth_row. arch_s: where the arch's centre shows, px."""
    count = teeth.shape[1]
    for i in range(s.shape[0]):
        u = (s[i] - arch_s) / (radius_mm * mm_px)
        if abs(u) >= 0.995:
            out[0, i], out[1, i], out[2, i], out[3, i] = centre_t, centre_t, 0.0, 0.0
            continue
        theta = np.arcsin(u)  # angle of the arch surface to the view
        angle = theta - turn  # angle along the arch from the midline
        arc = abs(angle) * radius_mm  # mm along the arch from the midline
        start, tooth = 0.0, 0
        while tooth < count - 1 and arc >= start + teeth[0, tooth]:
            start += teeth[0, tooth]
            tooth += 1
        size = teeth[0, tooth]
        within = min(max((arc - start) / size, 0.0), 1.0) * 2.0 - 1.0  # -1..1 across the tooth
        facing = np.cos(theta)
        gap_px = min(arc - start, start + size - arc) * facing * mm_px
        gap = 1.0 - depth * np.exp(-0.5 * (gap_px / gap_sigma) ** 2)
        power = 1.4 if tooth == 2 else 4.0  # the canine comes to a point, the others are rounded
        rounding = teeth[3, tooth] * abs(within) ** power
        edge = centre_t - (teeth[2, tooth] + rounding + lift_mm * (1.0 - np.cos(angle))) * mm_px
        out[0, i] = edge
        out[1, i] = edge + rooted * teeth[1, tooth] * mm_px * (1.0 - 0.12 * within * within)
        out[2, i] = (gap * teeth[4, tooth] * (0.35 + 0.65 * facing**2.5) * (1.0 - 0.06 * within * within)
                     * (1.0 + 0.25 * light * u) * (0.98 if angle > 0 else 1.0))
        out[3, i] = 1.0


# rows of the per-column profile array handed to _paint
_TOP, _BOTTOM, _UP_EDGE, _UP_GUM, _UP_SHADE, _UP_ON, _LOW_EDGE, _LOW_GUM, _LOW_SHADE, _LOW_ON, \
    _TONGUE, _TONGUE_SHADE, _SIDE = range(13)


def _interior(contour: np.ndarray, s0: float, t0: float, width: int, height: int, skull: _Skull,
              vertices: np.ndarray, palette: MouthPalette, teeth: bool = True) -> np.ndarray:
    """The interior on a canvas (height, width, 4) float32: RGB 0..255 and cover 0..1.

    Canvas pixel (i, j) lies at (s0 + i, t0 + j) in the skull's image-plane frame (px); contour: the
    inner-lip contour (20, 2) in that frame (the upper lip corner to corner, then the lower lip back);
    vertices: the posed vertices (N, 3) px whose skull frame is `skull`.
    """
    s = s0 + np.arange(width, dtype=np.float64)
    upper = contour[:11]
    lower = np.concatenate([contour[:1], contour[11:][::-1], contour[10:11]])
    profile = np.empty((13, width), np.float32)
    profile[_TOP] = _curve(s, upper[:, 0], upper[:, 1], 1e4)
    profile[_BOTTOM] = _curve(s, lower[:, 0], lower[:, 1], -1e4)
    soft = float(np.clip(np.sqrt(12.0) * palette.blur_px, 1.0, 24.0))  # ramp width with that sigma
    mm_px = palette.mm * skull.scale
    mid_s = 0.5 * (contour[0, 0] + contour[10, 0])
    half = max(0.5 * abs(contour[10, 0] - contour[0, 0]), 1.0)
    middle = np.abs(s - mid_s) < 0.25 * half
    gap = max(float(np.mean((profile[_BOTTOM] - profile[_TOP])[middle])), 0.0) if middle.any() else 0.0
    jaw_drop = skull.local(vertices[JAW_POINT, :3].astype(np.float64)) - palette.jaw  # skull units
    # the upper lip rolls up a little as the mouth opens wide, showing more of the upper teeth
    upper_centre = (skull.canvas(skull.world(palette.upper_edge)[:2])
                    + np.array([0.0, min(0.08 * gap, 2.5 * mm_px)]))
    lower_centre = skull.canvas(skull.world(palette.lower_edge + jaw_drop)[:2])
    turn = skull.turn
    _teeth_row(profile, _UP_EDGE, s, upper_centre, mm_px, ARCH_RADIUS_MM, UPPER_TEETH, 1.5, soft,
               palette.light, -1.0, 1.0, turn)
    _teeth_row(profile, _LOW_EDGE, s, lower_centre, mm_px, ARCH_RADIUS_MM - 2.5, LOWER_TEETH, -0.6, soft,
               palette.light, 1.0, 0.6, turn)
    profile[_LOW_SHADE] *= 0.8  # the lower teeth sit in the upper row's and the lip's shade
    if not teeth:
        profile[[_UP_ON, _LOW_ON]] = 0.0
    # tongue: rests behind the lower incisors, its back rises into view as the jaw opens
    drop = max(float(lower_centre[1] - skull.canvas(skull.world(palette.lower_edge)[:2])[1]), 0.0)
    across = np.clip(1.0 - ((s - lower_centre[0]) / (22.0 * mm_px)) ** 2, 0.0, 1.0)
    profile[_TONGUE] = lower_centre[1] + 1.5 * mm_px - 0.45 * drop * across**0.7
    side = np.clip(np.abs(s - mid_s) / half, 0.0, 1.0)
    profile[_SIDE] = 1.0 - 0.75 * side**3  # the buccal corridors are darker
    groove = 1.0 - 0.25 * np.exp(-0.5 * ((s - lower_centre[0]) / max(1.2 * mm_px, soft)) ** 2)
    profile[_TONGUE_SHADE] = profile[_SIDE] * groove
    band = max(0.6 * mm_px, 0.8) * min(gap / max(4.0 * mm_px, 1.0), 1.0)
    if band < 0.3:
        band = -1e4  # no inner-lip band while the lips barely part
    knobs = np.array([soft, max(mm_px, 0.8), max(0.22 * gap, 1.0), 0.6 * band, band,
                      max(0.5 * drop + 2.0 * mm_px, 1.0), max(mm_px, 0.7),
                      palette.grain if palette.grain > 0.3 else 0.0], np.float32)
    colours = np.stack([palette.cavity, palette.tongue, palette.teeth, palette.gum,
                        palette.inner_lip]).astype(np.float32)
    canvas = np.empty((height, width, 4), np.float32)
    _paint(canvas, np.float32(t0), profile, knobs, colours, palette.noise,
           int(np.rint(t0)) % GRAIN_TILE, int(np.rint(s0)) % GRAIN_TILE)
    return canvas


@numba.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _ramp(x, width):  # pragma: no cover - jitted
    """Anti-aliased step: 0 for x << 0, 1 for x >> 0, linear over `width` px."""
    v = x / width + 0.5
    return 0.0 if v < 0.0 else min(v, 1.0)


@numba.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _decay(x):  # pragma: no cover - jitted
    """A cheap stand-in for exp(-x), x >= 0, for soft shading fall-offs."""
    return 1.0 / (1.0 + x * (1.0 + 0.5 * x))


@numba.njit(cache=True, nogil=True, fastmath=True)
def _paint(canvas, t0, profile, knobs, colours, noise, noise_row, noise_col):  # pragma: no cover - jitted
    """Shade every canvas pixel (H, W, 4) float32 from the per-column profile (13, W) float32.

    Layers front to back: the wet inner-lip band, upper teeth and gum, lower teeth and gum, tongue,
    cavity; then the lips' soft shadow, the photo's grain, and the cover (alpha) of the opening.
    knobs: soft edge width, lip-shadow length, cavity light fall-off, upper and lower band widths,
    tongue depth, incisal translucency length (all px), grain (levels). colours (5, 3): cavity,
    tongue, teeth, gum, inner lip.
    """
    soft, shadow_len, near_len, band_up, band_low, tongue_len, edge_len, grain = (
        knobs[0], knobs[1], knobs[2], knobs[3], knobs[4], knobs[5], knobs[6], knobs[7])
    height, width = canvas.shape[0], canvas.shape[1]
    tile = noise.shape[0]
    for j in range(height):
        t = t0 + j
        for i in range(width):
            from_top = t - profile[0, i]
            from_bottom = profile[1, i] - t
            cover = _ramp(from_top, 1.0) * _ramp(from_bottom, 1.0)
            canvas[j, i, 3] = cover
            if cover <= 0.0:
                canvas[j, i, 0] = canvas[j, i, 1] = canvas[j, i, 2] = 0.0
                continue
            up_edge, up_gum = profile[2, i], profile[3, i]
            up = _ramp(up_edge - t, soft) * _ramp(t - up_gum, soft) * profile[5, i]
            gum = _ramp(up_gum - t, soft) * profile[5, i]
            behind = max(1.0 - up - gum, 0.0)
            low = _ramp(t - profile[6, i], soft) * profile[9, i] * behind
            low_gum = _ramp(t - profile[7, i], soft)
            gum += low * low_gum
            low *= 1.0 - low_gum
            behind *= 1.0 - _ramp(t - profile[6, i], soft) * profile[9, i]
            tongue = _ramp(t - profile[10, i], soft) * behind
            cavity = behind - tongue
            # shading of each layer
            above, below = max(from_top, 0.0), max(from_bottom, 0.0)
            near = _decay(min(above, below) / near_len)
            cavity *= profile[12, i] * (0.3 + 0.7 * near)
            tongue *= profile[11, i] * (0.45 + 0.55 * min(max((t - profile[10, i]) / tongue_len, 0.0), 1.0))
            crown = min(max((up_edge - t) / max(up_edge - up_gum, 1.0), 0.0), 1.0)
            up *= profile[4, i] * (1.0 - 0.12 * _decay(crown * (up_edge - up_gum) / edge_len)) \
                * (1.0 - 0.15 * crown * crown)
            low *= profile[8, i]
            gum *= 0.75
            shadow = 1.0 - 0.35 * _decay(above / shadow_len) - 0.25 * _decay(below / shadow_len)
            band = max(1.0 - _ramp(from_top - band_up, soft), 1.0 - _ramp(from_bottom - band_low, soft))
            keep = shadow * (1.0 - band)
            grain_here = grain * noise[(noise_row + j) % tile, (noise_col + i) % tile]
            for c in range(3):
                value = (cavity * colours[0, c] + tongue * colours[1, c] + (up + low) * colours[2, c]
                         + gum * colours[3, c])
                canvas[j, i, c] = keep * value + 0.85 * band * colours[4, c] + grain_here


@numba.njit(cache=True, nogil=True)
def _blend(region, canvas, mask):  # pragma: no cover - jitted
    """region (H, W, 3) uint8 <- canvas (H, W, 4) float32 RGB over it with alpha canvas[..., 3] where
    mask (H, W) uint8 is set, in place."""
    for j in range(region.shape[0]):
        for i in range(region.shape[1]):
            alpha = canvas[j, i, 3]
            if mask[j, i] == 0 or alpha <= 0.0:
                continue
            for c in range(3):
                old = np.float32(region[j, i, c])
                value = old + alpha * (canvas[j, i, c] - old) + 0.5
                region[j, i, c] = np.uint8(min(max(value, 0.0), 255.0))


# ----------------------------------------------------------------- the photo's own open mouth

@dataclass(frozen=True)
class OwnMouth:
    """The mouth interior a portrait already shows, cut in two along the line where its teeth part: an
    upper part (upper teeth) that moves with the upper lip and a lower part (lower teeth, tongue) that
    moves with the lower lip, on a canvas aligned with the photo's skull frame.

    upper, lower: (h, w, 4) float32, RGB 0..255 and alpha 0..1; skull: the photo's skull frame; corner:
    (2,) px of canvas pixel (0, 0) in its image-plane frame; depth: the mouth's depth (z, px) in the
    photo; upper_lip, lower_lip: (2,) the middles of the photo's inner lips, px; palette: for the cavity
    shown where the parts move apart (no teeth are drawn from it).
    """

    upper: np.ndarray
    lower: np.ndarray
    skull: _Skull
    corner: np.ndarray
    depth: float
    upper_lip: np.ndarray
    lower_lip: np.ndarray
    palette: MouthPalette


# the middle of the inner lips, whose movement carries the photo's teeth
_UPPER_MIDDLE = np.array(tp.LIPS_UPPER_INNER[3:8])
_LOWER_MIDDLE = np.array(tp.LIPS_LOWER_INNER[3:8])


def own_mouth(texture: np.ndarray, points: np.ndarray, palette: MouthPalette) -> OwnMouth:
    """Cut the photo's own mouth interior out of the texture (H, W, 3) uint8, given the photo's
    landmarks (478+, 3) px as detected (lips apart, not a rig's closed rest) and its palette.

    Each part is extended beyond the photo's opening by repeating its rows and columns next to the
    opening's edge, so that a posed opening larger than the photo's still shows teeth where teeth
    would be.
    """
    skull = _skull(points)
    contour = skull.canvas(points[INNER_LIP, :2].astype(np.float64))
    span = np.ptp(contour, axis=0)
    margin = np.array([0.2 * span[0] + 4.0, span[1] + 4.0])
    corner = np.floor(contour.min(axis=0) - margin)
    width, height = (np.ceil(contour.max(axis=0) + margin) - corner).astype(int)
    start = skull.origin[:2] + corner[0] * skull.axis + corner[1] * skull.down
    to_texture = np.array([[skull.axis[0], skull.down[0], start[0]],
                           [skull.axis[1], skull.down[1], start[1]]], np.float64)
    rgb = cv2.warpAffine(np.ascontiguousarray(texture), to_texture, (int(width), int(height)),
                         flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    s = corner[0] + np.arange(width, dtype=np.float64)
    t = (corner[1] + np.arange(height, dtype=np.float32))[:, None]
    upper_lip, lower_lip = contour[:11], np.concatenate([contour[:1], contour[11:][::-1], contour[10:11]])
    top = _curve(s, upper_lip[:, 0], upper_lip[:, 1], 1e4).astype(np.float32)
    bottom = _curve(s, lower_lip[:, 0], lower_lip[:, 1], -1e4).astype(np.float32)
    split = _teeth_parting(rgb, corner[1], top, bottom)
    open_columns = np.flatnonzero(bottom - top >= 3.0)
    if open_columns.size == 0:
        open_columns = np.array([int(np.argmax(bottom - top))])
    # columns beyond the opening's ends repeat the nearest open column
    nearest = open_columns[np.abs(np.arange(width)[:, None] - open_columns[None, :]).argmin(axis=1)]
    rgb, top, bottom, split = rgb[:, nearest], top[nearest], bottom[nearest], split[nearest]
    # rows repeated outwards: a little inside the opening, clear of the lips' inner edges
    rows, columns = np.arange(height)[:, None], np.arange(width)[None, :]
    first = np.clip(np.round(top + 0.3 * (split - top) - corner[1]).astype(int), 0, height - 1)
    last = np.clip(np.round(bottom - 0.3 * (bottom - split) - corner[1]).astype(int), first, height - 1)
    upper = np.empty((height, width, 4), np.float32)
    lower = np.empty((height, width, 4), np.float32)
    upper[..., :3] = rgb[np.maximum(rows, first[None, :]), columns]
    lower[..., :3] = rgb[np.minimum(rows, last[None, :]), columns]
    upper[..., 3] = _ramp_np(split - t, 1.5)
    lower[..., 3] = _ramp_np(t - split, 1.5)
    depth = float(points[INNER_LIP, 2].mean())
    return OwnMouth(upper=upper, lower=lower, skull=skull, corner=corner, depth=depth,
                    upper_lip=points[_UPPER_MIDDLE, :2].mean(axis=0).astype(np.float64),
                    lower_lip=points[_LOWER_MIDDLE, :2].mean(axis=0).astype(np.float64), palette=palette)


def _ramp_np(x: np.ndarray, width: float) -> np.ndarray:
    """Anti-aliased step over arrays: 0 for x << 0, 1 for x >> 0, linear over `width` px."""
    return np.clip(x * (1.0 / width) + 0.5, 0.0, 1.0)


def _teeth_parting(rgb: np.ndarray, t0: float, top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """Per canvas column (W,), the t (skull-frame px) where the upper part of an open mouth ends: the
    darkest row between the teeth (the gap between the rows, or the line where they meet), smoothed
    along the mouth. rgb: (h, w, 3) float32 canvas whose row 0 lies at t0."""
    luma = cv2.blur(rgb @ np.array([0.299, 0.587, 0.114], np.float32), (3, 3))
    height, width = luma.shape
    split = 0.5 * (top + bottom)
    weight = np.zeros(width)
    for i in np.flatnonzero(bottom - top > 3.0):
        gap = bottom[i] - top[i]
        r0 = int(np.clip(np.ceil(top[i] + 0.2 * gap - t0), 0, height - 1))
        r1 = int(np.clip(np.floor(bottom[i] - 0.15 * gap - t0), r0, height - 1))
        column = luma[r0:r1 + 1, i]
        split[i] = t0 + r0 + int(np.argmin(column))
        weight[i] = gap
    if weight.sum() > 0:  # smooth along the mouth, trusting wide columns more
        sigma = max(width / 8.0, 1.0)
        smooth = cv2.GaussianBlur((split * weight)[None].astype(np.float64), (0, 0), sigma)[0]
        norm = cv2.GaussianBlur(weight[None], (0, 0), sigma)[0]
        split = np.where(norm > 1e-6, smooth / np.maximum(norm, 1e-6), split)
    return np.clip(split, top, bottom).astype(np.float32)


def draw_own_interior(frame: np.ndarray, opening: np.ndarray, vertices: np.ndarray, own: OwnMouth) -> None:
    """Paint a portrait's own mouth interior into frame (H, W, 3) uint8 in place where opening is set.

    The photo's upper part moves with the upper lip, its lower part with the lower lip (vertices: posed
    (N, 3) px, the first 478 the face landmarks), both turned and scaled with the head; where they
    move apart a cavity without teeth shows, where they overlap the upper teeth stay in front.
    """
    drawn = _synthetic(opening, vertices, own.palette, teeth=False)
    if drawn is None:
        return
    (x0, y0, x1, y1), canvas = drawn
    posed = _skull(vertices)
    # canvas pixel -> photo position at the mouth's depth -> skull units -> posed image position
    corners = own.corner + np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    photo_xy = own.skull.origin[:2] + corners[:, :1] * own.skull.axis + corners[:, 1:] * own.skull.down
    photo = np.concatenate([photo_xy, np.full((3, 1), own.depth)], axis=1)
    image = posed.world(own.skull.local(photo))[:, :2] - (x0, y0)
    matrix = np.stack([image[1] - image[0], image[2] - image[0], image[0]], axis=1)  # (2, 3)

    def carried(xy: np.ndarray) -> np.ndarray:
        canvas_xy = own.skull.canvas(xy) - own.corner
        return matrix[:, :2] @ canvas_xy + matrix[:, 2] + (x0, y0)

    upper_mid = vertices[_UPPER_MIDDLE, :2].mean(axis=0)
    lower_mid = vertices[_LOWER_MIDDLE, :2].mean(axis=0)
    size = (x1 - x0, y1 - y0)
    for part, offset in ((own.lower, lower_mid - carried(own.lower_lip)),
                         (own.upper, upper_mid - carried(own.upper_lip))):
        moved = matrix.copy()
        moved[:, 2] += offset
        layer = cv2.warpAffine(part, moved, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                               borderValue=0)
        alpha = layer[..., 3:4]
        canvas[..., :3] += alpha * (layer[..., :3] - canvas[..., :3])
    _blend(frame[y0:y1, x0:x1], canvas, _cover_mask(opening, x0, y0, x1, y1))
