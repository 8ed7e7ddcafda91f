"""Acoustic features on a 100 frames/s grid: loudness, pitch, voicing, speech activity.

Frame ``i`` covers ``[i / 100, (i + 1) / 100)`` seconds; its values are measured in a window
centred on ``(i + 0.5) / 100`` s. An audio of ``N`` samples at 16 kHz has ``ceil(N / 160)`` frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import parselmouth

from talkingface.audio.decode import SAMPLE_RATE

FEATURE_RATE = 100.0
"""Frames per second of every feature array."""
HOP = SAMPLE_RATE // int(FEATURE_RATE)  # 160 samples = 10 ms
FLOOR_DB = -100.0
"""Loudness of digital silence, in dBFS."""

_RMS_WINDOW = 400  # samples, 25 ms
_UNIT = 40  # samples; HOP and _RMS_WINDOW are multiples of it, and so is their half-difference
_PITCH_FLOOR_HZ, _PITCH_CEILING_HZ = 75.0, 600.0


def n_frames(n_samples: int) -> int:
    """Number of 10 ms feature frames for ``n_samples`` samples at 16 kHz."""
    return -(-int(n_samples) // HOP)


def loudness_db(samples: np.ndarray) -> np.ndarray:
    """Short-term RMS level in dBFS (0 dB = full-scale square wave), 25 ms window, 10 ms hop.

    Parameters
    ----------
    samples : np.ndarray, shape (N,), float32 in [-1, 1] at 16 kHz

    Returns
    -------
    np.ndarray, shape (ceil(N / 160),), float32, at least ``FLOOR_DB``
    """
    t = n_frames(samples.size)
    if t == 0:
        return np.zeros(0, np.float32)
    # energies of 40-sample units (little memory for long audio); frame i's window
    # [160 i - 120, 160 i + 280) is units 4 i .. 4 i + 9 of the signal padded by 120 samples
    lead = (_RMS_WINDOW - HOP) // 2
    padded = np.zeros((t * HOP // _UNIT + _RMS_WINDOW // _UNIT) * _UNIT, np.float32)
    padded[lead:lead + samples.size] = samples
    blocks = padded.reshape(-1, _UNIT)
    energy = np.einsum("ij,ij->i", blocks, blocks).astype(np.float64)
    csum = np.concatenate(([0.0], np.cumsum(energy)))
    start = np.arange(t) * (HOP // _UNIT)
    power = (csum[start + _RMS_WINDOW // _UNIT] - csum[start]) / _RMS_WINDOW
    db = 10.0 * np.log10(np.maximum(power, 10.0 ** (FLOOR_DB / 10.0)))
    return db.astype(np.float32)


def pitch_hz(samples: np.ndarray) -> np.ndarray:
    """Fundamental frequency from Praat's autocorrelation pitch tracker (75-600 Hz).

    Parameters
    ----------
    samples : np.ndarray, shape (N,), float32 at 16 kHz

    Returns
    -------
    np.ndarray, shape (ceil(N / 160),), float32
        F0 in Hz, 0 where unvoiced (or where the audio is too short to measure).
    """
    t = n_frames(samples.size)
    out = np.zeros(t, np.float32)
    if samples.size < SAMPLE_RATE * 3 / _PITCH_FLOOR_HZ + HOP:
        return out
    sound = parselmouth.Sound(samples.astype(np.float64), sampling_frequency=SAMPLE_RATE)
    try:
        pitch = sound.to_pitch_ac(time_step=1.0 / FEATURE_RATE, pitch_floor=_PITCH_FLOOR_HZ,
                                  pitch_ceiling=_PITCH_CEILING_HZ)
    except parselmouth.PraatError:
        return out
    f0 = np.nan_to_num(pitch.selected_array["frequency"].astype(np.float32))
    centres = (np.arange(t) + 0.5) / FEATURE_RATE
    idx = np.rint((centres - pitch.x1) / pitch.dx).astype(np.int64)
    valid = (idx >= 0) & (idx < f0.size)
    out[valid] = f0[idx[valid]]
    return out


@dataclass(frozen=True)
class VadSettings:
    """Energy voice-activity detector settings (levels in dB, times in seconds).

    The threshold sits ``relative`` of the way from the noise floor (10th percentile of frame
    loudness) to the speech peak (99th percentile), at least ``min_margin_db`` above the floor
    and never below ``absolute_floor_db``. Speech starts above the threshold, continues until
    ``hysteresis_db`` below it, gaps shorter than ``min_gap_s`` are filled, bursts shorter than
    ``min_speech_s`` dropped, and each region padded by ``onset_pad_s`` / ``hangover_s``.
    """

    relative: float = 0.3
    min_margin_db: float = 6.0
    absolute_floor_db: float = -60.0
    hysteresis_db: float = 4.0
    min_gap_s: float = 0.12
    min_speech_s: float = 0.06
    onset_pad_s: float = 0.03
    hangover_s: float = 0.08


def speech_activity(loudness: np.ndarray, *, settings: VadSettings = VadSettings()) -> np.ndarray:
    """Energy-based speech activity with hysteresis and hangover.

    Parameters
    ----------
    loudness : np.ndarray, shape (T,), dBFS per 10 ms frame (from ``loudness_db``)
    settings : VadSettings, keyword-only

    Returns
    -------
    np.ndarray, shape (T,), float32
        1.0 in speech, 0.0 in silence and pauses.
    """
    if loudness.size == 0:
        return np.zeros(0, np.float32)
    s = settings
    floor = float(np.percentile(loudness, 10))
    peak = float(np.percentile(loudness, 99))
    threshold = max(floor + max(s.min_margin_db, s.relative * (peak - floor)), s.absolute_floor_db)
    active = _hysteresis(loudness, threshold, threshold - s.hysteresis_db)
    active = _fill_short_runs(active, value=False, max_len=_frames(s.min_gap_s))
    active = _fill_short_runs(active, value=True, max_len=_frames(s.min_speech_s))
    active = _pad_runs(active, before=_frames(s.onset_pad_s), after=_frames(s.hangover_s))
    return active.astype(np.float32)


def speech_regions(activity: np.ndarray) -> list[tuple[int, int]]:
    """Runs of ``activity > 0.5`` as ``(start, end)`` frame indices, end exclusive."""
    return _runs(activity > 0.5, True)


def split_utterances(activity: np.ndarray, loudness: np.ndarray, *, max_s: float = 12.0,
                     target_s: float = 8.0, join_gap_s: float = 0.6,
                     pad_s: float = 0.2) -> list[tuple[int, int]]:
    """Group speech into utterances for the recogniser, cut at pauses.

    Speech regions less than ``join_gap_s`` apart are joined while the utterance stays under
    ``target_s``; a region longer than ``max_s`` (speech without pauses) is cut at its quietest
    frames. Each utterance gets up to ``pad_s`` of context on both sides, without overlapping
    its neighbours; longer pauses are not decoded at all.

    Parameters
    ----------
    activity : np.ndarray, shape (T,), speech activity in [0, 1]
    loudness : np.ndarray, shape (T,), dBFS

    Returns
    -------
    list of (start, end) frame indices, end exclusive, sorted and disjoint.
    """
    regions: list[tuple[int, int]] = []
    for start, end in speech_regions(activity):
        regions.extend(_cut_long(start, end, loudness, _frames(max_s), _frames(target_s)))
    groups: list[tuple[int, int]] = []
    for start, end in regions:
        if (groups and end - groups[-1][0] <= _frames(target_s)
                and start - groups[-1][1] < _frames(join_gap_s)):
            groups[-1] = (groups[-1][0], end)
        else:
            groups.append((start, end))
    return _pad_groups(groups, _frames(pad_s), activity.size)


# ----------------------------------------------------------------------------------------------
# run-length helpers on boolean frame masks


def _frames(seconds: float) -> int:
    return int(round(seconds * FEATURE_RATE))


def _runs(mask: np.ndarray, value: bool) -> list[tuple[int, int]]:
    """(start, end) of each run of ``value`` in ``mask``, end exclusive."""
    m = np.concatenate(([not value], mask == value, [not value])).astype(np.int8)
    edges = np.flatnonzero(np.diff(m))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _hysteresis(x: np.ndarray, high: float, low: float) -> np.ndarray:
    """True from each crossing above ``high`` until ``x`` falls below ``low``."""
    above_low = x >= low
    out = np.zeros(x.size, bool)
    for start, end in _runs(above_low, True):
        if np.any(x[start:end] >= high):
            out[start:end] = True
    return out


def _fill_short_runs(mask: np.ndarray, *, value: bool, max_len: int) -> np.ndarray:
    """Flip interior runs of ``value`` no longer than ``max_len`` frames."""
    out = mask.copy()
    for start, end in _runs(mask, value):
        interior = start > 0 and end < mask.size if not value else True
        if end - start <= max_len and interior:
            out[start:end] = not value
    return out


def _pad_runs(mask: np.ndarray, *, before: int, after: int) -> np.ndarray:
    out = mask.copy()
    for start, end in _runs(mask, True):
        out[max(0, start - before):min(mask.size, end + after)] = True
    return out


def _cut_long(start: int, end: int, loudness: np.ndarray, max_len: int,
              target: int) -> list[tuple[int, int]]:
    """Split [start, end) at its quietest frame between ``target / 2`` and ``max_len``."""
    pieces = []
    while end - start > max_len:
        lo, hi = start + target // 2, start + max_len
        cut = lo + int(np.argmin(loudness[lo:hi]))
        pieces.append((start, cut))
        start = cut
    pieces.append((start, end))
    return pieces


def _pad_groups(groups: list[tuple[int, int]], pad: int, total: int) -> list[tuple[int, int]]:
    padded = []
    for i, (start, end) in enumerate(groups):
        prev_end = groups[i - 1][1] if i else 0
        next_start = groups[i + 1][0] if i + 1 < len(groups) else total
        lo = max(start - pad, (prev_end + start) // 2 if i else 0)
        hi = min(end + pad, (end + next_start) // 2 if i + 1 < len(groups) else total)
        padded.append((lo, hi))
    return padded
