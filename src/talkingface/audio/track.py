"""``analyse_audio``: everything the motion stage needs from the speech, on one timeline."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from talkingface.audio import features as F
from talkingface.audio.acoustic import clip_features
from talkingface.audio.align import transcribe
from talkingface.audio.decode import SAMPLE_RATE, Audio
from talkingface.audio.phones import SIL, TimedPhone, TimedWord
from talkingface.audio.text import check_transcript
from talkingface.audio.visemes import TimedViseme, phones_to_visemes
from talkingface.audio.whisper import speech_encoding, voice_activity
from talkingface.errors import OptionError

_JOIN_GAP_S = 0.03  # a gap this short between phones is closed by stretching the earlier phone


@dataclass(frozen=True)
class AudioTrack:
    """Timed features of one speech audio.

    The arrays share one grid: frame ``i`` covers ``[i, i + 1) / feature_rate`` seconds.

    Attributes
    ----------
    duration_s : float
    feature_rate : float
        Frames per second of the arrays (100.0).
    loudness_db : np.ndarray, shape (T,), float32
        Short-term RMS level in dBFS (25 ms window), -100 in digital silence.
    voicing : np.ndarray, shape (T,), float32
        1 where Praat finds a pitch, else 0.
    pitch_hz : np.ndarray, shape (T,), float32
        F0 in Hz, 0 where unvoiced.
    speech_activity : np.ndarray, shape (T,), float32
        1 in speech, 0 in silence and pauses (energy detector with hangover).
    words : tuple of TimedWord
        Recognised or given words with times.
    phones : tuple of TimedPhone
        Sorted and non-overlapping; contiguous from 0 to ``duration_s`` with ``SIL`` in pauses,
        except over spans that could not be aligned (no phones there: acoustic-only).
    visemes : tuple of TimedViseme
        One per phone.
    transcript_source : str
        "recognized" (words heard by Whisper, aligned by pocketsphinx), "given" (aligned transcript) or "none" (acoustic only).
    acoustic : np.ndarray, shape (T, len(audio.acoustic.FEATURE_NAMES)), float32, or None
        The motion engine's features (loudness, voicing, spectral balance, log-mel bands) on the
        same grid; None for tracks built without audio (tests).
    encoding : np.ndarray, shape (E, audio.whisper.ENCODING_WIDTH), float16, or None
        Whisper's encoder states, audio.whisper.ENCODING_RATE (50) per second (the learned offline
        lips' input); None when analysed with ``phonetic=False`` (live, acoustic only).
    voice_activity : np.ndarray, shape (T,), float32, or None
        1 where the Silero voice-activity model hears speech (audio.whisper.voice_activity): when
        the learned offline lips rest; None with ``phonetic=False`` (the live engine keeps
        ``speech_activity``).
    """

    duration_s: float
    feature_rate: float
    loudness_db: np.ndarray
    voicing: np.ndarray
    pitch_hz: np.ndarray
    speech_activity: np.ndarray
    words: tuple[TimedWord, ...]
    phones: tuple[TimedPhone, ...]
    visemes: tuple[TimedViseme, ...]
    transcript_source: str
    acoustic: np.ndarray | None = None
    encoding: np.ndarray | None = None
    voice_activity: np.ndarray | None = None

    @property
    def n_frames(self) -> int:
        """Number of feature frames T."""
        return int(self.loudness_db.shape[0])


def analyse_audio(audio: Audio, *, transcript: str | None = None,
                  phonetic: bool = True) -> AudioTrack:
    """Loudness, pitch, voicing, speech activity, and (optionally) words, phones and visemes.

    Parameters
    ----------
    audio : Audio
        16 kHz mono speech (from ``load_audio`` or ``audio_from_array``).
    transcript : str, optional, keyword-only
        What is said, in English. It is normalised (case, punctuation, numbers) and
        force-aligned; words missing from the pronunciation dictionary are skipped. When it
        cannot be aligned, the words are recognised instead.
    phonetic : bool, keyword-only
        False skips Whisper and pocketsphinx entirely: acoustic features only (fast, as live).

    Returns
    -------
    AudioTrack

    Notes
    -----
    Recognition runs per utterance (speech cut at pauses into pieces of at most ~12 s); an
    utterance that cannot be recognised or aligned (not English, singing, noise) keeps its
    acoustic features but gets no phones.
    """
    _check_args(audio, transcript, phonetic)
    samples = audio.samples
    loud = F.loudness_db(samples)
    pitch = F.pitch_hz(samples)
    activity = F.speech_activity(loud)
    words: tuple[TimedWord, ...] = ()
    phones: tuple[TimedPhone, ...] = ()
    source = "none"
    if phonetic and np.any(activity > 0.5):
        spans, source = transcribe(samples, activity, loud, transcript)
        words = tuple(sorted((w for s in spans for w in s.words), key=lambda w: w.start_s))
        phones = fill_timeline([p for s in spans for p in s.phones],
                               [u for s in spans for u in s.unaligned], audio.duration_s)
    return AudioTrack(
        duration_s=audio.duration_s, feature_rate=F.FEATURE_RATE, loudness_db=loud,
        voicing=(pitch > 0).astype(np.float32), pitch_hz=pitch, speech_activity=activity,
        words=words, phones=phones, visemes=phones_to_visemes(phones), transcript_source=source,
        acoustic=clip_features(samples).astype(np.float32),
        encoding=speech_encoding(samples) if phonetic else None,
        voice_activity=voice_activity(samples, loud.shape[0]) if phonetic else None)


def _check_args(audio: object, transcript: object, phonetic: object) -> None:
    if not isinstance(audio, Audio):
        raise OptionError("audio", type(audio).__name__, "must be an Audio (use load_audio or "
                          "audio_from_array)")
    if audio.sample_rate != SAMPLE_RATE or audio.samples.ndim != 1:
        raise OptionError("audio", f"{audio.samples.shape} samples at {audio.sample_rate} Hz",
                          f"must be mono at {SAMPLE_RATE} Hz (use audio_from_array)")
    check_transcript(transcript)
    if not isinstance(phonetic, bool):
        raise OptionError("phonetic", phonetic, "must be True or False")


def fill_timeline(phones: Iterable[TimedPhone], unaligned: Sequence[tuple[float, float]],
                  duration_s: float) -> tuple[TimedPhone, ...]:
    """Sorted phones made contiguous over ``[0, duration_s]``: gaps become ``SIL`` (short ones
    stretch the previous phone), except inside ``unaligned`` intervals, which stay empty."""
    items = sorted([(p.start_s, p.end_s, p.phone) for p in phones]
                   + [(a, b, None) for a, b in unaligned])
    out: list[TimedPhone] = []
    cursor = 0.0
    for start, end, name in items:
        start, end = max(start, cursor), min(end, duration_s)
        if start > cursor:
            _close_gap(out, cursor, start)
        if end <= start:
            continue
        if name is not None:
            _append(out, TimedPhone(name, round(start, 4), round(end, 4)))
        cursor = end
    if duration_s > cursor:
        _close_gap(out, cursor, duration_s)
    return tuple(out)


def _close_gap(out: list[TimedPhone], start: float, end: float) -> None:
    if out and out[-1].end_s == round(start, 4) and end - start <= _JOIN_GAP_S:
        out[-1] = TimedPhone(out[-1].phone, out[-1].start_s, round(end, 4))
    else:
        _append(out, TimedPhone(SIL, round(start, 4), round(end, 4)))


def _append(out: list[TimedPhone], phone: TimedPhone) -> None:
    """Append, merging consecutive SILs."""
    if out and phone.phone == SIL == out[-1].phone and out[-1].end_s == phone.start_s:
        out[-1] = TimedPhone(SIL, out[-1].start_s, phone.end_s)
    else:
        out.append(phone)
