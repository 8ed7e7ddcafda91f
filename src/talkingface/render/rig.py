"""The face rig: the portrait's triangle mesh and how each motion parameter moves its vertices.

The mesh is MediaPipe's face tessellation, fans that fill the eye openings (around centre vertices
that follow the lids; the iris is drawn over them) and the mouth opening (a hole shown as mouth
interior), and three rings of quads reaching from the face outline to the edge of the rendered region
(the first just past the hair's silhouette, then neck and background). Expressions are
procedural blendshapes built from the landmark geometry; the jaw and the head are rotations in 3D
using the landmark depth. All positions are in output pixels: x right, y down, z away from the camera.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkingface.face import topology as tp
from talkingface.motion.params import EXPRESSION_PARAMETERS, PARAMETER_INDEX
from talkingface.render.layers import silhouette_distance

LABEL_SKIN, LABEL_MOUTH, LABEL_EYE = 0, 1, 2
JAW_MAX_DEG = 24.0  # jaw rotation at jawOpen = 1
RIGHT_EYE_FAN, LEFT_EYE_FAN = -2, -1  # the eye fans' centre vertices are the last two of the rig
LINEAR_SHAPES = tuple(name for name in EXPRESSION_PARAMETERS if name not in ("jawOpen", "mouthClose"))


@dataclass(frozen=True)
class Rig:
    """Mesh and deformation model of one portrait at one output resolution.

    rest: (N, 3) float32 vertex positions; uv: (N, 2) float32 texture coordinates; triangles: (M, 3)
    int32; labels: (M,) int8 (LABEL_*); shapes: (K, N, 3) float32 displacements at coefficient 1 for
    LINEAR_SHAPES; jaw_weight, lip_close, head_weight: (N,) float32 per-vertex weights in [0, 1];
    jaw_pivot, head_pivot: (3,) float32; face_height: px; mouth_centre: index of the mouth-fan vertex.
    """

    rest: np.ndarray
    uv: np.ndarray
    triangles: np.ndarray
    labels: np.ndarray
    shapes: np.ndarray
    jaw_weight: np.ndarray
    lip_close: np.ndarray
    head_weight: np.ndarray
    jaw_pivot: np.ndarray
    head_pivot: np.ndarray
    face_height: float
    mouth_centre: int


def build_rig(points: np.ndarray, width: int, height: int, person: np.ndarray | None = None) -> Rig:
    """Build the rig from 478 landmarks (478, 3) in output pixels, for a region of width x height px.

    person: optional (height, width) float32 person coverage; with it, the first ring outside the face
    is placed just beyond the hair's silhouette, so hair moves rigidly with the head.
    """
    points = points.astype(np.float32)
    face_height = float(np.linalg.norm(points[tp.FOREHEAD_TOP, :2] - points[tp.CHIN, :2]))
    rings, ring_head, ring_jaw = _rings(points, width, height, face_height, person)
    mouth_centre = points[list(tp.INNER_LIP_CONTOUR)].mean(axis=0) + [0, 0, 0.08 * face_height]
    # the eye fans turn about their own centres, which follow the lids but not the gaze (the iris is
    # drawn separately, see render.eyes)
    eye_centres = points[[tp.RIGHT_IRIS[0], tp.LEFT_IRIS[0]]]
    rest = np.concatenate([points, rings, mouth_centre[None], eye_centres]).astype(np.float32)
    centre_index = tp.NUM_LANDMARKS + len(rings)
    eye_fans = (len(rest) + RIGHT_EYE_FAN, len(rest) + LEFT_EYE_FAN)
    rest[[tp.RIGHT_IRIS[0], tp.LEFT_IRIS[0], *eye_fans], 2] += 0.03 * face_height  # eyeballs behind the lids
    triangles, labels = _triangles(centre_index, eye_fans)
    jaw_weight, lip_close = _jaw_weights(rest)
    jaw_weight[tp.NUM_LANDMARKS:centre_index] = ring_jaw
    jaw_weight[centre_index] = 0.5
    jaw_weight[list(eye_fans)] = 0.0
    uv = np.ascontiguousarray(rest[:, :2])
    if mouth_is_open(points):  # start from closed lips; opening the jaw reveals the photo's own mouth
        rest = rest + _closing_offset(rest, jaw_weight)
    head_weight = np.ones(len(rest), np.float32)
    head_weight[tp.NUM_LANDMARKS:centre_index] = ring_head
    nose, chin = points[tp.NOSE_TIP], points[tp.CHIN]
    face_width = float(np.linalg.norm(points[tp.RIGHT_FACE_SIDE, :2] - points[tp.LEFT_FACE_SIDE, :2]))
    jaw_pivot = np.array([nose[0], 0.5 * (points[tp.RIGHT_FACE_SIDE, 1] + points[tp.LEFT_FACE_SIDE, 1]),
                          nose[2] + 0.75 * face_width], np.float32)
    head_pivot = np.array([nose[0], 0.5 * (nose[1] + chin[1]), nose[2] + 0.7 * face_width], np.float32)
    shapes = np.zeros((len(LINEAR_SHAPES), len(rest), 3), np.float32)
    for k, name in enumerate(LINEAR_SHAPES):
        shapes[k] = _SHAPE_BUILDERS[name](rest, face_height)
    return Rig(rest=rest, uv=uv, triangles=triangles, labels=labels,
               shapes=shapes, jaw_weight=jaw_weight, lip_close=lip_close, head_weight=head_weight,
               jaw_pivot=jaw_pivot, head_pivot=head_pivot, face_height=face_height,
               mouth_centre=centre_index)


# ----------------------------------------------------------------------------------- mesh topology

RING_COUNT = 3


def _rings(points: np.ndarray, width: int, height: int, face_height: float, person: np.ndarray | None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three rings of vertices outside the face oval: positions (3*36, 3), head and jaw weights (3*36,)."""
    oval = points[list(tp.FACE_OVAL)]
    centre = oval[:, :2].mean(axis=0)
    direction = oval[:, :2] - centre
    length = np.linalg.norm(direction, axis=1, keepdims=True)
    unit = direction / np.maximum(length, 1e-6)
    border = _distance_to_border(centre, unit, width, height)[:, None]
    border = np.maximum(border, length + 3.0)
    gap = border - length
    down = unit[:, 1]  # +1 below the face (neck), -1 above (hair)
    first = length + np.minimum(0.15 * length, 0.3 * gap)
    if person is not None:
        first = _hair_ring(person, oval[:, :2], unit, length, gap, down, face_height, first)
    radii = [first, first + 0.5 * (border - first), border]
    head = [np.clip(1.0 - 0.3 * np.maximum(down, 0), 0, 1),
            np.where(down > 0, 0.5 * np.clip(1.0 - down / 0.4, 0, 1), np.clip(0.5 - 0.4 * down, 0, 0.9)),
            np.zeros(len(oval))]
    jaw = [0.6 * np.maximum(down, 0) ** 3, 0.2 * np.maximum(down, 0) ** 3, np.zeros(len(oval))]
    depth_back = [0.0, 0.1 * face_height, 0.2 * face_height]
    xyz = [np.concatenate([centre + unit * r, (oval[:, 2] + back)[:, None]], axis=1)
           for r, back in zip(radii, depth_back)]
    return (np.concatenate(xyz).astype(np.float32), np.concatenate(head).astype(np.float32),
            np.concatenate(jaw).astype(np.float32))


