"""Fit the head process (motion.head.HeadMotion) to the head poses captured from real talking videos.

Each clip's yaw, pitch and roll (captured on the 100 Hz grid) are centred on the clip's own mean and
smoothed a little (``SMOOTH_S``, which keeps real head movement and drops most tracker jitter). The
statistics per axis are medians over clips: spread (standard deviation, degrees), speed (RMS of the
angular velocity, degrees/s) and the autocorrelation at ``LAGS_S``. The process has per axis a drift
and a wobble (motion.performance: smooth noise, 4-stage low-pass cascade), and their sizes and widths
are fitted by least squares on those statistics, measured the same way on simulated clips of the
same lengths (fixed random numbers, so the fit is deterministic).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.optimize import least_squares
from scipy.signal import lfilter

from talkingface.motion.head import HeadMotion
from talkingface.motion.params import PARAMETER_INDEX
from talkingface.motion.performance import SmoothNoise
from talkingface.train.dataset import Clip

RATE = 100.0  # the clips' grid, frames/s
SMOOTH_S = 0.1
LAGS_S = (0.5, 1.0)
MIN_FRAMES = 300  # clips shorter than 3 s say little about slow motion
AXES = ("headYaw", "headPitch", "headRoll")
_START = np.log([2.0, 0.8, 1.0, 0.25])  # drift deg, drift sigma s, wobble deg, wobble sigma s
_LOWER = np.log([0.05, 0.3, 0.05, 0.15])
_UPPER = np.log([20.0, 3.0, 20.0, 1.0])
_UPPER_SIGMA = float(np.exp(_UPPER[1]))  # the widest drift: simulated clips start this far ahead, to settle


def head_segments(clips: list[Clip]) -> list[np.ndarray]:
    """(T, 3) yaw/pitch/roll (degrees) of each clip's frames with a face, for clips long enough."""
    columns = [PARAMETER_INDEX[name] for name in AXES]
    return [c.motion[c.valid][:, columns].astype(np.float64) for c in clips if c.valid.sum() >= MIN_FRAMES]


def head_statistics(segments: list[np.ndarray], rate: float = RATE) -> np.ndarray:
    """(2 + len(LAGS_S), 3) medians over segments (T, 3) of: spread (deg), speed (deg/s) and the
    autocorrelation at each of LAGS_S, per axis."""
    rows = [_statistics(segment, rate) for segment in segments if len(segment) > max(LAGS_S) * rate + 10]
    if not rows:
        raise ValueError("no clip is long enough to measure head motion")
    return np.median(rows, axis=0)


def _statistics(segment: np.ndarray, rate: float) -> np.ndarray:
    smooth = gaussian_filter1d(segment - segment.mean(axis=0), SMOOTH_S * rate, axis=0)
    spread = smooth.std(axis=0) + 1e-9
    speed = np.sqrt(np.mean((np.diff(smooth, axis=0) * rate) ** 2, axis=0))
    lags = [int(round(lag * rate)) for lag in LAGS_S]
    correlation = [np.mean(smooth[lag:] * smooth[:-lag], axis=0) / spread ** 2 for lag in lags]
    return np.vstack([spread, speed, *correlation])


def smooth_noise(white: np.ndarray, sigma_s: float, rate: float) -> np.ndarray:
    """motion.performance.SmoothNoise's process run over white noise (T,) from rest: the same cascade
    of first-order low-passes, scaled to unit stationary standard deviation."""
    alpha = 1.0 - np.exp(-1.0 / (sigma_s / np.sqrt(SmoothNoise.STAGES) * rate))
    impulse = np.zeros(int(20 * sigma_s * rate) + 8)
    impulse[0] = 1.0
    out, response = white, impulse
    for _ in range(SmoothNoise.STAGES):
        out = lfilter([alpha], [1.0, alpha - 1.0], out)
        response = lfilter([alpha], [1.0, alpha - 1.0], response)
    return out / np.sqrt((response ** 2).sum())


def fit_head_motion(clips: list[Clip], seed: int = 0, copies: int = 4) -> tuple[HeadMotion, dict]:
    """The head process fitted to the clips, and a report: the real statistics and the fitted
    process's, per axis. copies: simulated clips per real clip."""
    segments = head_segments(clips)
    real = head_statistics(segments)
    rng = np.random.default_rng(seed)
    warmup = int(3 * _UPPER_SIGMA * RATE)
    white = [rng.standard_normal((len(s) + warmup, 2)) for s in segments for _ in range(copies)]
    fitted, simulated = [], []
    for axis in range(3):
        target = _comparable(real[:, axis])
        solution = least_squares(lambda p: _comparable(_simulate(p, white, warmup)) - target, _START,
                                 bounds=(_LOWER, _UPPER))
        fitted.append(np.exp(solution.x))
        simulated.append(_simulate(solution.x, white, warmup))
    fitted = np.round(fitted, 4).tolist()
    head = HeadMotion(drift_deg=tuple(row[0] for row in fitted), drift_sigma_s=tuple(row[1] for row in fitted),
                      wobble_deg=tuple(row[2] for row in fitted), wobble_sigma_s=tuple(row[3] for row in fitted),
                      source=f"fitted to {len(segments)} captured talking clips "
                             f"({sum(len(s) for s in segments) / RATE / 60:.1f} min)")
    names = ["spread_deg", "speed_deg_s"] + [f"autocorrelation_{lag}s" for lag in LAGS_S]
    report = {axis: {"real": dict(zip(names, real[:, k].round(3).tolist())),
                     "fitted": dict(zip(names, simulated[k].round(3).tolist()))}
              for k, axis in enumerate(AXES)}
    return head, report


def _simulate(log_params: np.ndarray, white: list[np.ndarray], warmup: int) -> np.ndarray:
    """(2 + len(LAGS_S),) statistics of one axis of the process with these log parameters."""
    drift, drift_sigma, wobble, wobble_sigma = np.exp(log_params)
    segments = [(drift * smooth_noise(w[:, 0], drift_sigma, RATE) + wobble * smooth_noise(w[:, 1], wobble_sigma, RATE))
                [warmup:, None] for w in white]
    return head_statistics(segments)[:, 0]


def _comparable(statistics: np.ndarray) -> np.ndarray:
    """Spread and speed on a log scale (ratios matter), autocorrelations as they are."""
    return np.concatenate([np.log(statistics[:2]), statistics[2:]])
