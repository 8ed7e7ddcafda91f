"""Causal speech tracking per 10 ms feature frame: noise floor, speech level, voice activity and
emphasis (rising loudness, pitch peaks), with a handful of floats of state.

A recurrence over feature frames, so it runs forever in constant memory and gives the same output
for the same audio however it is chunked, offline and live alike.
"""

from __future__ import annotations

import math

import numpy as np

ACTIVITY, EMPHASIS = 0, 1  # columns of SpeechTracker.step_block's output

_ABSOLUTE_FLOOR_DB = -60.0  # quieter than this is never speech
_MIN_MARGIN_DB = 6.0
_HYSTERESIS_DB = 4.0
_ONSET_FRAMES = 2  # 20 ms above threshold before speech starts
_HANGOVER_FRAMES = 15  # 150 ms below before it ends


def _clip01(x: float) -> float:
    return min(max(x, 0.0), 1.0)


class SpeechTracker:
    """Feature frames (audio.acoustic.FEATURE_NAMES) -> speech activity and emphasis.

    ``step_block(values (n, F)) -> (n, 2)`` float64: speech activity (0/1) and emphasis (0-1,
    loudness rises and pitch peaks). State: noise floor and speech level (dBFS), activity hysteresis
    counters, pitch statistics.
    """

    def __init__(self) -> None:
        self.floor_db = -70.0
        self.speech_db = -25.0
        self.active = False
        self._above = 0
        self._below = 0
        self._smooth_db = -100.0
        self._log_f0_mean = math.log(150.0)
        self._log_f0_var = 0.04

    def step_block(self, values: np.ndarray) -> np.ndarray:
        out = np.zeros((values.shape[0], 2), np.float64)
        for k, row in enumerate(values[:, :3].tolist()):
            self._step(row, out[k])
        return out

    def _step(self, row: list[float], out: np.ndarray) -> None:
        db, periodicity, pitch = row[:3]
        self._track(db)
        gate = 1.0 if self.active else 0.0
        voiced = _clip01((periodicity - 0.45) / 0.3) * gate
        out[ACTIVITY] = gate
        out[EMPHASIS] = self._emphasis(db, pitch, voiced) * gate

    def _track(self, db: float) -> float:
        """Update floor, speech level and activity with one frame's loudness; returns the threshold."""
        if db < self.floor_db:
            self.floor_db += 0.5 * (db - self.floor_db)
        else:
            self.floor_db += min(db - self.floor_db, 0.01)  # rises at most 1 dB/s
        threshold = max(self.floor_db + max(_MIN_MARGIN_DB, 0.3 * (self.speech_db - self.floor_db)),
                        _ABSOLUTE_FLOOR_DB)
        self._above = self._above + 1 if db > threshold else 0
        self._below = self._below + 1 if db < threshold - _HYSTERESIS_DB else 0
        if not self.active and self._above >= _ONSET_FRAMES:
            self.active = True
        elif self.active and self._below > _HANGOVER_FRAMES:
            self.active = False
        if self.active and db > threshold:  # follows the loud part of speech: up fast, down slowly
            self.speech_db += (0.1 if db > self.speech_db else 0.003) * (db - self.speech_db)
        self.speech_db = max(self.speech_db, self.floor_db + 15.0)
        return threshold

    def _emphasis(self, db: float, pitch: float, voiced: float) -> float:
        """Rising loudness (dB/s) and pitch above the speaker's running mean, in [0, 1]."""
        previous = self._smooth_db
        self._smooth_db += 0.3 * (max(db, -100.0) - self._smooth_db)
        onset = _clip01((self._smooth_db - previous) * 100.0 / 300.0)
        high = 0.0
        if voiced > 0.5 and pitch > 0:
            log_f0 = math.log(pitch)
            deviation = log_f0 - self._log_f0_mean
            self._log_f0_mean += 0.01 * deviation
            self._log_f0_var += 0.01 * (deviation * deviation - self._log_f0_var)
            high = _clip01(deviation / max(math.sqrt(self._log_f0_var), 0.05) / 1.5)
        return _clip01(0.6 * onset + 0.4 * high)