def _hair_ring(person: np.ndarray, oval: np.ndarray, unit: np.ndarray, length: np.ndarray,
               gap: np.ndarray, down: np.ndarray, face_height: float, default: np.ndarray) -> np.ndarray:
    """Radii (36, 1) of the first ring: just past the person's silhouette above and beside the face
    (hair, ears), the default below it (the neck and body must not follow the head rigidly)."""
    limits = 0.75 * gap[:, 0]
    beyond = silhouette_distance(person, oval, unit, limits) + 0.04 * face_height
    silhouette = length + np.clip(beyond[:, None], default - length, limits[:, None])
    upward = np.clip((0.35 - down) / 0.35, 0.0, 1.0)[:, None]
    return default + upward * (silhouette - default)


def _distance_to_border(origin: np.ndarray, unit: np.ndarray, width: int, height: int) -> np.ndarray:
    """Distance from origin along each unit direction (K, 2) to the region's border, px."""
    with np.errstate(divide="ignore", invalid="ignore"):
        tx = np.where(unit[:, 0] > 0, (width - 1 - origin[0]) / unit[:, 0], -origin[0] / unit[:, 0])
        ty = np.where(unit[:, 1] > 0, (height - 1 - origin[1]) / unit[:, 1], -origin[1] / unit[:, 1])
    tx = np.where(np.abs(unit[:, 0]) < 1e-9, np.inf, tx)
    ty = np.where(np.abs(unit[:, 1]) < 1e-9, np.inf, ty)
    return np.minimum(tx, ty)


