"""Decode any audio FFmpeg reads into 16 kHz mono float32 samples.

``load_audio`` opens files with PyAV (wav of any bit depth, mp3, m4a/aac, flac, ogg/vorbis, opus,
webm, and the audio track of a video), downmixes to mono and resamples to ``SAMPLE_RATE``.
``audio_from_array`` does the same for samples already in memory.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import av
import numpy as np

from talkingface.errors import AudioError, OptionError
from talkingface.media.paths import check_input_file
from talkingface.validation import number_problem

SAMPLE_RATE = 16000
"""Sample rate of every ``Audio``, in Hz."""

MIN_AUDIO_S = 0.1
"""Shortest speech accepted by ``load_audio`` and ``analyse_audio``, seconds."""
SILENT_PEAK_DBFS = -60.0
"""A file whose peak level is below this (dB re full scale) is rejected as silent."""
SILENT_RMS_DBFS = -75.0
"""A file whose overall RMS level is below this is rejected as silent (one click in silence)."""

_MIN_RATE, _MAX_RATE = 1000, 1_000_000


@dataclass(frozen=True)
class Audio:
    """Mono speech at ``SAMPLE_RATE``.

    Attributes
    ----------
    samples : np.ndarray, shape (N,), float32
        Samples in [-1, 1].
    sample_rate : int
        Always ``SAMPLE_RATE`` (16000 Hz).
    source : str
        The file it came from, or ``"<array>"``.
    """

    samples: np.ndarray
    sample_rate: int = SAMPLE_RATE
    source: str = "<array>"

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.samples.shape[0] / self.sample_rate


def load_audio(path: str | os.PathLike[str], *, max_seconds: float = 600.0) -> Audio:
    """Decode an audio file, or a video's first audio track, to 16 kHz mono.

    Parameters
    ----------
    path : str or PathLike
        Any file FFmpeg reads: wav (16/24/32-bit int, float), mp3, m4a/aac, flac, ogg, opus, webm,
        mp4/mov/mkv with a video stream.
    max_seconds : float, keyword-only
        Longest accepted duration in seconds; longer files are rejected (from the container's
        duration up front where it is known, so a 10-hour file is not decoded).

    Returns
    -------
    Audio
        ``samples`` shape (N,), float32 in [-1, 1], at 16000 Hz.

    Raises
    ------
    InputNotFoundError
        ``path`` does not exist or is a directory.
    AudioError
        Not a media file, corrupt, no audio stream, no samples, silent, or longer than
        ``max_seconds``.
    OptionError
        ``max_seconds`` is not a positive number.
    """
    _check_max_seconds(max_seconds)
    path = os.fspath(check_input_file(path, "an audio file"))
    try:
        container = av.open(path)
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise AudioError(path, f"cannot be read as audio or video ({_reason(exc)})") from exc
    with container:
        if not container.streams.audio:
            raise AudioError(path, "has no audio stream")
        stream = container.streams.audio[0]
        if stream.codec_context is None:  # e.g. a WAV header naming no known format
            raise AudioError(path, "has an audio stream in a format that cannot be decoded")
        _check_stream_format(path, stream)
        known = _container_duration(container, stream)
        if known is not None and known > max_seconds + 0.5:
            raise _too_long(path, known, max_seconds)
        samples = _decode_stream(container, stream, path, max_seconds)
    _check_content(path, samples)
    return Audio(samples, SAMPLE_RATE, path)


def audio_from_array(samples: np.ndarray, sample_rate: int, *, source: str = "<array>") -> Audio:
    """Make an ``Audio`` from samples in memory, resampled to 16 kHz mono.

    Parameters
    ----------
    samples : array_like, shape (N,), (N, C) or (C, N)
        Float samples in [-1, 1] (clipped), or integer PCM (int16, int32, uint8, ... scaled by the
        type's range). For 2-D input the shorter axis is taken as channels and averaged.
    sample_rate : int
        Rate of ``samples`` in Hz (1000 to 1 000 000).
    source : str, keyword-only
        Label stored in ``Audio.source``.

    Returns
    -------
    Audio
        Empty input gives an empty ``Audio`` (no silence check: live audio may be silent).

    Raises
    ------
    OptionError
        Bad rate, shape, dtype, or non-finite samples.
    """
    rate = _check_rate(sample_rate)
    mono = _to_mono_float(np.asarray(samples))
    if rate != SAMPLE_RATE and mono.size:
        mono = _resample(mono, rate)
    return Audio(np.clip(mono, -1.0, 1.0).astype(np.float32, copy=False), SAMPLE_RATE, str(source))


# ----------------------------------------------------------------------------------------------
# load_audio helpers


def _check_max_seconds(max_seconds: float) -> None:
    ok = isinstance(max_seconds, (int, float)) and not isinstance(max_seconds, bool)
    if not ok or not math.isfinite(max_seconds) or max_seconds <= 0:
        raise OptionError("max_seconds", max_seconds, "must be a positive number of seconds")


def _reason(exc: BaseException) -> str:
    """Short description of a PyAV error, without the repeated file name."""
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).strip() or type(exc).__name__


_MAX_CHANNELS = 64


def _check_stream_format(path: str, stream: av.AudioStream) -> None:
    """Refuse a sample rate or channel count no real recording has (a corrupt header): resampling
    from hundreds of MHz would take seconds for a few bytes of input."""
    rate, channels = stream.codec_context.sample_rate or stream.rate or 0, stream.codec_context.channels or 1
    if not _MIN_RATE <= rate <= _MAX_RATE:
        raise AudioError(path, f"declares a sample rate of {rate} Hz; expected {_MIN_RATE} to {_MAX_RATE} Hz "
                               "(corrupt header?)")
    if channels > _MAX_CHANNELS:
        raise AudioError(path, f"declares {channels} channels; at most {_MAX_CHANNELS} are accepted")


def _container_duration(container: av.container.InputContainer,
                        stream: av.AudioStream) -> float | None:
    """Duration in seconds the container declares for ``stream``, or None if unknown."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _too_long(path: str, seconds: float, max_seconds: float) -> AudioError:
    return AudioError(path, f"is {seconds:.1f} s long, longer than the limit of {max_seconds:g} s "
                            "(max_seconds)")


def _decode_stream(container: av.container.InputContainer, stream: av.AudioStream, path: str,
                   max_seconds: float) -> np.ndarray:
    """All samples of ``stream``, shape (N,) float32 at 16 kHz; stops early when too long.

    Channels are averaged (more than two are first mixed down to stereo by FFmpeg), so a
    full-scale stereo file stays within [-1, 1].
    """
    channels = stream.codec_context.channels or 1
    resampler = av.AudioResampler(format="fltp", layout="mono" if channels == 1 else "stereo",
                                  rate=SAMPLE_RATE)
    limit = int(max_seconds * SAMPLE_RATE) + SAMPLE_RATE // 2
    chunks: list[np.ndarray] = []
    count = 0
    try:
        for frame in container.decode(stream):
            frame.pts = None  # let the resampler count samples; broken timestamps are common
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().mean(axis=0, dtype=np.float32))
                count += chunks[-1].size
            if count > limit:
                raise _too_long(path, count / SAMPLE_RATE, max_seconds)
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().mean(axis=0, dtype=np.float32))
    except (av.FFmpegError, ValueError) as exc:
        problem = f"is corrupt or truncated: decoding failed ({_reason(exc)})"
        raise AudioError(path, problem) from exc
    if not chunks:
        return np.zeros(0, np.float32)
    return np.clip(np.concatenate(chunks), -1.0, 1.0).astype(np.float32, copy=False)


