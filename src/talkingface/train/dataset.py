"""Training data for the motion models: real talking videos -> (audio features, phones, captured motion)
on one 100 frames/s grid, cached per clip.

Each clip's motion is captured with ``talkingface.mocap`` (the rig fitted to every frame), its audio
goes through the engine's own feature front end (``audio.acoustic``) and, for the phonetic model,
through word recognition and forced alignment (``audio.analyse_audio``). Clips come from folders of
videos; a video without an audio stream uses the .wav of the same name beside it. A MANIFEST.tsv
(columns ``file`` and ``speaker_guess``) names the speakers, so splits can keep speakers apart.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkingface.audio.acoustic import clip_features
from talkingface.audio.features import FEATURE_RATE
from talkingface.audio.phones import SIL
from talkingface.audio.visemes import PHONE_TO_VISEME

VIDEO_SUFFIXES = (".mp4", ".mov", ".mpg", ".avi", ".mkv", ".webm")
PHONES = (SIL,) + tuple(sorted(set(PHONE_TO_VISEME) - {SIL} | {"HH"}))
"""Phone inventory of the phonetic features: SIL, then the ARPAbet phones (index = column)."""
PHONE_INDEX = {phone: i for i, phone in enumerate(PHONES)}
CACHE_VERSION = 1


@dataclass(frozen=True)
class ClipSource:
    """A talking video, the file its speech comes from, and who speaks (for speaker-disjoint splits)."""

    video: Path
    audio: Path
    speaker: str


@dataclass(frozen=True)
class Clip:
    """One clip on the 100 frames/s feature grid (frame i at (i + 0.5) / 100 s).

    features: (T, F) float32 acoustic features (audio.acoustic.FEATURE_NAMES); phones: (T,) int16
    index into PHONES, -1 where recognition gave nothing; motion: (T, P) float32 captured parameters;
    valid: (T,) bool, the face was seen; name, speaker."""

    name: str
    speaker: str
    features: np.ndarray
    phones: np.ndarray
    motion: np.ndarray
    valid: np.ndarray


def find_clips(folders: list[Path]) -> list[ClipSource]:
    """Every talking video in the folders (not recursive), with its speech source and speaker."""
    sources = []
    for folder in folders:
        speakers = _manifest_speakers(folder / "MANIFEST.tsv")
        for video in sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES):
            wav = video.with_suffix(".wav")
            sources.append(ClipSource(video, wav if wav.is_file() else video,
                                      speakers.get(video.name, f"{folder.name}/{video.stem}")))
    return sources


def _manifest_speakers(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8") as handle:
        return {row["file"]: row.get("speaker_guess") or row["file"] for row in csv.DictReader(handle, delimiter="\t")}


def phone_track(phones, frames: int) -> np.ndarray:
    """Timed phones -> (frames,) int16 phone index per 10 ms frame (-1 where there is none)."""
    track = np.full(frames, -1, np.int16)
    for phone in phones:
        start, end = int(round(phone.start_s * FEATURE_RATE)), int(round(phone.end_s * FEATURE_RATE))
        track[max(start, 0):min(end, frames)] = PHONE_INDEX.get(phone.phone, PHONE_INDEX[SIL])
    return track


def prepare_clip(source: ClipSource, cache: Path | None = None) -> Clip:
    """Capture, features and phones of one clip (read from / written to the cache folder if given)."""
    from talkingface.audio import analyse_audio, load_audio
    from talkingface.mocap import capture_video

    key = hashlib.sha1(f"{CACHE_VERSION}:{source.video.resolve()}:{source.video.stat().st_size}".encode()).hexdigest()
    cached = cache / f"{source.video.stem}-{key[:10]}.npz" if cache is not None else None
    if cached is not None and cached.is_file():
        data = np.load(cached)
        return Clip(source.video.name, source.speaker, data["features"], data["phones"], data["motion"],
                    data["valid"])
    sound = load_audio(source.audio)
    features = clip_features(sound.samples).astype(np.float32)
    frames = len(features)
    phones = phone_track(analyse_audio(sound).phones, frames)
    captured = capture_video(source.video)
    times = (np.arange(frames) + 0.5) / FEATURE_RATE
    grid = captured.start_s + np.arange(captured.motion.frames) / captured.motion.fps
    motion = np.stack([np.interp(times, grid, column) for column in captured.motion.values.T], axis=1)
    valid = times <= grid[-1] + 1.0 / captured.motion.fps
    for start, end in captured.gaps.missing:
        valid &= ~((times >= start) & (times <= end))
    clip = Clip(source.video.name, source.speaker, features, phones, motion.astype(np.float32), valid)
    if cached is not None:
        cache.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_suffix(".tmp.npz")
        np.savez_compressed(temporary, features=clip.features, phones=clip.phones, motion=clip.motion,
                            valid=clip.valid)
        os.replace(temporary, cached)
    return clip