def _triangles(mouth_centre: int, eye_centres: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """All triangles (M, 3) and their labels (M,)."""
    parts: list[np.ndarray] = [tp.face_triangles()]
    labels: list[np.ndarray] = [np.full(len(parts[0]), LABEL_SKIN, np.int8)]
    for contour, centre in zip((tp.RIGHT_EYE_CONTOUR, tp.LEFT_EYE_CONTOUR), eye_centres):
        fan = _fan(contour, centre)
        parts.append(fan)
        labels.append(np.full(len(fan), LABEL_EYE, np.int8))
    mouth = _fan(tp.INNER_LIP_CONTOUR, mouth_centre)
    parts.append(mouth)
    labels.append(np.full(len(mouth), LABEL_MOUTH, np.int8))
    count = len(tp.FACE_OVAL)
    previous = np.asarray(tp.FACE_OVAL)
    for ring in range(RING_COUNT):
        current = tp.NUM_LANDMARKS + ring * count + np.arange(count)
        strip = _strip(previous, current)
        parts.append(strip)
        labels.append(np.full(len(strip), LABEL_SKIN, np.int8))
        previous = current
    return np.concatenate(parts).astype(np.int32), np.concatenate(labels)


def _fan(contour: tuple[int, ...], centre: int) -> np.ndarray:
    """Triangles joining a closed contour to a centre vertex."""
    ring = np.asarray(contour)
    return np.stack([np.full(len(ring), centre), ring, np.roll(ring, -1)], axis=1)


def _strip(inner: np.ndarray, outer: np.ndarray) -> np.ndarray:
    """Triangles of the closed quad strip between two rings with the same vertex count."""
    inner_next, outer_next = np.roll(inner, -1), np.roll(outer, -1)
    return np.concatenate([np.stack([inner, inner_next, outer], axis=1),
                           np.stack([inner_next, outer_next, outer], axis=1)])


# -------------------------------------------------------------------------------------- jaw weights

# the lip landmarks between the inner and outer contours (two rows on each lip)
UPPER_LIP_MIDDLE = (184, 74, 73, 72, 11, 302, 303, 304, 408, 183, 42, 41, 38, 12, 268, 271, 272, 407)
LOWER_LIP_MIDDLE = (77, 90, 180, 85, 16, 315, 404, 320, 307, 96, 89, 179, 86, 15, 316, 403, 319, 325)
OPEN_MOUTH_GAP = 0.06  # inner-lip gap / mouth width above which the portrait shows its mouth open


def _inner_lip_gaps(points: np.ndarray) -> np.ndarray:
    """(11, 2) vectors from each upper inner-lip landmark to its lower partner, px."""
    return points[list(tp.LIPS_LOWER_INNER), :2] - points[list(tp.LIPS_UPPER_INNER), :2]


def mouth_is_open(points: np.ndarray) -> bool:
    """Whether landmarks (478+, 3) show parted lips (the photo has its own mouth interior)."""
    width = float(np.linalg.norm(points[tp.MOUTH_LEFT_CORNER, :2] - points[tp.MOUTH_RIGHT_CORNER, :2]))
    gap = float(np.median(np.linalg.norm(_inner_lip_gaps(points)[3:-3], axis=1)))
    return gap > OPEN_MOUTH_GAP * width


def _closing_offset(rest: np.ndarray, jaw_weight: np.ndarray) -> np.ndarray:
    """Displacements (N, 3) that bring parted lips together: the lower lip (and with it the jaw)
    rises 70 % of the gap, the upper lip comes down 30 %."""
    gaps = _inner_lip_gaps(rest)
    offset = np.zeros_like(rest)
    offset[:, :2] = -0.7 * jaw_weight[:, None] * gaps.mean(axis=0)
    offset[list(tp.LIPS_LOWER_INNER), :2] = -0.7 * gaps
    offset[list(tp.LIPS_LOWER_OUTER), :2] = -0.7 * gaps
    offset[list(tp.LIPS_UPPER_INNER), :2] = 0.3 * gaps
    offset[list(tp.LIPS_UPPER_OUTER), :2] = 0.15 * gaps
    offset[tp.NUM_LANDMARKS:] = 0.0
    return offset


def _jaw_weights(rest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-vertex share of the jaw rotation, and how much mouthClose holds a vertex back (lower lip)."""
    left, right = rest[tp.MOUTH_LEFT_CORNER], rest[tp.MOUTH_RIGHT_CORNER]
    mouth_width = float(np.linalg.norm(left[:2] - right[:2]))
    # signed distance below the line through the mouth corners
    axis = (left[:2] - right[:2]) / max(mouth_width, 1e-6)
    normal = np.array([-axis[1], axis[0]])  # points down the face for an upright head
    below = (rest[:, :2] - right[:2]) @ normal
    weight = 1.0 / (1.0 + np.exp(np.clip(-below / (0.12 * mouth_width), -60.0, 60.0)))
    # far out on the cheeks, skin barely follows the jaw
    centre = 0.5 * (left[:2] + right[:2])
    sideways = np.abs((rest[:, :2] - centre) @ axis) / mouth_width
    weight *= np.clip(1.6 - 0.8 * sideways, 0.35, 1.0) ** np.where(below < 0, 2.0, 0.3)
    # every row of the lips goes wholly with its side: in-between weights would fold lip triangles
    # over the opening as the jaw drops
    weight[list(tp.LIPS_UPPER_INNER + tp.LIPS_UPPER_OUTER + UPPER_LIP_MIDDLE)] = 0.0
    # the lower lip follows fully in the middle and half at the corners, along an elliptic profile, so
    # the opening is rounded rather than boxy
    lower = list(tp.LIPS_LOWER_INNER + tp.LIPS_LOWER_OUTER + LOWER_LIP_MIDDLE)
    across = np.clip(((rest[lower, :2] - centre) @ axis) / (0.5 * mouth_width), -1.0, 1.0)
    weight[lower] = 0.5 + 0.5 * np.sqrt(1.0 - across**2)
    for corner in (tp.MOUTH_LEFT_CORNER, tp.MOUTH_RIGHT_CORNER, 78, 308):
        weight[corner] = 0.5
    weight[tp.NUM_LANDMARKS:] = 0.0
    lip_close = np.zeros(len(rest), np.float32)
    lip_close[list(tp.LIPS_LOWER_INNER + tp.LIPS_LOWER_OUTER + LOWER_LIP_MIDDLE)] = 1.0
    lip_close[[tp.MOUTH_LEFT_CORNER, tp.MOUTH_RIGHT_CORNER, 78, 308]] = 1.0
    return weight.astype(np.float32), lip_close


# ------------------------------------------------------------------------------- linear blendshapes

def _falloff(rest: np.ndarray, centre: np.ndarray, sigma: float) -> np.ndarray:
    """(N, 1) Gaussian weight of each vertex's 2D distance to centre (px)."""
    distance2 = np.sum((rest[:, :2] - centre[:2]) ** 2, axis=1)
    return np.exp(-distance2 / (2 * sigma**2))[:, None]


def _mouth_frame(rest: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Mouth centre (2,), unit axis towards the subject's left corner (2,), unit down (2,), width px."""
    left, right = rest[tp.MOUTH_LEFT_CORNER, :2], rest[tp.MOUTH_RIGHT_CORNER, :2]
    width = float(np.linalg.norm(left - right))
    axis = (left - right) / max(width, 1e-6)
    return 0.5 * (left + right), axis, np.array([-axis[1], axis[0]]), width


def _with_z(xy: np.ndarray, z: np.ndarray | float = 0.0) -> np.ndarray:
    out = np.zeros((len(xy), 3), np.float32)
    out[:, :2] = xy
    out[:, 2] = z
    return out


def _only(rest: np.ndarray, indices: tuple[int, ...]) -> np.ndarray:
    mask = np.zeros((len(rest), 1), np.float32)
    mask[list(indices)] = 1.0
    return mask


def _lips_mask(rest: np.ndarray, sigma_scale: float = 0.45) -> np.ndarray:
    """(N, 1) weight of the lips' surroundings; it fades fast above the upper lip, so the nose stays."""
    centre, _, down, width = _mouth_frame(rest)
    return _falloff(rest, centre, sigma_scale * width) * _fade_beyond(rest, rest[0, :2], -down, 0.12 * width)


SKULL_POINTS = (33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 1)
"""Eye corners and the nose: bone, which no expression of the brows or lips moves."""


def _fade_beyond(rest: np.ndarray, origin: np.ndarray, direction: np.ndarray, sigma: float) -> np.ndarray:
    """(N, 1) weight 1 on the near side of the line through origin (2,) across direction (2,), and a
    Gaussian fade (sigma px) with the distance past it along direction."""
    beyond = np.maximum((rest[:, :2] - origin) @ direction, 0.0)
    return np.exp(-0.5 * (beyond / sigma) ** 2)[:, None]


def _pucker(rest: np.ndarray, face_height: float, narrow: float = 0.28, open_: float = 0.0) -> np.ndarray:
    centre, _, down, width = _mouth_frame(rest)
    weight = _lips_mask(rest)
    inward = (centre - rest[:, :2]) * narrow
    lower = _only(rest, tp.LIPS_LOWER_INNER[1:-1] + tp.LIPS_LOWER_OUTER[1:-1])
    upper = _only(rest, tp.LIPS_UPPER_INNER[1:-1] + tp.LIPS_UPPER_OUTER[1:-1])
    part = (lower - upper) * down * open_ * width
    return _with_z(inward * weight + part, -0.06 * face_height * weight[:, 0])


def _funnel(rest: np.ndarray, face_height: float) -> np.ndarray:
    return _pucker(rest, face_height, narrow=0.18, open_=0.06)


NOSE_BASE = 2  # subnasale: the mouth's shapes fade out above it


def _corner(rest: np.ndarray, face_height: float, corner: int, out: float, up: float) -> np.ndarray:
    centre, axis, down, width = _mouth_frame(rest)
    side = np.sign((rest[corner, :2] - centre) @ axis)
    move = axis * side * out * width - down * up * width
    weight = _falloff(rest, rest[corner], 0.38 * width) * _fade_beyond(rest, rest[NOSE_BASE, :2], -down,
                                                                        0.05 * face_height)
    weight[list(SKULL_POINTS)] = 0.0
    return _with_z(weight * move)


def _smile(corner: int):
    """Mouth corner out and up, and the cheek below the eye raised (not the eye itself)."""
    def build(rest: np.ndarray, face_height: float) -> np.ndarray:
        shape = _corner(rest, face_height, corner, out=0.14, up=0.12)
        centre, axis, down, width = _mouth_frame(rest)
        lids = tp.LEFT_EYE_LOWER0 if (rest[corner, :2] - centre) @ axis > 0 else tp.RIGHT_EYE_LOWER0
        cheek = _falloff(rest, rest[corner, :2] - down * 0.6 * width, 0.35 * width)
        cheek *= _fade_beyond(rest, rest[list(lids), :2].mean(axis=0), -down, 0.02 * face_height)
        cheek[list(SKULL_POINTS)] = 0.0
        shape[:, 1] -= cheek[:, 0] * 0.04 * face_height
        return shape
    return build


def _frown(corner: int):
    return lambda rest, face_height: _corner(rest, face_height, corner, out=0.03, up=-0.09)


def _stretch(corner: int):
    return lambda rest, face_height: _corner(rest, face_height, corner, out=0.12, up=-0.03)


def _side_weight(rest: np.ndarray, corner: int) -> np.ndarray:
    centre, axis, _, width = _mouth_frame(rest)
    side = np.sign((rest[corner, :2] - centre) @ axis)
    along = ((rest[:, :2] - centre) @ axis) * side / width
    return np.clip(0.5 + along, 0.0, 1.0)[:, None]


def _lip_move(indices: tuple[int, ...], amount: float, corner: int | None):
    """A shape moving the given lip vertices (and their surroundings) along the face's down axis."""
    def build(rest: np.ndarray, face_height: float) -> np.ndarray:
        _, _, down, width = _mouth_frame(rest)
        members = _only(rest, indices)
        near = np.max([_falloff(rest, rest[i], 0.12 * width)[:, 0] for i in indices], axis=0)[:, None]
        weight = np.maximum(members, 0.6 * near * (1 - _only(rest, tp.LIPS_UPPER_INNER + tp.LIPS_LOWER_INNER)))
        if corner is not None:
            weight = weight * _side_weight(rest, corner)
        return _with_z(weight * down * amount * width)
    return build


def _press(corner: int):
    def build(rest: np.ndarray, face_height: float) -> np.ndarray:
        upper = _lip_move(tp.LIPS_UPPER_OUTER[1:-1], 0.05, corner)(rest, face_height)
        lower = _lip_move(tp.LIPS_LOWER_OUTER[1:-1], -0.05, corner)(rest, face_height)
        return upper + lower
    return build


def _blink(upper: tuple[int, ...], lower: tuple[int, ...], upper1: tuple[int, ...],
           upper2: tuple[int, ...], iris: tuple[int, ...], fan: int):
    def build(rest: np.ndarray, face_height: float) -> np.ndarray:
        shape = np.zeros_like(rest)
        gap = rest[list(lower[1:-1]), :2] - rest[list(upper), :2]  # (7, 2) upper lid to lower lid
        shape[list(upper), :2] = 0.88 * gap
        shape[list(lower[1:-1]), :2] = -0.1 * gap
        shape[list(upper1), :2] = 0.55 * gap
        shape[list(upper2), :2] = 0.2 * gap
        shape[list(iris), :2] = 0.15 * gap[3]  # the eye rolls down a little as the lid closes
        shape[fan, :2] = 0.45 * gap[3]  # the fan's centre stays inside the narrowing opening
        return shape
    return build


def _wide(upper: tuple[int, ...], lower: tuple[int, ...], upper1: tuple[int, ...],
          upper2: tuple[int, ...], iris: tuple[int, ...], fan: int):
    """Upper lid raised by a quarter of the eye opening (surprise, fear)."""
    def build(rest: np.ndarray, face_height: float) -> np.ndarray:
        shape = np.zeros_like(rest)
        gap = rest[list(lower[1:-1]), :2] - rest[list(upper), :2]
        shape[list(upper), :2] = -0.25 * gap
        shape[list(upper1), :2] = -0.18 * gap
        shape[list(upper2), :2] = -0.08 * gap
        return shape
    return build


def _gaze(iris: tuple[int, ...], contour: tuple[int, ...], dx: float, dy: float):
    """Move the iris by (dx, dy) eye-widths in image axes."""
    def build(rest: np.ndarray, face_height: float) -> np.ndarray:
        eye_width = float(np.linalg.norm(rest[contour[0], :2] - rest[contour[len(contour) // 2 - 1 + 1], :2]))
        eye_width = max(eye_width, float(np.ptp(rest[list(contour), 0])))
        shape = np.zeros_like(rest)
        shape[list(iris), 0] = dx * eye_width
        shape[list(iris), 1] = dy * eye_width
        return shape
    return build


def _brow(indices: tuple[int, ...], up: float, inward: float = 0.0):
    """Brow raised (up > 0) or lowered, with the forehead above it; the skin below fades out within
    the upper lid's fold, so the eyes and the nose bridge stay where they are."""
    def build(rest: np.ndarray, face_height: float) -> np.ndarray:
        members = np.mean(rest[list(indices), :2], axis=0)
        _, _, down, _ = _mouth_frame(rest)
        weight = _falloff(rest, members, 0.12 * face_height) * _fade_beyond(rest, members, down,
                                                                              0.03 * face_height)
        weight[list(SKULL_POINTS)] = 0.0
        centre_x = rest[tp.BETWEEN_EYES, 0]
        toward = np.sign(centre_x - members[0])
        move = np.array([toward * inward * face_height, -up * face_height])
        return _with_z(weight * move)
    return build


def _cheek_squint(lower: tuple[int, ...], lower1: tuple[int, ...], upper: tuple[int, ...]):
    def build(rest: np.ndarray, face_height: float) -> np.ndarray:
        shape = np.zeros_like(rest)
        gap = rest[list(lower[1:-1]), :2] - rest[list(upper), :2]
        shape[list(lower[1:-1]), :2] = -0.25 * gap
        centre = rest[list(lower1), :2].mean(axis=0) + [0, 0.08 * face_height]
        shape[:, :2] += _falloff(rest, centre, 0.1 * face_height) * np.array([0, -0.025 * face_height])
        return shape
    return build


_R_EYE = (tp.RIGHT_EYE_UPPER0, tp.RIGHT_EYE_LOWER0, tp.RIGHT_EYE_UPPER1, tp.RIGHT_EYE_UPPER2, tp.RIGHT_IRIS,
          RIGHT_EYE_FAN)
_L_EYE = (tp.LEFT_EYE_UPPER0, tp.LEFT_EYE_LOWER0, tp.LEFT_EYE_UPPER1, tp.LEFT_EYE_UPPER2, tp.LEFT_IRIS,
          LEFT_EYE_FAN)
# gaze: the subject's left is the image's right (+x) for a frontal face
_SHAPE_BUILDERS = {
    "mouthFunnel": _funnel,
    "mouthPucker": _pucker,
    "mouthSmileLeft": _smile(tp.MOUTH_LEFT_CORNER),
    "mouthSmileRight": _smile(tp.MOUTH_RIGHT_CORNER),
    "mouthFrownLeft": _frown(tp.MOUTH_LEFT_CORNER),
    "mouthFrownRight": _frown(tp.MOUTH_RIGHT_CORNER),
    "mouthStretchLeft": _stretch(tp.MOUTH_LEFT_CORNER),
    "mouthStretchRight": _stretch(tp.MOUTH_RIGHT_CORNER),
    "mouthPressLeft": _press(tp.MOUTH_LEFT_CORNER),
    "mouthPressRight": _press(tp.MOUTH_RIGHT_CORNER),
    "mouthUpperUpLeft": _lip_move(tp.LIPS_UPPER_OUTER[1:-1] + tp.LIPS_UPPER_INNER[1:-1], -0.07,
                                  tp.MOUTH_LEFT_CORNER),
    "mouthUpperUpRight": _lip_move(tp.LIPS_UPPER_OUTER[1:-1] + tp.LIPS_UPPER_INNER[1:-1], -0.07,
                                   tp.MOUTH_RIGHT_CORNER),
    "mouthLowerDownLeft": _lip_move(tp.LIPS_LOWER_OUTER[1:-1] + tp.LIPS_LOWER_INNER[1:-1], 0.07,
                                    tp.MOUTH_LEFT_CORNER),
    "mouthLowerDownRight": _lip_move(tp.LIPS_LOWER_OUTER[1:-1] + tp.LIPS_LOWER_INNER[1:-1], 0.07,
                                     tp.MOUTH_RIGHT_CORNER),
    "mouthRollLower": _lip_move(tp.LIPS_LOWER_OUTER[1:-1] + tp.LIPS_LOWER_INNER[1:-1], -0.08, None),
    "eyeBlinkLeft": _blink(*_L_EYE),
    "eyeBlinkRight": _blink(*_R_EYE),
    "eyeWideLeft": _wide(*_L_EYE),
    "eyeWideRight": _wide(*_R_EYE),
    "eyeLookUpLeft": _gaze(tp.LEFT_IRIS, tp.LEFT_EYE_CONTOUR, 0.0, -0.12),
    "eyeLookUpRight": _gaze(tp.RIGHT_IRIS, tp.RIGHT_EYE_CONTOUR, 0.0, -0.12),
    "eyeLookDownLeft": _gaze(tp.LEFT_IRIS, tp.LEFT_EYE_CONTOUR, 0.0, 0.12),
    "eyeLookDownRight": _gaze(tp.RIGHT_IRIS, tp.RIGHT_EYE_CONTOUR, 0.0, 0.12),
    "eyeLookInLeft": _gaze(tp.LEFT_IRIS, tp.LEFT_EYE_CONTOUR, -0.22, 0.0),
    "eyeLookInRight": _gaze(tp.RIGHT_IRIS, tp.RIGHT_EYE_CONTOUR, 0.22, 0.0),
    "eyeLookOutLeft": _gaze(tp.LEFT_IRIS, tp.LEFT_EYE_CONTOUR, 0.22, 0.0),
    "eyeLookOutRight": _gaze(tp.RIGHT_IRIS, tp.RIGHT_EYE_CONTOUR, -0.22, 0.0),
    "browInnerUp": lambda rest, fh: (_brow(tp.RIGHT_BROW_UPPER[4:], 0.05)(rest, fh)
                                     + _brow(tp.LEFT_BROW_UPPER[4:], 0.05)(rest, fh)),
    "browOuterUpLeft": _brow(tp.LEFT_BROW_UPPER[:4], 0.05),
    "browOuterUpRight": _brow(tp.RIGHT_BROW_UPPER[:4], 0.05),
    "browDownLeft": _brow(tp.LEFT_BROW_UPPER, -0.035, inward=0.015),
    "browDownRight": _brow(tp.RIGHT_BROW_UPPER, -0.035, inward=0.015),
    "cheekSquintLeft": _cheek_squint(tp.LEFT_EYE_LOWER0, tp.LEFT_EYE_LOWER1, tp.LEFT_EYE_UPPER0),
    "cheekSquintRight": _cheek_squint(tp.RIGHT_EYE_LOWER0, tp.RIGHT_EYE_LOWER1, tp.RIGHT_EYE_UPPER0),
}
assert set(_SHAPE_BUILDERS) == set(LINEAR_SHAPES)

_LINEAR_COLUMNS = np.array([PARAMETER_INDEX[name] for name in LINEAR_SHAPES])


# ------------------------------------------------------------------------------------------- posing

def rotation_matrix(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """3x3 rotation (x right, y down, z away): yaw turns the face to the image's right, pitch lowers
    the chin, roll turns the head clockwise in the image."""
    y, p, r = np.radians([yaw_deg, pitch_deg, roll_deg])
    yaw = np.array([[np.cos(y), 0, -np.sin(y)], [0, 1, 0], [np.sin(y), 0, np.cos(y)]])
    pitch = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    roll = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return (roll @ pitch @ yaw).astype(np.float32)


def pose_vertices(rig: Rig, params: np.ndarray) -> np.ndarray:
    """Deformed vertex positions (N, 3) for one frame of motion parameters (P,) (see PARAMETERS)."""
    coefficients = params[_LINEAR_COLUMNS].astype(np.float32)
    vertices = rig.rest + np.tensordot(coefficients, rig.shapes, axes=1)
    jaw_open = float(np.clip(params[PARAMETER_INDEX["jawOpen"]], 0.0, 1.2))
    mouth_close = float(np.clip(params[PARAMETER_INDEX["mouthClose"]], 0.0, 1.0))
    angle = np.radians(JAW_MAX_DEG) * jaw_open * rig.jaw_weight * (1.0 - mouth_close * rig.lip_close)
    offset = vertices[:, 1:] - rig.jaw_pivot[1:]
    cos, sin = np.cos(angle), np.sin(angle)
    vertices[:, 1] = rig.jaw_pivot[1] + offset[:, 0] * cos - offset[:, 1] * sin
    vertices[:, 2] = rig.jaw_pivot[2] + offset[:, 0] * sin + offset[:, 1] * cos
    yaw, pitch, roll, shift_x, shift_y, scale = params[:6]
    rotation = rotation_matrix(yaw, pitch, roll) * (1.0 + float(scale))
    moved = (vertices - rig.head_pivot) @ rotation.T + rig.head_pivot
    moved[:, 0] += shift_x * rig.face_height
    moved[:, 1] += shift_y * rig.face_height
    return vertices + rig.head_weight[:, None] * (moved - vertices)