def _check_content(path: str, samples: np.ndarray) -> None:
    """Reject empty, non-finite and silent audio."""
    if samples.size == 0:
        raise AudioError(path, "contains no audio samples")
    check_duration(path, samples.size)
    if not np.all(np.isfinite(samples)):
        raise AudioError(path, "contains invalid (NaN or infinite) samples")
    peak = float(np.max(np.abs(samples)))
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    peak_db, rms_db = _dbfs(peak), _dbfs(rms)
    if peak_db < SILENT_PEAK_DBFS or rms_db < SILENT_RMS_DBFS:
        raise AudioError(path, f"is silent (peak {peak_db:.0f} dBFS, RMS {rms_db:.0f} dBFS)")


def check_duration(source: str, samples: int) -> None:
    """AudioError unless ``samples`` at 16 kHz last at least MIN_AUDIO_S."""
    if samples < MIN_AUDIO_S * SAMPLE_RATE:
        raise AudioError(source, f"is only {1000 * samples / SAMPLE_RATE:.1f} ms long; at least "
                                 f"{1000 * MIN_AUDIO_S:.0f} ms of speech is needed")


def _dbfs(level: float) -> float:
    return 20.0 * math.log10(level) if level > 0 else -math.inf


# ----------------------------------------------------------------------------------------------
# audio_from_array helpers


def _check_rate(sample_rate: object) -> int:
    bad = number_problem(sample_rate, low=_MIN_RATE, high=_MAX_RATE) is not None
    if not bad:
        rate = float(sample_rate)  # type: ignore[arg-type]
        bad = not rate.is_integer() or not _MIN_RATE <= rate <= _MAX_RATE
    if bad:
        raise OptionError("sample_rate", sample_rate,
                          f"must be a whole number of Hz from {_MIN_RATE} to {_MAX_RATE}")
    return int(rate)


def _resample(mono: np.ndarray, rate: int) -> np.ndarray:
    """(N,) float32 at ``rate`` -> (M,) float32 at 16 kHz with FFmpeg's resampler, as files are."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(mono[None, :]), format="flt",
                                       layout="mono")
    frame.sample_rate = rate
    out = [*resampler.resample(frame), *resampler.resample(None)]
    if not out:
        return np.zeros(0, np.float32)
    return np.concatenate([f.to_ndarray().reshape(-1) for f in out])


def _to_mono_float(samples: np.ndarray) -> np.ndarray:
    """(N,), (N, C) or (C, N) samples of any numeric dtype -> (N,) float32 in nominal [-1, 1]."""
    if samples.ndim not in (1, 2):
        raise OptionError("samples", f"array of shape {samples.shape}",
                          "must be 1-D (N,) or 2-D (N, channels)")
    scaled = _scale(samples)
    if scaled.ndim == 2:
        axis = 0 if scaled.shape[0] < scaled.shape[1] else 1
        scaled = scaled.mean(axis=axis, dtype=np.float32)
    return scaled


def _scale(samples: np.ndarray) -> np.ndarray:
    """Float samples as they are; integer PCM divided by its full scale (uint centred first)."""
    kind = samples.dtype.kind
    if kind == "f":
        out = samples.astype(np.float32)
        if not np.all(np.isfinite(out)):
            raise OptionError("samples", "array with NaN or infinite values", "must be finite")
        return out
    if kind == "i":
        return (samples / float(-np.iinfo(samples.dtype).min)).astype(np.float32)
    if kind == "u":
        half = float(np.iinfo(samples.dtype).max // 2 + 1)
        return ((samples.astype(np.float64) - half) / half).astype(np.float32)
    raise OptionError("samples", f"array of dtype {samples.dtype}",
                      "must be float or integer PCM")
