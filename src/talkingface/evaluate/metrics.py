"""Metrics on landmark tracks and curves: pure numpy functions, no I/O, no models.

Conventions: a track's ``points`` are (T, 478, 3) MediaPipe landmarks in pixels (NaN where no face),
``times`` (T,) seconds. Distances are normalised by the inter-ocular distance (IOD: outer eye corner
to outer eye corner), so they do not depend on the video's resolution or the face's size. Every
function skips frames without a face (NaN) rather than inventing values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkingface.face import topology as tp
from talkingface.face.geometry import RIGID_POINTS, mean_rotation, similarity_transform

# ------------------------------------------------------------------------------ landmark sets

RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
"""Outer eye corners; their distance is the inter-ocular distance (IOD)."""
LIP_POINTS = tuple(dict.fromkeys(tp.LIPS_UPPER_OUTER + tp.LIPS_LOWER_OUTER + tp.LIPS_UPPER_INNER
                                 + tp.LIPS_LOWER_INNER))
"""The 40 lip landmarks (20 on the outer contour, 20 on the inner one) that M-LMD compares."""
INNER_LIP_PAIRS = tp.INNER_LIP_PAIRS
STABLE_POINTS = (33, 133, 362, 263, 168, 6, 197, 195, 5, 4)
"""Points that do not move with expression: eye corners and the nose bridge (jitter, face alignment)."""
RIGHT_EAR_POINTS = (33, 160, 158, 133, 153, 144)
LEFT_EAR_POINTS = (362, 385, 387, 263, 373, 380)
"""Eye aspect ratio landmarks p1..p6 (corner, two upper lid, corner, two lower lid) per eye."""

assert len(LIP_POINTS) == 40


# ------------------------------------------------------------------------------ per-frame shape


def interocular(points: np.ndarray, *, dims: int = 3) -> np.ndarray:
    """Inter-ocular distance, (T,) pixels: outer eye corner to outer eye corner (3D by default)."""
    return np.linalg.norm(points[:, LEFT_EYE_OUTER, :dims] - points[:, RIGHT_EYE_OUTER, :dims], axis=-1)


def mouth_opening(points: np.ndarray) -> np.ndarray:
    """Mouth opening per frame, (T,) in IOD units.

    The mean 3D gap between five upper and lower inner-lip landmark pairs across the middle of the
    mouth, divided by the 3D inter-ocular distance (so head turns and zoom change it little). 0 for
    closed lips, about 0.3-0.5 for a wide-open mouth. NaN where there is no face.
    """
    upper = points[:, [a for a, _ in INNER_LIP_PAIRS]]
    lower = points[:, [b for _, b in INNER_LIP_PAIRS]]
    gap = np.linalg.norm(upper - lower, axis=-1).mean(axis=1)
    return gap / interocular(points)


def eye_aspect_ratio(points: np.ndarray) -> np.ndarray:
    """Eye aspect ratio per frame, (T,): (|p2-p6| + |p3-p5|) / (2 |p1-p4|), 3D, mean of both eyes.

    About 0.25-0.35 for an open eye, under 0.1 for a closed one (MediaPipe landmarks).
    """
    ratios = []
    for p1, p2, p3, p4, p5, p6 in (RIGHT_EAR_POINTS, LEFT_EAR_POINTS):
        vertical = (np.linalg.norm(points[:, p2] - points[:, p6], axis=-1)
                    + np.linalg.norm(points[:, p3] - points[:, p5], axis=-1))
        ratios.append(vertical / (2.0 * np.linalg.norm(points[:, p1] - points[:, p4], axis=-1)))
    return 0.5 * (ratios[0] + ratios[1])


# ------------------------------------------------------------------------------ time bases


def resample(times: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Linear interpolation of values sampled at ``times`` onto ``grid``.

    Parameters
    ----------
    times : (T,) seconds, strictly increasing
    values : (T, ...) any trailing shape
    grid : (G,) seconds

    Returns
    -------
    (G, ...) float64; NaN outside [times[0], times[-1]] and wherever an interpolated neighbour is NaN
    (a missing face is never bridged).
    """
    times = np.asarray(times, np.float64)
    values = np.asarray(values, np.float64)
    grid = np.asarray(grid, np.float64)
    out = np.full((grid.size,) + values.shape[1:], np.nan)
    if times.size == 0:
        return out
    if times.size == 1:
        out[np.isclose(grid, times[0])] = values[0]
        return out
    inside = (grid >= times[0] - 1e-9) & (grid <= times[-1] + 1e-9)
    g = np.clip(grid[inside], times[0], times[-1])
    right = np.clip(np.searchsorted(times, g, side="right"), 1, times.size - 1)
    left = right - 1
    w = (g - times[left]) / (times[right] - times[left])
    w = w.reshape((-1,) + (1,) * (values.ndim - 1))
    a, b = values[left], values[right]
    mixed = (1.0 - w) * a + w * b
    # exact hits on a valid sample stay valid even when the other neighbour is missing
    mixed = np.where(w <= 1e-9, a, np.where(w >= 1 - 1e-9, b, mixed))
    out[inside] = mixed
    return out


