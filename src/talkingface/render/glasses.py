"""Eyeglasses as a rigid layer: found in the portrait, removed from the face texture, and drawn back
each frame moved with the head only, so blinks, brow raises and squints no longer bend the frame.

Detection works in a canonical view of the eye band: the texture resampled so the eye centres lie at
(-50, 0) and (50, 0) canonical px, whatever the portrait's size or roll. There a line detector (darker,
or lighter, than both sides at several widths and 8 orientations, on log intensity so a shadowed side
counts like a lit one) responds to thin metal and thick plastic frames alike; the eye openings are
blanked out. Each rim is traced as the best closed path around its eye by dynamic programming on a
polar grid (both rims at once, mirrored, since a frame is symmetric; then each on its own, then again
around its own centre), the bridge as the best path across the nose. A face wears glasses when these
paths run along lines below, beside and inside of both eyes and across the nose, where skin has no
such lines running that way (wrinkles, brows and lids fail at least two of these tests). The frame's
pixels are then the traced lines, at their measured widths, and the temple arms that continue them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from talkingface.face import topology as tp

# canonical geometry (px of a view in which the eye centres are EYE_DISTANCE apart)
EYE_DISTANCE = 100.0
CANVAS = (-130.0, -85.0, 130.0, 100.0)  # x0, y0, x1, y1 around the midpoint between the eyes
LENS_CENTRE = (55.0, 12.0)  # first guess of the right lens centre (x mirrored for the left lens)
RADII = np.arange(18.0, 70.0, 0.5, dtype=np.float32)  # rim radii searched around the lens centre
LENS_REACH = (60.0, 46.0)  # farthest horizontal, vertical rim distance from the lens centre
ANGLES = 128  # polar samples around each lens
MIN_EYE_DISTANCE_PX = 24.0  # faces with eyes closer than this in the texture are not searched
EYE_MARGIN = 5  # px around the eye openings (lashes, lid margins) where no rim is looked for
BRIDGE_X = np.arange(-22.0, 22.5, 1.0, dtype=np.float32)  # bridge path columns
BRIDGE_BOTTOM = 22.0  # lowest bridge position; the highest is just below the inner brows
ARM_LENGTH = 40.0  # how far beyond the rim a temple arm is followed
ARM_GAIN_FACTOR = 1.5  # an arm's samples must be this much clearer than LINE_GAIN
MIN_ARM_PX = 5  # shorter arms are left in the texture

# line detector
WIDTHS = (1.5, 2.5, 4.0, 6.0)  # half-widths px at which both sides of a line are compared
ORIENTATIONS = 8
WIDTH_SHARE = 0.6  # a line's width is the smallest of WIDTHS giving this share of its best response
WIDTH_EXCESS = 1.0  # px by which that width exceeds the half-width of a line (blur, sampling)
LOG_GAIN = 60.0  # responses are in LOG_GAIN * log(grey + LOG_OFFSET): ~0.6 per % of contrast
LOG_OFFSET = 16.0
BRIGHT_WEIGHT = 0.7  # lighter-than-both-sides lines (metal against dark hair) count this much

# paths
RESPONSE_CAP = 15.0  # a path sample gains at most this (one strong crossing must not carry a path)
MAX_STEP = 6  # rows a path may move between neighbouring columns (0.5 px rows)
STEP_COST = 0.25  # gain lost per row moved
REFINE_ROWS = 10  # each rim is re-traced within this many rows of the joint (mirrored) path
RECENTRE_PX = 8.0  # ... and again around its own centre, within this many px of the previous path
SNAP_PX = 3.0  # traced samples move at most this far across the path onto the line's centre
PROFILE_PX = 9.0  # how far across a line its profile is sampled to measure its width
PARTNER_BAND = 3.0  # px around the partner rim's mirror image where a faint rim is re-traced
FAINT_GAIN = 3.0  # ... and the gain that counts as frame there
MIN_SHARED = 24  # clear samples both rims need in common to fit the mirror image

# decision
LINE_GAIN = 5.0  # a path sample lies on a line when its gain exceeds this (~8 % contrast)
SECTORS = {"medial": (-35.0, 35.0), "lower": (35.0, 145.0), "lateral": (145.0, 215.0)}  # degrees
BRIDGE_SPAN = 12.0  # the bridge must cover |x| < this
MIN_SCORE = 0.72  # mean coverage of the 6 rim sectors and the bridge
MIN_BRIDGE = 0.6
MIN_LOWER = 0.45  # each lower rim
MIN_BEST_LOWER = 0.75  # the clearer lower rim
WIDTH_TOLERANCE = 1.4  # samples wider than this times the lower rims' median width (+ 0.5) are not frame

# layer
ANCHORS = (168, 6, 197, 195, 9, 33, 133, 362, 263, 130, 359, 127, 356, 139, 368, 116, 345, 107, 336)
FEATHER_PX = 0.8  # alpha falls off over ~2 sigma px outside the removed pixels


@dataclass(frozen=True)
class Glasses:
    """A glasses frame cut out of the texture, drawn back each frame moved rigidly with the head.

    rgba: (h, w, 4) uint8, the frame's bounding box in the original texture (colour) and the layer's
    coverage (alpha, 255 on every pixel the removal changed, feathered outside them); origin:
    (x0, y0) texture px of the box's top-left pixel; anchors: landmark indices whose rest -> posed
    positions fit the layer's motion.
    """

    rgba: np.ndarray
    origin: tuple[int, int]
    anchors: tuple[int, ...] = ANCHORS

    @property
    def rgb(self) -> np.ndarray:
        """(h, w, 3) uint8 colours."""
        return self.rgba[..., :3]

    @property
    def alpha(self) -> np.ndarray:
        """(h, w) float32 coverage in [0, 1]."""
        return self.rgba[..., 3].astype(np.float32) / 255.0


@dataclass(frozen=True)
class Trace:
    """A traced line in the canonical view: positions (n, 2) float32 canvas px, gains (n,) float32
    line response along it, half_widths (n,) float32 canvas px, on_frame (n,) bool samples taken as
    frame, closed: whether the last sample joins the first."""

    positions: np.ndarray
    gains: np.ndarray
    half_widths: np.ndarray
    on_frame: np.ndarray
    closed: bool


@dataclass(frozen=True)
class Detection:
    """What detect_glasses found: found: the decision; scores: coverage of each rim sector
    ("lower_right", ...) and "bridge", in [0, 1], and "score" their mean; traces: in the canonical
    view, the rims (right, left), then (when found) the rims re-traced along each other's mirror
    image, the bridge and any temple arms; transform: (2, 3) texture px -> canvas px; scale: canvas
    px per texture px."""

    found: bool
    scores: dict[str, float]
    traces: tuple[Trace, ...]
    transform: np.ndarray
    scale: float


@dataclass(frozen=True)
class LineMaps:
    """The canonical view's line evidence: response (ORIENTATIONS, H, W) float32 (see frame_response),
    coarse_width (ORIENTATIONS, H, W) float32 px (see line_response), grey (H, W) float32 log intensity."""

    response: np.ndarray
    coarse_width: np.ndarray
    grey: np.ndarray


def canonical_transform(points: np.ndarray) -> np.ndarray:
    """(2, 3) float64 similarity from texture px to canvas px that puts the eye centres (the means
    of the eye contours of points (478, 2+)) at canonical (-50, 0) and (50, 0), i.e. canvas
    (-50 - CANVAS[0], -CANVAS[1]) and (50 - CANVAS[0], -CANVAS[1])."""
    right = points[list(tp.RIGHT_EYE_CONTOUR), :2].mean(axis=0)
    left = points[list(tp.LEFT_EYE_CONTOUR), :2].mean(axis=0)
    across = left - right
    scale = EYE_DISTANCE / max(float(np.linalg.norm(across)), 1e-6)
    angle = np.arctan2(across[1], across[0])
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    linear = np.array([[cos, sin], [-sin, cos]])
    offset = -linear @ (0.5 * (right + left)) - np.array(CANVAS[:2])
    return np.hstack([linear, offset[:, None]])


def canvas_point(x: float, y: float) -> np.ndarray:
    """Canvas px (2,) of canonical coordinates (x, y) (eye centres at (+-50, 0))."""
    return np.array([x - CANVAS[0], y - CANVAS[1]], np.float32)


def log_grey(image: np.ndarray) -> np.ndarray:
    """(H, W) float32 log intensity of an RGB uint8 image (H, W, 3), in LOG_GAIN units, lightly blurred."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return cv2.GaussianBlur(LOG_GAIN * np.log(grey + LOG_OFFSET), (0, 0), 0.8)


