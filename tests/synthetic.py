"""Synthetic test inputs: WAV files, and audio tracks with known phones for motion tests."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from talkingface.audio import AudioTrack, TimedPhone, phones_to_visemes

RATE = 100.0


def make_track(segments: list[tuple[str, float, float]], duration: float) -> AudioTrack:
    """A synthetic track: phones as given, loud and voiced wherever a phone is not SIL."""
    frames = int(duration * RATE)
    speech = np.zeros(frames, np.float32)
    for phone, start, end in segments:
        if phone != "SIL":
            speech[int(start * RATE):int(end * RATE)] = 1.0
    phones = tuple(TimedPhone(p, s, e) for p, s, e in segments)
    return AudioTrack(duration_s=duration, feature_rate=RATE,
                      loudness_db=np.where(speech > 0, -18.0, -70.0).astype(np.float32),
                      voicing=speech.copy(), pitch_hz=(speech * 140).astype(np.float32),
                      speech_activity=speech.copy(), words=(), phones=phones,
                      visemes=phones_to_visemes(phones), transcript_source="given")


def syllables(pattern: list[str], start: float = 1.0, step: float = 0.12) -> list[tuple[str, float, float]]:
    segments = [("SIL", 0.0, start)]
    t = start
    for phone in pattern:
        segments.append((phone, t, t + step))
        t += step
    segments.append(("SIL", t, t + 1.0))
    return segments


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    """Write mono float samples in [-1, 1] as a 16-bit WAV file; returns path."""
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path