def common_grid(times_a: np.ndarray, times_b: np.ndarray, rate_hz: float) -> np.ndarray:
    """Uniform time grid (G,) seconds at ``rate_hz`` over the span both time bases cover."""
    start = max(float(times_a[0]), float(times_b[0]))
    stop = min(float(times_a[-1]), float(times_b[-1]))
    if stop < start:
        return np.zeros(0)
    count = int(np.floor((stop - start) * rate_hz + 1e-6)) + 1
    return start + np.arange(count) / rate_hz


# ------------------------------------------------------------------------------ correlation


def pearson(a: np.ndarray, b: np.ndarray, *, min_pairs: int = 5) -> float:
    """Pearson correlation of two (N,) curves over the pairs where both are finite.

    NaN when fewer than ``min_pairs`` pairs remain or either curve is constant there.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < min_pairs:
        return float("nan")
    x, y = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    denominator = np.sqrt((x * x).sum() * (y * y).sum())
    if denominator <= 1e-12 * max(1.0, float(np.abs(a[ok]).max() * np.abs(b[ok]).max())):
        return float("nan")
    return float(np.clip((x * y).sum() / denominator, -1.0, 1.0))


@dataclass(frozen=True)
class LagScan:
    """Correlation of a moving curve against a reference curve at integer frame lags.

    lags: (2L+1,) int, frames; correlations: (2L+1,) Pearson r (NaN where undefined); lag L pairs
    ``moving[t + L]`` with ``reference[t]``, so a positive best lag means the moving curve happens
    *later* than the reference. best_lag: lag of the highest correlation (the smallest |lag| on ties);
    best_correlation: that correlation; zero_lag_correlation: correlation at lag 0.
    """

    lags: np.ndarray
    correlations: np.ndarray
    best_lag: int
    best_correlation: float
    zero_lag_correlation: float


def lag_scan(moving: np.ndarray, reference: np.ndarray, *, max_lag: int = 10, min_pairs: int = 5) -> LagScan:
    """Pearson correlation of ``moving`` vs ``reference`` (both (N,), same time grid) at lags
    -max_lag..max_lag frames; see :class:`LagScan` for the sign convention."""
    moving, reference = np.asarray(moving, np.float64), np.asarray(reference, np.float64)
    n = min(moving.size, reference.size)
    lags = np.arange(-max_lag, max_lag + 1)
    correlations = np.full(lags.size, np.nan)
    for k, lag in enumerate(lags):
        if abs(lag) >= n:
            continue
        if lag >= 0:
            correlations[k] = pearson(moving[lag:n], reference[:n - lag], min_pairs=min_pairs)
        else:
            correlations[k] = pearson(moving[:n + lag], reference[-lag:n], min_pairs=min_pairs)
    zero = float(correlations[max_lag])
    if not np.isfinite(correlations).any():
        return LagScan(lags, correlations, 0, float("nan"), zero)
    best = np.nanmax(correlations)
    candidates = lags[np.isclose(correlations, best, rtol=0, atol=1e-12)]
    best_lag = int(candidates[np.argmin(np.abs(candidates))])
    return LagScan(lags, correlations, best_lag, float(best), zero)


# ------------------------------------------------------------------------------ mouth landmarks


def mouth_landmark_distance(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """M-LMD per frame, (T,) in IOD units.

    Each frame of ``points`` (T, 478, >=2) is mapped onto the same frame of ``reference`` by the
    similarity transform fitted on :data:`STABLE_POINTS` (image plane); the score is the mean 2D
    distance of the 40 :data:`LIP_POINTS` after that alignment, divided by the reference frame's 2D
    inter-ocular distance. NaN where either frame has no face.
    """
    out = np.full(points.shape[0], np.nan)
    stable, lips = list(STABLE_POINTS), list(LIP_POINTS)
    iod = interocular(reference, dims=2)
    for t in range(points.shape[0]):
        p, r = points[t, :, :2], reference[t, :, :2]
        if not (np.isfinite(p[stable + lips]).all() and np.isfinite(r[stable + lips]).all()):
            continue
        matrix, offset = similarity_transform(p[stable], r[stable])
        moved = p[lips] @ matrix.T + offset
        out[t] = np.linalg.norm(moved - r[lips], axis=1).mean() / iod[t]
    return out


# ------------------------------------------------------------------------------ stability


def jitter(times: np.ndarray, points: np.ndarray, indices: tuple[int, ...] = STABLE_POINTS) -> float:
    """High-frequency landmark motion, in IOD units (RMS).

    For every three consecutive frames with a face, each stable point's 2D position in the middle
    frame is compared with the straight line between its positions in the outer two (interpolated
    at the middle frame's time, so variable frame rate is handled): the residual is half a second
    difference, i.e. what is left after removing constant-velocity motion. The result is the RMS of
    those residuals over points and frames, divided by each frame's 2D inter-ocular distance.
    Smooth head motion scores near 0, tracker noise and shaking faces score higher. NaN with fewer
    than three consecutive frames with a face.
    """
    if points.shape[0] < 3:
        return float("nan")
    p = points[:, list(indices), :2].astype(np.float64)
    t = np.asarray(times, np.float64)
    w = ((t[1:-1] - t[:-2]) / (t[2:] - t[:-2]))[:, None, None]
    predicted = p[:-2] + w * (p[2:] - p[:-2])
    residual = np.linalg.norm(p[1:-1] - predicted, axis=-1) / interocular(points[1:-1], dims=2)[:, None]
    residual = residual[np.isfinite(residual).all(axis=1)]
    if residual.size == 0:
        return float("nan")
    return float(np.sqrt(np.mean(residual ** 2)))


# ------------------------------------------------------------------------------ blinks


@dataclass(frozen=True)
class Blink:
    """One blink: eyes closed from start_s to end_s (seconds); depth: lowest EAR / open-eye EAR."""

    start_s: float
    end_s: float
    depth: float


def open_eye_level(times: np.ndarray, ear: np.ndarray, *, window_s: float = 3.0) -> np.ndarray:
    """Running median of the eye aspect ratio over +-window_s/2 around each frame, (T,).

    Blinks are short, so the median is the open-eye level even when the person blinks; it follows
    slow changes (head pitch, squinting) that a fixed threshold would mistake for closed eyes.
    """
    times = np.asarray(times, np.float64)
    lo = np.searchsorted(times, times - window_s / 2, side="left")
    hi = np.searchsorted(times, times + window_s / 2, side="right")
    level = np.full(times.size, np.nan)
    for i in range(times.size):
        window = ear[lo[i]:hi[i]]
        window = window[np.isfinite(window)]
        if window.size:
            level[i] = np.median(window)
    return level


def detect_blinks(times: np.ndarray, ear: np.ndarray, *, close_ratio: float = 0.65, open_ratio: float = 0.85,
                  window_s: float = 3.0, max_duration_s: float = 1.0) -> tuple[Blink, ...]:
    """Blinks in an eye-aspect-ratio curve, by hysteresis on the ratio to the open-eye level.

    Parameters
    ----------
    times : (T,) seconds; ear : (T,) eye aspect ratio (NaN where no face; those frames are skipped)
    close_ratio : the eyes count as closing when EAR drops below this fraction of the open level
    open_ratio : ... and as open again once EAR rises above this fraction (> close_ratio), so noise
        around one threshold cannot count one blink twice
    window_s : window of the running median that gives the open level (:func:`open_eye_level`)
    max_duration_s : longer closures (looking down, eyes shut) are not blinks

    Returns
    -------
    tuple of :class:`Blink`, in time order; a closure still running at the end is not counted.
    """
    times = np.asarray(times, np.float64)
    ratio = np.asarray(ear, np.float64) / open_eye_level(times, ear, window_s=window_s)
    blinks: list[Blink] = []
    start, depth = None, 1.0
    for t, r in zip(times, ratio):
        if not np.isfinite(r):
            continue
        if start is None:
            if r < close_ratio:
                start, depth = t, r
        elif r > open_ratio:
            if t - start <= max_duration_s:
                blinks.append(Blink(float(start), float(t), float(depth)))
            start = None
        else:
            depth = min(depth, r)
    return tuple(blinks)


# ------------------------------------------------------------------------------ head pose


def _rigid_rotation(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rotation (3, 3) of the least-squares similarity mapping source (N, 3) onto target (N, 3)."""
    matrix, _ = similarity_transform(source, target)
    u, _, vt = np.linalg.svd(matrix)  # strip the scale
    return u @ vt


@dataclass(frozen=True)
class HeadPose:
    """Head pose of every frame.

    angles: (T, 3) degrees, columns yaw, pitch, roll: the head's rotation away from the clip's mean
    pose about the camera's vertical, horizontal and viewing axes (NaN where no face). Signs follow
    ``talkingface.motion.params``: yaw > 0 turns the face towards the image's right, pitch > 0 tilts
    the chin down, roll > 0 tilts the head clockwise in the image.
    rotations: (T, 3, 3) that rotation as a matrix in camera coordinates (x right, y down, z into
    the image).
    """

    angles: np.ndarray
    rotations: np.ndarray


def head_pose(points: np.ndarray, *, indices: tuple[int, ...] = RIGID_POINTS) -> HeadPose:
    """Head rotation per frame from the 3D landmark geometry (no camera model needed).

    Each frame's rigid points (:data:`RIGID_POINTS`, 3D) are fitted to a reference shape by a
    least-squares similarity transform; the reference is the mean of all frames aligned to the first
    one (two passes). Rotations are taken relative to the clip's mean rotation (chordal mean) and
    split into intrinsic yaw-pitch-roll Euler angles about the camera's axes, which are the face's
    own axes for a speaker who faces the camera on average.
    """
    from scipy.spatial.transform import Rotation

    count = points.shape[0]
    p = points[:, list(indices)].astype(np.float64)
    good = np.isfinite(p).all(axis=(1, 2))
    angles = np.full((count, 3), np.nan)
    rotations = np.full((count, 3, 3), np.nan)
    if not good.any():
        return HeadPose(angles, rotations)
    frames = np.flatnonzero(good)
    reference = p[frames[0]] - p[frames[0]].mean(axis=0)
    for _ in range(2):
        aligned = []
        for t in frames:
            matrix, offset = similarity_transform(p[t], reference)
            aligned.append(p[t] @ matrix.T + offset)
        reference = np.mean(aligned, axis=0)
        reference -= reference.mean(axis=0)
    absolute = np.stack([_rigid_rotation(reference, p[t]) for t in frames])
    relative = absolute @ mean_rotation(absolute).T  # rotation applied on top of the mean pose
    euler = Rotation.from_matrix(relative).as_euler("YXZ", degrees=True)  # about y, then x, then z
    angles[frames] = np.stack([-euler[:, 0], euler[:, 1], euler[:, 2]], axis=1)
    rotations[frames] = relative
    return HeadPose(angles, rotations)


def rotation_steps(rotations: np.ndarray) -> np.ndarray:
    """Angle of the rotation between consecutive frames, (T-1,) degrees (NaN if either is missing)."""
    between = np.einsum("tij,tkj->tik", rotations[1:], rotations[:-1])  # R[t+1] @ R[t].T
    cos = (np.trace(between, axis1=1, axis2=2) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


# ------------------------------------------------------------------------------ audio


def loudness_envelope(samples: np.ndarray, *, range_db: float = 40.0) -> tuple[np.ndarray, np.ndarray]:
    """Loudness envelope of 16 kHz speech at 100 frames/s.

    Short-term RMS level (25 ms window, as :func:`talkingface.audio.features.loudness_db`), mapped
    linearly from [peak - range_db, peak] dB to [0, 1] (quieter is 0).

    Returns
    -------
    times : (N,) seconds, the centre of each 10 ms frame; envelope : (N,) in [0, 1]
    """
    from talkingface.audio.features import FEATURE_RATE, loudness_db

    level = loudness_db(np.asarray(samples, np.float32)).astype(np.float64)
    times = (np.arange(level.size) + 0.5) / FEATURE_RATE
    if level.size == 0:
        return times, level
    peak = float(level.max())
    return times, np.clip((level - (peak - range_db)) / range_db, 0.0, 1.0)


def box_average(times: np.ndarray, values: np.ndarray, grid: np.ndarray, width_s: float) -> np.ndarray:
    """Mean of ``values`` (sampled at ``times``) within +-width_s/2 of each grid time, (G,).

    Used to bring the 100 Hz loudness envelope to a video's frame grid (one frame period wide).
    NaN where the window holds no sample.
    """
    times, values = np.asarray(times, np.float64), np.asarray(values, np.float64)
    csum = np.concatenate(([0.0], np.cumsum(values)))
    lo = np.searchsorted(times, np.asarray(grid) - width_s / 2, side="left")
    hi = np.searchsorted(times, np.asarray(grid) + width_s / 2, side="right")
    count = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (csum[hi] - csum[lo]) / np.maximum(count, 1), np.nan)