def line_response(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How much darker each pixel of grey (H, W) is than both of its sides, for lines along
    ORIENTATIONS directions (k * 180 / ORIENTATIONS degrees from +x): (ORIENTATIONS, H, W) float32,
    the maximum over WIDTHS of min(side_a, side_b) - centre with the sides that many px away across
    the line (a step edge, one side dark, gives ~0, unlike a second-derivative filter); and the
    smallest of WIDTHS giving WIDTH_SHARE of that maximum, about the line's half-width + 1 px
    (ORIENTATIONS, H, W) float32."""
    height, width = grey.shape
    best = np.full((ORIENTATIONS, height, width), -np.inf, np.float32)
    responses = np.empty((len(WIDTHS), height, width), np.float32)
    half_width = np.empty((ORIENTATIONS, height, width), np.float32)
    for k in range(ORIENTATIONS):
        theta = np.pi * k / ORIENTATIONS
        normal = (-np.sin(theta), np.cos(theta))
        for i, w in enumerate(WIDTHS):
            sides = [cv2.warpAffine(grey, np.float32([[1, 0, s * w * normal[0]], [0, 1, s * w * normal[1]]]),
                                    (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                     for s in (1.0, -1.0)]
            np.subtract(np.minimum(sides[0], sides[1]), grey, out=responses[i])
        best[k] = responses.max(axis=0)
        enough = responses >= WIDTH_SHARE * best[k][None]
        half_width[k] = np.asarray(WIDTHS, np.float32)[np.argmax(enough, axis=0)]
    return best, half_width


def frame_response(image: np.ndarray, landmarks: np.ndarray) -> LineMaps:
    """Line evidence of a canonical view image (H, W, 3) uint8 with landmarks (478, 2) canvas px: the
    response is, per orientation, the dark-line response or BRIGHT_WEIGHT times the bright-line one,
    whichever is stronger, and zero over the eye openings and EYE_MARGIN px around them."""
    grey = log_grey(image)
    dark, dark_width = line_response(grey)
    bright, bright_width = line_response(-grey)
    bright *= BRIGHT_WEIGHT
    response = np.maximum(dark, bright)
    coarse_width = np.where(dark >= bright, dark_width, bright_width)
    eyes = np.zeros(image.shape[:2], np.uint8)
    for contour in (tp.RIGHT_EYE_CONTOUR, tp.LEFT_EYE_CONTOUR):
        cv2.fillPoly(eyes, [np.round(landmarks[list(contour)] * 4).astype(np.int32)], 1, cv2.LINE_8, 2)
    eyes = cv2.dilate(eyes, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * EYE_MARGIN + 1,) * 2))
    response[:, eyes > 0] = 0.0
    return LineMaps(np.maximum(response, 0.0), coarse_width, grey)


def polar_grid(centre: np.ndarray, mirrored: bool) -> np.ndarray:
    """Sample positions (len(RADII), ANGLES, 2) float32 canvas px on circles around centre (2,):
    sample (i, j) at radius RADII[i], angle 2 pi j / ANGLES from +x (y down), reflected about the
    vertical when mirrored, so both lenses index alike (angle 0 towards the nose, 90 degrees down)."""
    theta = 2 * np.pi * np.arange(ANGLES) / ANGLES
    theta = np.pi - theta if mirrored else theta
    xs = centre[0] + np.cos(theta)[None] * RADII[:, None]
    ys = centre[1] + np.sin(theta)[None] * RADII[:, None]
    return np.stack([xs, ys], axis=-1).astype(np.float32)


def _sample(maps: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """maps (K, H, W) float32 sampled bilinearly at positions (..., 2) canvas px: (K, ...), 0 outside."""
    xs = np.ascontiguousarray(positions[..., 0], np.float32).reshape(positions.shape[0], -1)
    ys = np.ascontiguousarray(positions[..., 1], np.float32).reshape(positions.shape[0], -1)
    out = np.stack([cv2.remap(m, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                    for m in maps])
    return out.reshape((len(maps),) + positions.shape[:-1])


def _along(maps: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Pick, per sample, the value of maps (ORIENTATIONS, ...) for a line along direction (...) radians,
    interpolated between the two nearest orientations: (...)."""
    position = (direction % np.pi) / (np.pi / ORIENTATIONS)
    low = np.floor(position).astype(np.int64) % ORIENTATIONS
    frac = (position - np.floor(position)).astype(np.float32)
    below = np.take_along_axis(maps, low[None], 0)[0]
    above = np.take_along_axis(maps, ((low + 1) % ORIENTATIONS)[None], 0)[0]
    return below * (1 - frac) + above * frac


def step_gains(response: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Line response for the steps of a path through a grid of positions (R, C, 2) canvas px taking
    one row per column: (2 MAX_STEP + 1, R, C) float32, [s + MAX_STEP, i, j] the response (ORIENTATIONS,
    H, W) at sample (i, j) along the direction of the step to (i + s, j + 1), capped at RESPONSE_CAP
    (the last column steps to the first)."""
    sampled = _sample(response, grid)  # (K, R, C)
    rows, columns = grid.shape[:2]
    row = np.arange(rows)[:, None]
    following = (np.arange(columns)[None] + 1) % columns
    gains = np.zeros((2 * MAX_STEP + 1, rows, columns), np.float32)
    for s in range(-MAX_STEP, MAX_STEP + 1):
        target = grid[np.clip(row + s, 0, rows - 1), following]
        direction = np.arctan2(target[..., 1] - grid[..., 1], target[..., 0] - grid[..., 0])
        gains[s + MAX_STEP] = _along(sampled, direction)
    return np.minimum(gains, RESPONSE_CAP)


def best_path(gains: np.ndarray, allowed: np.ndarray | None = None, closed: bool = True) -> np.ndarray:
    """Row per column (C,) int64 of the path through gains (2 MAX_STEP + 1, R, C) (see step_gains)
    with the largest total gain less STEP_COST per row moved, moving at most MAX_STEP rows between
    neighbouring columns. closed: the last column joins the first (solved over three turns, the
    middle one kept). allowed: optional (R, C) bool of the samples the path may visit."""
    _, rows, columns = gains.shape
    if allowed is not None:
        gains = np.where(allowed[None], gains, np.float32(-1e6))
    tiled = np.tile(gains, (1, 1, 3)) if closed else gains[:, :, :-1]
    # shifted[s + MAX_STEP, i, j]: gain of arriving at row i of column j + 1 by a step of s rows
    shifted = np.full(tiled.shape, -np.inf, np.float32)
    for s in range(-MAX_STEP, MAX_STEP + 1):
        if s >= 0:
            shifted[s + MAX_STEP, s:] = tiled[s + MAX_STEP, :rows - s]
        else:
            shifted[s + MAX_STEP, :s] = tiled[s + MAX_STEP, -s:]
    shifted -= STEP_COST * np.abs(np.arange(-MAX_STEP, MAX_STEP + 1, dtype=np.float32))[:, None, None]
    total = np.zeros(rows + 2 * MAX_STEP)
    total[:MAX_STEP] = total[MAX_STEP + rows:] = -np.inf
    if allowed is not None and not closed:
        total[MAX_STEP:MAX_STEP + rows][~allowed[:, 0]] = -1e6
    # windows[s + MAX_STEP, i]: the total so far at the source row i - s of a step of s rows
    windows = np.lib.stride_tricks.sliding_window_view(total, rows)[::-1]
    source_offset = np.arange(-MAX_STEP, MAX_STEP + 1)
    back = np.zeros((rows, tiled.shape[2]), np.int64)
    index = np.arange(rows)
    for j in range(tiled.shape[2]):
        candidates = windows + shifted[:, :, j]
        choice = np.argmax(candidates, axis=0)
        best = candidates[choice, index]
        back[:, j] = index - source_offset[choice]
        total[MAX_STEP:MAX_STEP + rows] = best
    path = np.zeros(tiled.shape[2] + 1, np.int64)
    path[-1] = int(np.argmax(total[MAX_STEP:MAX_STEP + rows]))
    for j in range(tiled.shape[2] - 1, -1, -1):
        path[j] = back[path[j + 1], j]
    return path[columns:2 * columns] if closed else path


def path_gains(gains: np.ndarray, path: np.ndarray) -> np.ndarray:
    """Gain (C,) of each step of a path (C,) rows through gains (2 MAX_STEP + 1, R, C); the last
    column's step goes to the first column's row."""
    step = np.clip(np.roll(path, -1) - path, -MAX_STEP, MAX_STEP)
    return gains[step + MAX_STEP, path, np.arange(len(path))]


def _lens_allowed(radii: np.ndarray) -> np.ndarray:
    """(len(radii), ANGLES) bool: radii within the ellipse LENS_REACH around a lens centre."""
    theta = 2 * np.pi * np.arange(ANGLES) / ANGLES
    reach = 1.0 / np.hypot(np.cos(theta) / LENS_REACH[0], np.sin(theta) / LENS_REACH[1])
    return radii[:, None] <= reach[None]


def trace_rims(response: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Trace both rims in the canonical response (ORIENTATIONS, H, W): for the right then the left
    lens, (positions (ANGLES, 2) canvas px, gains (ANGLES,)), sample j at angle 2 pi j / ANGLES from
    the nose side (mirrored for the left lens, so index j means the same place on both rims)."""
    allowed = _lens_allowed(RADII)
    grids = [polar_grid(canvas_point(x, LENS_CENTRE[1]), mirrored)
             for x, mirrored in ((-LENS_CENTRE[0], False), (LENS_CENTRE[0], True))]
    gains = [step_gains(response, grid) for grid in grids]
    joint = best_path(gains[0] + gains[1], allowed)
    rows = np.arange(len(RADII))[:, None]
    columns = np.arange(ANGLES)
    rims = []
    for grid, gain, mirrored in zip(grids, gains, (False, True)):
        path = best_path(gain, allowed & (np.abs(rows - joint[None]) <= REFINE_ROWS))
        positions = grid[path, columns]
        centre = positions.mean(axis=0)  # again around the rim's own centre: closer to a circle
        grid = polar_grid(centre, mirrored)
        gain = step_gains(response, grid)
        previous = np.clip(np.linalg.norm(positions - centre, axis=1), RADII[0], RADII[-1])
        path = best_path(gain, np.abs(RADII[:, None] - previous[None]) <= RECENTRE_PX)
        rims.append((grid[path, columns], path_gains(gain, path)))
    return tuple(rims)


def trace_bridge(response: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The best path across the nose between the lenses, below the inner ends of the brows:
    (positions (C, 2) canvas px, gains (C,)) for the columns BRIDGE_X."""
    inner_brows = landmarks[[tp.RIGHT_BROW_LOWER[-1], tp.LEFT_BROW_LOWER[-1]], 1].max() + CANVAS[1]
    top = min(inner_brows + 2.0, BRIDGE_BOTTOM - 10.0)
    ys = np.arange(top, BRIDGE_BOTTOM + 0.25, 0.5, dtype=np.float32)
    grid = np.stack(np.meshgrid(BRIDGE_X - CANVAS[0], ys - CANVAS[1]), axis=-1).astype(np.float32)
    gains = step_gains(response, grid)
    path = best_path(gains, closed=False)
    columns = np.arange(len(BRIDGE_X))
    gain = path_gains(gains, path)
    gain[-1] = gain[-2]  # the last column has no step of its own
    return grid[path, columns], gain


def sector_coverage(gains: np.ndarray, sector: tuple[float, float]) -> float:
    """Fraction of a rim's samples (ANGLES,) in the sector (from, to) degrees (0 = towards the nose,
    90 = down) whose gain exceeds LINE_GAIN."""
    return float(np.mean(gains[_sector_mask(sector)] > LINE_GAIN))


def glasses_scores(rims: tuple[tuple[np.ndarray, np.ndarray], ...], bridge_gains: np.ndarray) -> dict[str, float]:
    """Coverage in [0, 1] of each rim sector ("medial_right", "lower_left", ...) and of the bridge
    over |x| < BRIDGE_SPAN ("bridge"), and their mean ("score")."""
    scores = {f"{name}_{side}": sector_coverage(gains, sector)
              for name, sector in SECTORS.items() for side, (_, gains) in zip(("right", "left"), rims)}
    scores["bridge"] = float(np.mean(bridge_gains[np.abs(BRIDGE_X) < BRIDGE_SPAN] > LINE_GAIN))
    scores["score"] = float(np.mean(list(scores.values())))
    return scores


def wears_glasses(scores: dict[str, float]) -> bool:
    """The decision from glasses_scores: the frame is clear on the whole, across the nose, and under
    both eyes (clearly under at least one)."""
    lower = (scores["lower_right"], scores["lower_left"])
    return (scores["score"] >= MIN_SCORE and scores["bridge"] >= MIN_BRIDGE
            and min(lower) >= MIN_LOWER and max(lower) >= MIN_BEST_LOWER)


def _directions(positions: np.ndarray, closed: bool) -> np.ndarray:
    """Direction (n,) radians of a path (n, 2) at each sample (central differences)."""
    if closed:
        delta = np.roll(positions, -1, axis=0) - np.roll(positions, 1, axis=0)
    else:
        delta = np.gradient(positions, axis=0)
    return np.arctan2(delta[:, 1], delta[:, 0])


def snap(positions: np.ndarray, maps: LineMaps, closed: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Move each sample of a traced path (n, 2) canvas px across the path, at most SNAP_PX, to where
    the line response along the path peaks. Returns the positions (n, 2), the response there (n,)
    and the line's half-width there (n,) px (see line_half_widths)."""
    direction = _directions(positions, closed)
    normal = np.stack([-np.sin(direction), np.cos(direction)], axis=1)
    offsets = np.arange(-SNAP_PX, SNAP_PX + 0.25, 0.5, dtype=np.float32)
    candidates = (positions[:, None] + offsets[None, :, None] * normal[:, None]).astype(np.float32)
    along = np.repeat(direction[:, None], len(offsets), axis=1)
    values = _along(_sample(maps.response, candidates), along)  # (n, O)
    # prefer the nearest of equal peaks, and keep neighbouring samples' offsets consistent
    values = values - 0.05 * np.abs(offsets)[None]
    shift = offsets[np.argmax(values, axis=1)]
    if len(shift) >= 5:
        padded = np.concatenate([shift[-2:], shift, shift[:2]]) if closed else np.pad(shift, 2, mode="edge")
        shift = np.median(np.lib.stride_tricks.sliding_window_view(padded, 5), axis=1).astype(np.float32)
    snapped = (positions + shift[:, None] * normal).astype(np.float32)
    gains = _along(_sample(maps.response, snapped[None])[:, 0], direction)
    coarse = _along(_sample(maps.coarse_width, snapped[None])[:, 0], direction)
    return snapped, gains, line_half_widths(maps.grey, snapped, normal, coarse)


def line_half_widths(grey: np.ndarray, centres: np.ndarray, normal: np.ndarray, coarse: np.ndarray) -> np.ndarray:
    """Half-width (n,) px at half depth of the line through each of centres (n, 2) canvas px, across
    unit normal (n, 2), in grey (H, W): how far either side of the centre the profile gets half way
    back to the background (taken coarse (n,) + 1 px out, the coarse width from line_response); a
    lighter-than-background line is measured on the negated profile. Falls back to coarse less
    WIDTH_EXCESS where the profile shows no line."""
    offsets = np.arange(-PROFILE_PX, PROFILE_PX + 0.25, 0.5, dtype=np.float32)
    points = (centres[:, None] + offsets[None, :, None] * normal[:, None]).astype(np.float32)
    profile = _sample(grey[None], points)[0]  # (n, O)
    middle = len(offsets) // 2
    reach = np.clip(np.round((coarse + 1.0) / 0.5).astype(int), 1, middle)
    rows = np.arange(len(centres))
    sides = np.stack([profile[rows, middle - reach], profile[rows, middle + reach]], axis=1)
    sign = np.where(profile[:, middle] > sides.max(axis=1), -1.0, 1.0).astype(np.float32)
    profile, sides = profile * sign[:, None], sides * sign[:, None]
    centre = profile[:, middle]
    depth = sides.min(axis=1) - centre
    outside = profile >= (centre + 0.5 * depth)[:, None]
    steps = [np.where(side.any(axis=1), np.argmax(side, axis=1), middle)
             for side in (outside[:, middle::-1], outside[:, middle:])]
    half = 0.25 * (steps[0] + steps[1]) - 0.25  # 0.5 px steps; each crossing lies half a step in
    half = np.where(depth > 0, half, coarse - WIDTH_EXCESS)
    return np.clip(half, 0.5, coarse).astype(np.float32)


def _runs(on: np.ndarray, closed: bool, max_gap: int, min_run: int) -> np.ndarray:
    """Clean a per-sample flag (n,) bool: gaps of at most max_gap samples between flagged samples are
    filled, then flagged runs shorter than min_run samples are dropped (circularly when closed)."""
    n = len(on)
    if not on.any():
        return on.copy()
    if on.all():
        return on.copy()
    out = on.copy()
    start = int(np.argmin(on)) if closed else 0  # begin the scan on an unflagged sample
    order = (np.arange(n) + start) % n if closed else np.arange(n)
    flags = on[order]
    labels = np.cumsum(np.r_[True, flags[1:] != flags[:-1]])
    filled = flags.copy()
    for label in np.unique(labels):
        members = np.nonzero(labels == label)[0]
        if not flags[members[0]] and len(members) <= max_gap:
            inner = (closed or (members[0] > 0 and members[-1] < n - 1))
            if inner:
                filled[members] = True
    labels = np.cumsum(np.r_[True, filled[1:] != filled[:-1]])
    for label in np.unique(labels):
        members = np.nonzero(labels == label)[0]
        if filled[members[0]] and len(members) < min_run:
            filled[members] = False
    out[order] = filled
    return out


def trace_arm(maps: LineMaps, rim: Trace, mirrored: bool) -> Trace | None:
    """The temple arm continuing a rim sideways (outwards: -x for the right lens, +x when mirrored),
    if a line leaves the rim's outer side there: a Trace of the run of line samples that starts at the
    rim, or None."""
    outward = 1.0 if mirrored else -1.0
    lateral = rim.positions[:, 0] * outward
    sides = rim.on_frame & (np.abs(rim.positions[:, 1] - rim.positions[:, 1].mean()) < 30.0)
    if not sides.any():
        return None
    start_x = float(rim.positions[sides, 0][np.argmax(lateral[sides])])
    top, bottom = float(rim.positions[:, 1].min()), float(rim.positions[:, 1].mean())
    xs = start_x + outward * np.arange(-2.0, ARM_LENGTH, 1.0, dtype=np.float32)
    ys = np.arange(top - 6.0, bottom + 0.25, 0.5, dtype=np.float32)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).astype(np.float32)
    inside = (grid[..., 0] >= 0) & (grid[..., 0] < CANVAS[2] - CANVAS[0])
    if inside[0].sum() < 8:
        return None
    gains = step_gains(maps.response, grid)
    # the arm starts where the rim's outer side is: rows that the rim reaches near start_x
    near = np.abs(rim.positions[:, 0] - start_x) < 3.0
    start_rows = np.zeros(len(ys), bool)
    for y in rim.positions[near & rim.on_frame, 1]:
        start_rows |= np.abs(ys - y) <= 2.0
    allowed = inside.copy()
    allowed[:, 0] &= start_rows
    if not allowed[:, 0].any():
        return None
    path = best_path(gains, allowed, closed=False)
    positions = grid[path, np.arange(len(xs))]
    positions, gain, widths = snap(positions, maps, closed=False)
    on = _runs(gain > ARM_GAIN_FACTOR * LINE_GAIN, False, 2, 1)
    first_off = np.argmin(on) if not on.all() else len(on)
    if first_off < MIN_ARM_PX:
        return None
    keep = slice(0, int(first_off))
    return Trace(positions[keep], gain[keep], widths[keep], np.ones(int(first_off), bool), False)


def detect_glasses(texture: np.ndarray, points: np.ndarray) -> Detection:
    """Look for a glasses frame on the face of texture (H, W, 3) uint8 RGB with landmarks (478, 2+)
    px (see the module notes); traces are returned whether or not the decision is positive. Faces
    too small to resolve a frame (eyes under MIN_EYE_DISTANCE_PX apart) are never found to wear one."""
    transform = canonical_transform(points)
    scale = float(np.hypot(*transform[0, :2]))
    size = (int(CANVAS[2] - CANVAS[0]), int(CANVAS[3] - CANVAS[1]))
    interpolation = cv2.INTER_AREA if scale < 0.8 else cv2.INTER_LINEAR
    view = cv2.warpAffine(texture, transform, size, flags=interpolation, borderMode=cv2.BORDER_REPLICATE)
    landmarks = points[:, :2] @ transform[:, :2].T + transform[:, 2]
    maps = frame_response(view, landmarks)
    rims = trace_rims(maps.response)
    bridge_positions, bridge_gains = trace_bridge(maps.response, landmarks)
    scores = glasses_scores(rims, bridge_gains)
    found = wears_glasses(scores) and EYE_DISTANCE / scale >= MIN_EYE_DISTANCE_PX
    traces = list(rim_traces(maps, rims, refine=found))
    positions, gains, widths = snap(bridge_positions, maps, closed=False)
    traces.append(Trace(positions, gains, widths, _runs(gains > LINE_GAIN, False, 3, 3), False))
    if found:
        for rim, mirrored in zip(traces[:2], (False, True)):
            arm = trace_arm(maps, rim, mirrored)
            if arm is not None:
                traces.append(arm)
    return Detection(found, scores, tuple(traces), transform, scale)


def rim_traces(maps: LineMaps, rims: tuple[tuple[np.ndarray, np.ndarray], ...], refine: bool) -> tuple[Trace, ...]:
    """The rims (right, left) from trace_rims as Traces snapped onto their lines, with the samples on
    the frame marked: clear line samples no wider than the lower rims' typical width allows. refine:
    also re-trace each rim along its partner's mirror image (a faint rim is found where the clear
    one says it must be), returned after the two rims."""
    snapped = [snap(positions, maps, closed=True) for positions, _ in rims]
    lower = _sector_mask(SECTORS["lower"])
    widths = np.concatenate([w[lower][g[lower] > LINE_GAIN] for _, g, w in snapped])
    typical = float(np.median(widths)) if len(widths) else max(WIDTHS)
    traces = [Trace(p, g, w, _runs((g > LINE_GAIN) & (w <= WIDTH_TOLERANCE * typical + 0.5), True, 3, 3), True)
              for p, g, w in snapped]
    if refine:
        for index, mirrored in ((0, False), (1, True)):
            followed = follow_partner(maps, traces[index], traces[1 - index], mirrored, typical)
            if followed is not None:
                traces.append(followed)
    return tuple(traces)


def follow_partner(maps: LineMaps, rim: Trace, partner: Trace, mirrored: bool, typical: float) -> Trace | None:
    """Re-trace a rim within PARTNER_BAND px of its partner's mirror image (fitted to the rim's own
    clear samples by a scale and shift per axis, which absorbs a turned head), accepting fainter
    samples (gain > FAINT_GAIN) there. None when the two rims share too few clear samples to fit."""
    both = rim.on_frame & partner.on_frame
    if both.sum() < MIN_SHARED:
        return None
    mirror = partner.positions.astype(np.float64).copy()
    mirror[:, 0] = -2.0 * CANVAS[0] - mirror[:, 0]  # canonical x -> -x
    fitted = np.empty_like(mirror)
    for axis in (0, 1):
        design = np.stack([mirror[both, axis], np.ones(both.sum())], axis=1)
        (gain, shift), *_ = np.linalg.lstsq(design, rim.positions[both, axis], rcond=None)
        fitted[:, axis] = gain * mirror[:, axis] + shift
    centre = fitted.mean(axis=0)
    offsets = fitted - centre
    angle = np.arctan2(offsets[:, 1], offsets[:, 0])
    radius = np.hypot(offsets[:, 0], offsets[:, 1])
    order = np.argsort(angle)
    grid = polar_grid(centre.astype(np.float32), mirrored)
    grid_angle = np.arctan2(grid[0, :, 1] - centre[1], grid[0, :, 0] - centre[0])
    expected = np.interp(grid_angle, angle[order], radius[order], period=2 * np.pi)
    reachable = (expected >= RADII[0]) & (expected <= RADII[-1])
    expected = np.clip(expected, RADII[0], RADII[-1])
    path = best_path(step_gains(maps.response, grid), np.abs(RADII[:, None] - expected[None]) <= PARTNER_BAND)
    positions, gains, widths = snap(grid[path, np.arange(ANGLES)], maps, closed=True)
    clear = (gains > FAINT_GAIN) & (widths <= WIDTH_TOLERANCE * typical + 0.5) & reachable
    on = _runs(clear, True, 3, 3)
    return Trace(positions, gains, widths, on, True)


def _sector_mask(sector: tuple[float, float]) -> np.ndarray:
    """(ANGLES,) bool: rim samples within sector (from, to) degrees."""
    degrees = np.arange(ANGLES) * 360.0 / ANGLES
    return ((degrees - sector[0]) % 360.0) < (sector[1] - sector[0])


def frame_mask(detection: Detection, shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    """Texture pixels (H, W) bool covered by the detected frame: every traced segment whose two
    samples are on the frame, drawn at its measured width, plus one px around it; never the eye
    openings of points (478, 2+) px or their lashes (the frame over them stays in the texture)."""
    inverse = cv2.invertAffineTransform(detection.transform)
    mask = np.zeros(shape, np.uint8)
    subpixel = 8
    for trace in detection.traces:
        samples = trace.positions @ inverse[:, :2].T + inverse[:, 2]
        widths = trace.half_widths / detection.scale  # texture px
        count = len(samples)
        for j in range(count if trace.closed else count - 1):
            k = (j + 1) % count
            if not (trace.on_frame[j] and trace.on_frame[k]):
                continue
            thickness = max(1, round(2.0 * float(max(widths[j], widths[k]))))
            a = tuple(int(v) for v in np.round(samples[j] * subpixel))
            b = tuple(int(v) for v in np.round(samples[k] * subpixel))
            cv2.line(mask, a, b, 1, thickness, cv2.LINE_8, 3)
    margin = max(1, round(1.0 / max(detection.scale, 1e-6)))
    mask = cv2.dilate(mask, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
    eyes = np.zeros(shape, np.uint8)
    for contour in (tp.RIGHT_EYE_CONTOUR, tp.LEFT_EYE_CONTOUR):
        cv2.fillPoly(eyes, [np.round(points[list(contour), :2] * subpixel).astype(np.int32)], 1, cv2.LINE_8, 3)
    reach = round(EYE_MARGIN / max(detection.scale, 1e-6))
    eyes = cv2.dilate(eyes, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1,) * 2))
    return (mask > 0) & (eyes == 0)


def prepare_glasses(texture: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, Glasses | None]:
    """Find a glasses frame on the face of texture (H, W, 3) uint8 RGB, landmarks points (478, 3) in
    texture px. If there is one, return the texture with the frame removed (inpainted from its
    surroundings) and the frame as a Glasses layer; otherwise (texture unchanged, None)."""
    detection = detect_glasses(texture, points)
    if not detection.found:
        return texture, None
    mask = frame_mask(detection, texture.shape[:2], points)
    if not mask.any():
        return texture, None
    height, width = mask.shape
    rows, cols = np.nonzero(mask)
    pad = int(np.ceil(3 * FEATHER_PX)) + 2  # the feather, and context for the inpainting
    y0, y1 = max(rows.min() - pad, 0), min(rows.max() + pad + 1, height)
    x0, x1 = max(cols.min() - pad, 0), min(cols.max() + pad + 1, width)
    hole = mask[y0:y1, x0:x1].astype(np.uint8)
    cleaned = texture.copy()
    cleaned[y0:y1, x0:x1] = cv2.inpaint(np.ascontiguousarray(texture[y0:y1, x0:x1]), hole, 3, cv2.INPAINT_TELEA)
    # opaque over every pixel the inpainting changed, so the layer at rest restores the original exactly
    soft = cv2.GaussianBlur(hole.astype(np.float32), (0, 0), FEATHER_PX)
    alpha = np.maximum(hole.astype(np.float32), np.clip(2.0 * soft, 0.0, 1.0))
    rgba = np.dstack([texture[y0:y1, x0:x1], np.round(255.0 * alpha).astype(np.uint8)])
    return cleaned, Glasses(rgba=rgba, origin=(int(x0), int(y0)))


def fit_affine(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares 2D affine (2, 3) float64 mapping source (n, 2) onto target (n, 2), n >= 3."""
    design = np.hstack([source, np.ones((len(source), 1))])
    solution, *_ = np.linalg.lstsq(design, target, rcond=None)
    return solution.T


def draw_glasses(frame: np.ndarray, rest: np.ndarray, rigid: np.ndarray, glasses: Glasses) -> None:
    """Draw the glasses layer into frame (H, W, 3) uint8 in place, moved rigidly with the head.

    rest: (N, 3) the rig's rest vertex positions px (N >= 478; the first 478 are the landmarks);
    rigid: the same vertices posed with the head pose only (no expressions). The layer follows the
    affine that best maps the anchor landmarks from rest to rigid; only its bounding box is warped.
    """
    anchors = list(glasses.anchors)
    motion = fit_affine(rest[anchors, :2].astype(np.float64), rigid[anchors, :2].astype(np.float64))
    box_h, box_w = glasses.rgba.shape[:2]
    x0, y0 = glasses.origin
    corners = np.array([[x0, y0], [x0 + box_w, y0], [x0, y0 + box_h], [x0 + box_w, y0 + box_h]], np.float64)
    moved = corners @ motion[:, :2].T + motion[:, 2]
    height, width = frame.shape[:2]
    dx0, dy0 = max(int(np.floor(moved[:, 0].min())) - 1, 0), max(int(np.floor(moved[:, 1].min())) - 1, 0)
    dx1, dy1 = min(int(np.ceil(moved[:, 0].max())) + 2, width), min(int(np.ceil(moved[:, 1].max())) + 2, height)
    if dx0 >= dx1 or dy0 >= dy1:
        return
    # patch px -> texture px (origin) -> posed px (motion) -> window px
    local = motion.copy()
    local[:, 2] = motion[:, :2] @ np.array([x0, y0], np.float64) + motion[:, 2] - np.array([dx0, dy0])
    layer = cv2.warpAffine(glasses.rgba, local, (dx1 - dx0, dy1 - dy0), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    alpha = layer[..., 3].astype(np.float32)
    alpha *= 1.0 / 255.0
    region = frame[dy0:dy1, dx0:dx1]
    region[:] = cv2.blendLinear(cv2.cvtColor(layer, cv2.COLOR_RGBA2RGB), region, alpha, 1.0 - alpha)
