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


def write_rendered_video(path: Path, avatar, motion, *, size: int = 256, audio: np.ndarray | None = None,
                         blank: slice | None = None) -> Path:
    """Render motion (a talkingface Motion) of an avatar into an MP4 at path, with optional mono 16 kHz
    audio; frames in the `blank` slice are replaced by a plain grey picture (no face)."""
    from talkingface.media import VideoWriter
    from talkingface.render.renderer import Renderer, RenderOptions

    renderer = Renderer(avatar, RenderOptions(size=size))
    grey = np.full((size, size, 3), 128, np.uint8)
    hidden = range(motion.frames)[blank] if blank is not None else range(0)
    with VideoWriter(path, fps=motion.fps, width=size, height=size, audio=audio, audio_rate=16000) as writer:
        for index, frame in enumerate(renderer.frames(motion)):
            writer.write(grey if index in hidden else frame)
    return path


def speech_like(seconds: float, rate: int = 16000, seed: int = 0) -> np.ndarray:
    """Voiced, syllable-rate modulated noise+tone that the audio stage takes for speech, (N,) float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    envelope = np.clip(np.sin(2 * np.pi * 3.0 * t), 0, None) ** 0.5
    voice = 0.5 * np.sin(2 * np.pi * 140 * t) + 0.25 * np.sin(2 * np.pi * 280 * t) + 0.1 * rng.standard_normal(t.size)
    return (0.3 * envelope * voice).astype(np.float32)


# Real speakers' head motion (captured dev-data clips, 40 ms frames): 99 % of the frame-to-frame steps
# are under these (yaw, pitch, roll) degrees, and 99 % of the changes of step.
REAL_HEAD_STEP_DEG = (3.4, 2.9, 1.6)
REAL_HEAD_JERK_DEG = (1.5, 1.45, 0.65)
