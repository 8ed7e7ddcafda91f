"""Causal acoustic features on a fixed 10 ms hop, computed as samples arrive: the one feature
front end of the motion engine, offline (a whole clip pushed at once) and live (chunk by chunk).

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

MEL_BANDS = 40
MEL_RANGE_HZ = (60.0, 7600.0)
FEATURE_NAMES = ("loudness_db", "periodicity", "pitch_hz", "brightness", "centroid_hz", "noisiness") + tuple(
    f"mel{k:02d}" for k in range(MEL_BANDS))
"""Columns of the arrays ``FeatureExtractor.push`` returns (mel bands: log energy, dB)."""
MEL = slice(6, 6 + MEL_BANDS)
"""The log-mel columns."""


def mel_filterbank(bands: int = MEL_BANDS, fft: int = 1024, rate: int = 16000,
                   low_hz: float = MEL_RANGE_HZ[0], high_hz: float = MEL_RANGE_HZ[1]) -> np.ndarray:
    """Triangular mel filters (bands, fft // 2 + 1) over the power spectrum's bins (HTK mel scale)."""
    def mel(hz):
        return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)

    edges_hz = 700.0 * (10 ** (np.linspace(mel(low_hz), mel(high_hz), bands + 2) / 2595.0) - 1.0)
    bins = np.arange(fft // 2 + 1) * rate / fft
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (bins[None] - lower) / (centre - lower)
    falling = (upper - bins[None]) / (upper - centre)
    return np.clip(np.minimum(rising, falling), 0.0, None)


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
        self._mel = mel_filterbank()

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
        # summed row by row (not a matrix product, whose blocking depends on the row count), so that
        # every frame is bit-identical however the audio was chunked
        energy = np.stack([(spectrum * band).sum(axis=1) for band in self._mel], axis=1)
        mel = 10.0 * np.log10(np.maximum(energy, 1e-10))
        basic = np.stack([loudness, periodicity, pitch, np.log10(bright / low), centroid, noisiness], axis=1)
        return np.concatenate([basic, mel], axis=1)


class MelNormaliser:
    """Causal per-band normalisation of log-mel frames: minus a running mean, over a running standard
    deviation (time constant ``tau_s``; the first frames average everything seen so far, so it settles
    within a second). Removes the recording's level and colour (microphone, room, distance) the same
    way offline and live. ``step(mel (n, bands)) -> (n, bands)``."""

    def __init__(self, bands: int = MEL_BANDS, tau_s: float = 5.0) -> None:
        self._mean = np.zeros(bands)
        self._var = np.ones(bands)
        self._count = 0
        self._rate = 1.0 - np.exp(-1.0 / (tau_s * 100.0))

    def step(self, mel: np.ndarray) -> np.ndarray:
        out = np.empty_like(mel, dtype=np.float64)
        for k, row in enumerate(np.asarray(mel, np.float64)):
            self._count += 1
            rate = max(1.0 / self._count, self._rate)
            deviation = row - self._mean
            self._mean += rate * deviation
            self._var += rate * (deviation * deviation - self._var)
            out[k] = (row - self._mean) / np.sqrt(self._var + 1.0)
        return out


def clip_features(samples: np.ndarray) -> np.ndarray:
    """Features (ceil(N / 160), len(FEATURE_NAMES)) of a whole clip of 16 kHz samples (N,): exactly
    what a FeatureExtractor gives when the clip is pushed in any chunks and followed by silence."""
    extractor = FeatureExtractor()
    count = -(-samples.size // HOP)
    block = extractor.push(np.concatenate([np.asarray(samples, np.float64), np.zeros(REACH)]))
    return block.values[:count]


def frame_time(frame: int) -> float:
    """Centre time in seconds of feature frame ``frame``."""
    return (frame + 0.5) / FEATURE_RATE
