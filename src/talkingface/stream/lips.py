"""Low-latency acoustic lips: per 10 ms feature frame, lip and jaw targets from loudness, voicing
and spectral balance, with causal level tracking (noise floor, speech level, voice activity).

Everything here is a recurrence over feature frames with a handful of floats of state, so it runs
forever in constant memory and gives the same output for the same audio however it is chunked.
"""

from __future__ import annotations

import math

import numpy as np

from talkingface.motion.lips import LIP_PARAMETERS

LIP = {name: i for i, name in enumerate(LIP_PARAMETERS)}
ACTIVITY = len(LIP_PARAMETERS)  # column of speech activity in [0, 1]
EMPHASIS = ACTIVITY + 1  # column of speech emphasis in [0, 1]
TARGET_COLUMNS = EMPHASIS + 1
"""Width of the per-feature-frame target vectors: the lip parameters, activity, emphasis."""

_ABSOLUTE_FLOOR_DB = -60.0  # quieter than this is never speech
_MIN_MARGIN_DB = 6.0
_HYSTERESIS_DB = 4.0
_ONSET_FRAMES = 2  # 20 ms above threshold before speech starts
_HANGOVER_FRAMES = 15  # 150 ms below before it ends


def _clip01(x: float) -> float:
    return min(max(x, 0.0), 1.0)


class AcousticLips:
    """Feature frames (loudness, periodicity, pitch, brightness, centroid, noisiness) -> targets.

    ``step_block(values (n, 6)) -> (n, TARGET_COLUMNS)`` float64: the lip parameters (ordered as
    ``LIP_PARAMETERS``), speech activity (0/1) and emphasis (0-1, loudness rises and pitch peaks).
    State: noise floor and speech level (dBFS), activity hysteresis counters, pitch statistics.
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
        out = np.zeros((values.shape[0], TARGET_COLUMNS), np.float64)
        for k, row in enumerate(values[:, :6].tolist()):
            self._step(row, out[k])
        return out

    def _step(self, row: list[float], out: np.ndarray) -> None:
        db, periodicity, pitch, brightness, centroid, noisiness = row
        threshold = self._track(db)
        gate = 1.0 if self.active else 0.0
        level = min(max((db - threshold + _HYSTERESIS_DB) / max(self.speech_db - threshold + _HYSTERESIS_DB,
                                                                 6.0), 0.0), 1.25)
        voiced = _clip01((periodicity - 0.45) / 0.3) * gate
        emphasis = self._emphasis(db, pitch, voiced) * gate
        jaw = 0.42 * level ** 1.2 * (0.35 + 0.65 * voiced) * gate
        rounded = voiced * _clip01((900.0 - centroid) / 200.0)
        spread = voiced * _clip01((brightness + 0.9) / 0.45)
        fricative = _clip01((noisiness - 0.3) / 0.4) * (1.0 - voiced) * gate
        closure = gate * (1.0 - _clip01(level / 0.15))  # a stop's silence inside speech: lips meet
        loud = min(level, 1.0)
        out[LIP["jawOpen"]] = jaw
        out[LIP["mouthFunnel"]] = 0.45 * rounded * loud
        out[LIP["mouthPucker"]] = 0.55 * rounded * min(1.0, 2.0 * loud)
        for side in ("Left", "Right"):
            out[LIP[f"mouthStretch{side}"]] = (0.35 * spread * loud + 0.3 * fricative)
            out[LIP[f"mouthLowerDown{side}"]] = 0.4 * jaw
            out[LIP[f"mouthUpperUp{side}"]] = 0.15 * fricative
            out[LIP[f"mouthPress{side}"]] = 0.3 * closure
        out[ACTIVITY] = gate
        out[EMPHASIS] = emphasis

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
