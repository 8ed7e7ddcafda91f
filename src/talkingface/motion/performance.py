"""Everything but the lips: head motion, blinks, gaze and brows, seeded and driven by the speech.

All functions return curves sampled at the video frame rate; `rng` makes them deterministic for a
seed and different across seeds.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

BLINK_CLOSE_S, BLINK_HOLD_S, BLINK_OPEN_S = 0.08, 0.04, 0.15


def smooth_noise(rng: np.random.Generator, frames: int, fps: float, period_s: float) -> np.ndarray:
    """Band-limited noise (frames,) with unit expected standard deviation, features about period_s long.

    Scaled by the filter's theoretical gain (not by the sample's own spread, which would blow up a
    clip much shorter than period_s into a huge excursion).
    """
    sigma = max(period_s * fps / 4, 0.5)
    pad = int(4 * sigma) + 1
    noise = gaussian_filter1d(rng.standard_normal(frames + 2 * pad), sigma=sigma)[pad:pad + frames]
    gain = 1.0 / np.sqrt(2.0 * np.sqrt(np.pi) * sigma)  # std of unit white noise after the filter
    return (noise / gain).astype(np.float32)


def speech_emphasis(loudness_db: np.ndarray, pitch_hz: np.ndarray, activity: np.ndarray,
                    feature_rate: float, times: np.ndarray) -> np.ndarray:
    """Emphasis (T,) in [0, 1] at times (T,) s: rising loudness and pitch peaks inside speech."""
    loud = gaussian_filter1d(loudness_db.astype(np.float32), sigma=3)
    slope = np.gradient(loud) if loud.size > 1 else np.zeros_like(loud)  # one frame: no slope
    onset = np.clip(slope * feature_rate / 60.0, 0, None)  # dB/s scaled
    voiced = pitch_hz > 0
    pitch = np.zeros_like(loud)
    if voiced.sum() > 10:
        log_pitch = np.log(np.where(voiced, pitch_hz, np.nan))
        centred = (log_pitch - np.nanmedian(log_pitch)) / max(float(np.nanstd(log_pitch)), 1e-3)
        pitch = np.clip(np.nan_to_num(centred), 0, None)
    emphasis = gaussian_filter1d((onset + 0.5 * pitch) * activity, sigma=6)
    emphasis = emphasis / max(float(np.percentile(emphasis, 98)), 1e-6)
    index = np.clip(np.round(times * feature_rate).astype(int), 0, len(emphasis) - 1)
    return np.clip(emphasis[index], 0, 1).astype(np.float32)


def head_pose(rng: np.random.Generator, emphasis: np.ndarray, activity: np.ndarray, fps: float,
              *, expressiveness: float) -> np.ndarray:
    """Head yaw, pitch, roll in degrees (T, 3): slow drift, plus nods and tilts on emphasis."""
    frames = len(emphasis)
    speaking = gaussian_filter1d(activity, sigma=fps * 0.5)
    energy = 0.45 + 0.55 * speaking  # calmer in silence, never still
    drift = np.stack([smooth_noise(rng, frames, fps, period) for period in (3.0, 2.5, 3.5)], axis=1)
    wobble = np.stack([smooth_noise(rng, frames, fps, period) for period in (0.9, 0.7, 1.1)], axis=1)
    beat = np.stack([smooth_noise(rng, frames, fps, period) for period in (0.35, 0.3, 0.4)], axis=1)
    nod = gaussian_filter1d(emphasis, sigma=fps * 0.08)
    pose = (drift * np.array([3.0, 1.8, 3.0]) + wobble * np.array([1.2, 0.8, 1.2]) * energy[:, None]
            + beat * np.array([0.5, 0.45, 0.55]) * speaking[:, None])
    pose[:, 1] += 3.0 * nod - 1.0 * float(nod.mean())
    pose[:, 2] += 1.2 * nod * rng.choice([-1.0, 1.0])
    return (pose * expressiveness).astype(np.float32)


def blink_times(rng: np.random.Generator, duration_s: float, pauses: np.ndarray, fps: float,
                *, rate_per_min: float) -> list[float]:
    """Blink onsets in seconds: a renewal process (refractory 1.2 s), likelier when speech pauses."""
    if rate_per_min <= 0:
        return []
    mean_gap = 60.0 / rate_per_min
    times: list[float] = []
    t = float(rng.uniform(0.3, mean_gap))
    while t < duration_s:
        times.append(t)
        if rng.random() < 0.1:  # occasional double blink
            times.append(t + 0.35)
        gap = 1.2 + rng.gamma(2.0, (mean_gap - 1.2) / 2.0)
        upcoming = np.nonzero(pauses[int((t + 1.2) * fps):int((t + gap) * fps)])[0]
        if upcoming.size and rng.random() < 0.6:  # move the blink to the start of a pause
            gap = 1.2 + upcoming[0] / fps
        t += gap
    return [b for b in times if b < duration_s]


def blink_curve(onsets: list[float], times: np.ndarray) -> np.ndarray:
    """Lid closure (T,) in [0, 1] for blink onsets (s): fast close, short hold, slower opening."""
    closure = np.zeros(len(times), np.float32)
    for onset in onsets:
        rel = times - onset
        closing = np.clip(rel / BLINK_CLOSE_S, 0, 1)
        opening = np.clip(1 - (rel - BLINK_CLOSE_S - BLINK_HOLD_S) / BLINK_OPEN_S, 0, 1)
        closure = np.maximum(closure, np.where(rel < BLINK_CLOSE_S, closing, opening) * (rel >= 0))
    return closure


def gaze(rng: np.random.Generator, frames: int, fps: float) -> np.ndarray:
    """Gaze offsets (T, 2) (right, up) in [-1, 1]: holds the camera with small saccades between fixations."""
    offsets = np.zeros((frames, 2), np.float32)
    t = 0
    while t < frames:
        hold = int(fps * rng.uniform(0.8, 3.0))
        target = rng.normal(0.0, 0.08, size=2) if rng.random() < 0.8 else rng.normal(0.0, 0.3, size=2)
        offsets[t:t + hold] = np.clip(target, -0.6, 0.6)
        t += hold
    return gaussian_filter1d(offsets, sigma=0.8, axis=0)  # saccades take a frame or two


def brows(emphasis: np.ndarray, fps: float) -> np.ndarray:
    """browInnerUp (T,) raised with emphasis."""
    return np.clip(0.5 * gaussian_filter1d(emphasis, sigma=fps * 0.1) ** 1.5, 0, 0.6).astype(np.float32)
