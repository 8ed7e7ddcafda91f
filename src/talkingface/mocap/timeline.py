"""Per-frame fits -> a clean motion timeline: drop-outs filled, tracker noise smoothed, constant rate.

Frames arrive at the video's real timestamps (variable frame rate kept); short drop-outs are
interpolated, long ones ease to the neutral face; a zero-phase Gaussian removes the tracker's
frame-to-frame noise (lighter on the lips and lids, which move fast); the result is resampled onto a
constant frame rate at the same times as the video's audio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from talkingface.motion.params import EXPRESSION_PARAMETERS, HEAD_PARAMETERS, PARAMETERS

EASE_S = 0.3  # time to ease into / out of the neutral face around a long drop-out
# zero-phase smoothing (Gaussian sigma, seconds) per parameter group
SMOOTHING_S = {"head": 0.04, "expression": 0.03, "blink": 0.015}
_BLINKS = [PARAMETERS.index(name) for name in ("eyeBlinkLeft", "eyeBlinkRight")]
_HEAD = list(range(len(HEAD_PARAMETERS)))
_EXPRESSION = [PARAMETERS.index(name) for name in EXPRESSION_PARAMETERS if PARAMETERS.index(name) not in _BLINKS]


@dataclass(frozen=True)
class Gaps:
    """Where the face was missing: interpolated (short drop-outs bridged from both sides) and
    missing (longer, or at the start or end: the neutral face is shown), as (start_s, end_s) spans."""

    interpolated: tuple[tuple[float, float], ...]
    missing: tuple[tuple[float, float], ...]


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) index pairs (end exclusive) of the runs of True in a boolean (T,) mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def fill_gaps(times: np.ndarray, values: np.ndarray, found: np.ndarray, *, max_gap_s: float
              ) -> tuple[np.ndarray, Gaps]:
    """Values (T, P) with the rows where found (T,) is False filled, and where they were.

    A run of missing frames no longer than max_gap_s between two found frames is interpolated
    linearly; any other run shows the neutral face (zeros), eased in and out over EASE_S from the
    nearest found frame. Spans run from the first missing frame's time to the next found frame's
    (or the last frame's) time.
    """
    if not found.any():
        return np.zeros(values.shape), Gaps((), ((float(times[0]), float(times[-1])),))
    out = values.astype(np.float64).copy()
    nearest = _nearest_found_index(times, found)
    interpolated, missing = [], []
    for start, end in true_runs(~found):
        span = (float(times[start]), float(times[min(end, len(times) - 1)]))
        if start > 0 and end < len(times) and times[end] - times[start - 1] <= max_gap_s:
            weight = ((times[start:end] - times[start - 1]) / (times[end] - times[start - 1]))[:, None]
            out[start:end] = (1 - weight) * out[start - 1] + weight * out[end]
            interpolated.append(span)
        else:
            ease = np.clip(1.0 - np.abs(times[start:end] - times[nearest[start:end]]) / EASE_S, 0.0, 1.0)
            out[start:end] = ease[:, None] * out[nearest[start:end]]
            missing.append(span)
    return out, Gaps(tuple(interpolated), tuple(missing))


def _nearest_found_index(times: np.ndarray, found: np.ndarray) -> np.ndarray:
    """(T,) index of the found frame nearest in time to each frame (found must not be all False)."""
    found_index = np.flatnonzero(found)
    right = np.clip(np.searchsorted(found_index, np.arange(len(times))), 0, len(found_index) - 1)
    left = np.clip(right - 1, 0, len(found_index) - 1)
    use_left = np.abs(times - times[found_index[left]]) <= np.abs(times - times[found_index[right]])
    return np.where(use_left, found_index[left], found_index[right])


def smooth(values: np.ndarray, fps: float) -> np.ndarray:
    """Zero-phase Gaussian smoothing of a constant-rate timeline (T, P), per parameter group."""
    out = values.copy()
    for columns, sigma_s in ((_HEAD, SMOOTHING_S["head"]), (_EXPRESSION, SMOOTHING_S["expression"]),
                             (_BLINKS, SMOOTHING_S["blink"])):
        sigma = sigma_s * fps
        if sigma > 0.2 and len(out) > 1:
            out[:, columns] = gaussian_filter1d(out[:, columns], sigma=sigma, axis=0, mode="nearest")
    return out


def constant_rate(times: np.ndarray, values: np.ndarray, fps: float, start_s: float, end_s: float
                  ) -> np.ndarray:
    """Resample values (T, P) taken at times (T,) onto frames start_s + k / fps covering
    [start_s, end_s) (at least one frame); linear in time, ends held."""
    count = max(1, int(round((end_s - start_s) * fps)))
    grid = start_s + np.arange(count) / fps
    if len(times) == 1:
        return np.repeat(values[:1], count, axis=0)
    return np.stack([np.interp(grid, times, values[:, p]) for p in range(values.shape[1])], axis=1)
