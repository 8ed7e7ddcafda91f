"""Causal acoustic features on a fixed 10 ms hop, computed as samples arrive.

Feature frame ``i`` describes the audio around ``(i + 0.5) / 100`` s, like
``talkingface.audio.features``: its loudness is the RMS of the 25 ms window centred there (the
same value ``features.loudness_db`` gives), and its voicing, pitch and spectral balance come from a
32 ms Hann window that ends where that loudness window ends. Frame ``i`` is therefore complete once
sample ``160 * i + 280`` has arrived (7.5 ms after the frame's own 10 ms). Every frame is computed
from the same samples with the same operations whatever the chunking, so the features do not
depend on how the audio was cut into chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from talkingface.audio.features import FEATURE_RATE, FLOOR_DB, HOP

RMS_WINDOW = 400  # 25 ms
SPECTRAL_WINDOW = 512  # 32 ms
REACH = HOP // 2 + RMS_WINDOW // 2  # samples after a frame's start that its windows need: 280
_FFT = 1024
_MIN_LAG, _MAX_LAG = 16000 // 600, 16000 // 75  # pitch 75-600 Hz
_BIN_HZ = 16000 / _FFT
_SPEECH_BAND = (int(200 / _BIN_HZ), int(4000 / _BIN_HZ))  # bins of 200-4000 Hz
_SPLIT = int(1700 / _BIN_HZ) - _SPEECH_BAND[0]  # 1.7 kHz inside that band
_BRIGHT_END = int(3500 / _BIN_HZ) - _SPEECH_BAND[0]
_HIGH_BAND = (int(3500 / _BIN_HZ), _FFT // 2 + 1)

FEATURE_NAMES = ("loudness_db", "periodicity", "pitch_hz", "brightness", "centroid_hz", "noisiness")
"""Columns of the arrays ``FeatureExtractor.push`` returns."""


def _window_autocorrelation() -> np.ndarray:
    hann = np.hanning(SPECTRAL_WINDOW)
    spectrum = np.fft.rfft(hann, _FFT)
    r = np.fft.irfft(np.abs(spectrum) ** 2, _FFT)[:_MAX_LAG + 2]
    return r / r[0]


@dataclass(frozen=True)
class FeatureBlock:
    """Feature frames ``first .. first + len - 1``: ``values`` (n, len(FEATURE_NAMES)) float64.

    loudness_db: RMS level, dBFS; periodicity: normalised autocorrelation peak in [0, 1] (voiced
    speech > 0.5); pitch_hz: F0 at that peak (meaningful where periodic); brightness: log10 of the
    energy in 1.7-3.5 kHz over 0.2-1.7 kHz (about -0.4 for spread /i/, -1 to -1.4 for /a o u/);
    centroid_hz: spectral centroid of 0.2-4 kHz (about 700 Hz for rounded /u o/, 950-1100 Hz for
    /a i/); noisiness: share of the energy above 3.5 kHz (fricatives /s f/ > 0.5).
    """

    first: int
    values: np.ndarray


class FeatureExtractor:
    """Turns pushed 16 kHz samples into complete feature frames; keeps only the last 32 ms.

    Samples before the first one pushed count as silence.
    """

    def __init__(self) -> None:
        self._tail = np.zeros(SPECTRAL_WINDOW, np.float64)  # samples before _received
        self._received = 0
        self._next = 0  # next feature frame index
        self._hann = np.hanning(SPECTRAL_WINDOW)
        self._wac = _window_autocorrelation()
        self._band_hz = np.arange(*_SPEECH_BAND) * _BIN_HZ

    @property
    def frames_done(self) -> int:
        """Feature frames produced so far."""
        return self._next

    @property
    def samples_received(self) -> int:
        """Samples pushed so far."""
        return self._received

    @staticmethod
    def samples_needed(frame: int) -> int:
        """Samples that must have arrived before feature frame ``frame`` is complete."""
        return HOP * frame + REACH

    def push(self, samples: np.ndarray) -> FeatureBlock:
        """Add samples (N,) in [-1, 1]; returns the feature frames they completed (maybe none)."""
        samples = np.asarray(samples, np.float64).reshape(-1)
        base = self._received - self._tail.size  # sample index of buf[0]
        buf = np.concatenate([self._tail, samples])
        self._received += samples.size
        end = max(self._next, (self._received - REACH) // HOP + 1) if self._received >= REACH else 0
        first = self._next
        frames = np.arange(first, end)
        values = self._compute(buf, frames * HOP + REACH - base) if frames.size else np.zeros((0, len(FEATURE_NAMES)))
        self._next = end
        self._tail = buf[-SPECTRAL_WINDOW:].copy()
        return FeatureBlock(first, values)

    def _compute(self, buf: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Features (n, len(FEATURE_NAMES)) of the frames whose windows end (exclusive) at buf[ends]."""
        rms = sliding_window_view(buf, RMS_WINDOW)[ends - RMS_WINDOW]
        power = np.einsum("ij,ij->i", rms, rms) / RMS_WINDOW
        loudness = 10.0 * np.log10(np.maximum(power, 10.0 ** (FLOOR_DB / 10.0)))
        frames = sliding_window_view(buf, SPECTRAL_WINDOW)[ends - SPECTRAL_WINDOW] * self._hann
        spectrum = np.abs(np.fft.rfft(frames, _FFT, axis=1)) ** 2
        r = np.fft.irfft(spectrum, _FFT, axis=1)[:, :_MAX_LAG + 2]
        energy = np.maximum(r[:, :1], 1e-12)
        normalised = r[:, _MIN_LAG:_MAX_LAG + 1] / energy / self._wac[_MIN_LAG:_MAX_LAG + 1]
        lag = np.argmax(normalised, axis=1)
        periodicity = np.clip(normalised[np.arange(lag.size), lag], 0.0, 1.0)
        periodicity[power < 1e-9] = 0.0
        pitch = 16000.0 / (lag + _MIN_LAG)
        band = spectrum[:, _SPEECH_BAND[0]:_SPEECH_BAND[1]]
        low = band[:, :_SPLIT].sum(axis=1) + 1e-12
        bright = band[:, _SPLIT:_BRIGHT_END].sum(axis=1) + 1e-12
        centroid = (band * self._band_hz).sum(axis=1) / (band.sum(axis=1) + 1e-12)
        high = spectrum[:, _HIGH_BAND[0]:_HIGH_BAND[1]].sum(axis=1)
        noisiness = high / (spectrum.sum(axis=1) + 1e-12)
        return np.stack([loudness, periodicity, pitch, np.log10(bright / low), centroid, noisiness], axis=1)


def frame_time(frame: int) -> float:
    """Centre time in seconds of feature frame ``frame``."""
    return (frame + 0.5) / FEATURE_RATE
