"""Training data for the motion models: real talking videos -> (audio features, phones, captured motion)
on one 100 frames/s grid, cached per clip.

Each clip's motion is captured with ``talkingface.mocap`` (the rig fitted to every frame), its audio
goes through the engine's own feature front end (``audio.acoustic``) and, for the offline model,
through word recognition and forced alignment (``audio.analyse_audio``) and Whisper's encoder
(``audio.whisper.speech_encoding``). Clips come from folders of
videos; a video without an audio stream uses the .wav of the same name beside it. A MANIFEST.tsv
(columns ``file`` and ``speaker_guess``) names the speakers, so splits can keep speakers apart.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from talkingface.audio.acoustic import MEL, clip_features
from talkingface.audio.features import FEATURE_RATE
from talkingface.audio.features import speech_activity
from talkingface.audio.phones import PHONE_SET, TimedPhone, phone_indices
from talkingface.audio.track import AudioTrack
from talkingface.audio.visemes import phones_to_visemes
from talkingface.media.paths import atomic_output
from talkingface.motion.model import normalised_mel

VIDEO_SUFFIXES = (".mp4", ".mov", ".mpg", ".avi", ".mkv", ".webm")
CACHE_VERSION = 4  # 2: phones from Whisper-heard words; 3: Whisper encoder states; 4: after 2 blocks
HELD_OUT = ("congressman_844", "man_suit_vfr", "older_man_224", "woman_turned_224", "andrew_clip_1",
            "andrew_clip_2", "reagan_clip1", "KristiNoem", "deep_avsr__00001", "deep_avsr__00019",
            "RD_Radio34", "LatentSync__demo3", "noisy_restaurant")
"""Dev-data clips (by name part) whose speakers the shipped models never train on: the evaluation set
of benchmarks/lipsync.py (speaker-disjoint from the training clips)."""


def is_held_out(name: str) -> bool:
    return any(part in name for part in HELD_OUT)


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
    index into audio.phones.PHONE_SET, -1 where recognition gave nothing; motion: (T, P) float32 captured parameters;
    valid: (T,) bool, the face was seen; name, speaker; encoding: (E, 384) float16 Whisper encoder
    states at 50 Hz (audio.whisper.speech_encoding), None if not computed; components: (T, k) those
    states projected by the Projection a model is trained with (see ``projected``), None before."""

    name: str
    speaker: str
    features: np.ndarray
    phones: np.ndarray
    motion: np.ndarray
    valid: np.ndarray
    encoding: np.ndarray | None = None
    components: np.ndarray | None = None

    @cached_property
    def track(self) -> AudioTrack:
        """The clip's audio as an AudioTrack (features and phones on the 100 Hz grid)."""
        frames = len(self.features)
        loudness = self.features[:, 0].astype(np.float32)
        phones, start = [], 0
        for end in np.flatnonzero(np.diff(self.phones)).tolist() + [frames - 1]:
            if self.phones[start] >= 0:
                phones.append(TimedPhone(PHONE_SET[self.phones[start]], start / FEATURE_RATE, (end + 1) / FEATURE_RATE))
            start = end + 1
        voicing = (self.features[:, 1] > 0.5).astype(np.float32)
        return AudioTrack(frames / FEATURE_RATE, FEATURE_RATE, loudness, voicing, voicing * 150.0,
                          speech_activity(loudness), (), tuple(phones), phones_to_visemes(phones), "recognized",
                          self.features)

    @cached_property
    def normalised_mel(self) -> np.ndarray:
        """(T, bands) float32 log-mel bands through the causal MelNormaliser, as the models see them."""
        return normalised_mel(self.features[:, MEL])

    @cached_property
    def rule_curves(self) -> np.ndarray:
        """(T, len(motion.lips.LIP_PARAMETERS)) rule-based lips from the recognised phones, 100 Hz."""
        return _rule_curves(self.track)

    @cached_property
    def wordless_rule_curves(self) -> np.ndarray:
        """(T, len(LIP_PARAMETERS)) the rule lips as they are when no word is heard (the jaw from the
        sound alone): what a model sees of speech in another language."""
        return _rule_curves(replace(self.track, phones=(), visemes=()))


def _rule_curves(track: AudioTrack) -> np.ndarray:
    from talkingface.motion.generate import rule_lips

    return rule_lips(track, (np.arange(track.n_frames) + 0.5) / FEATURE_RATE).astype(np.float32)


def projected(clip: Clip, projection) -> Clip:
    """The clip with its encoder states projected (``components``) by a motion.model.Projection."""
    if not projection.components:
        return _with_derived(replace(clip, components=None), clip)
    if clip.encoding is None:
        raise ValueError(f"{clip.name} has no Whisper encoding")
    components = projection.on_grid(clip.encoding, len(clip.features))
    return _with_derived(replace(clip, components=components), clip)


def _with_derived(moved: Clip, clip: Clip) -> Clip:
    """`moved` (a copy of clip with other motion or components) keeping what clip already derived
    from its audio, which has not changed."""
    for derived in ("track", "normalised_mel", "rule_curves", "wordless_rule_curves"):
        if derived in clip.__dict__:
            moved.__dict__[derived] = clip.__dict__[derived]
    return moved


def speaker_folds(clips: list[Clip], folds: int = 4, seed: int = 0) -> list[tuple[list[Clip], list[Clip]]]:
    """[(train, validation)] for cross-validation: whole speakers dealt at random into `folds` groups
    (fewer when there are fewer speakers), each group validating once, so every measurement is on
    speakers the model did not see, as the benchmark's is."""
    speakers = list(np.random.default_rng(seed).permutation(sorted({c.speaker for c in clips})))
    count = max(1, min(folds, len(speakers)))
    groups = [set(speakers[k::count]) for k in range(count)]
    if count == 1:
        return [(clips, [])]
    return [([c for c in clips if c.speaker not in group], [c for c in clips if c.speaker in group])
            for group in groups]


def shifted(clip: Clip, frames: int) -> Clip:
    """The clip with its motion moved `frames` feature frames later (earlier when negative) against its
    audio: how a clip whose picture and sound are out of step is put back in step. Frames the shift
    empties are marked not valid."""
    if frames == 0:
        return clip
    motion = np.roll(clip.motion, frames, axis=0)
    valid = np.roll(clip.valid, frames)
    if frames > 0:
        valid[:frames] = False
    else:
        valid[frames:] = False
    return _with_derived(replace(clip, motion=motion, valid=valid), clip)


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


def prepare_clip(source: ClipSource, cache: Path | None = None) -> Clip:
    """Capture, features and phones of one clip (read from / written to the cache folder if given)."""
    from talkingface.audio import analyse_audio, load_audio
    from talkingface.mocap import capture_video

    key = hashlib.sha1(f"{CACHE_VERSION}:{source.video.resolve()}:{source.video.stat().st_size}".encode()).hexdigest()
    cached = cache / f"{source.video.stem}-{key[:10]}.npz" if cache is not None else None
    if cached is not None and cached.is_file():
        data = np.load(cached)
        return Clip(source.video.name, source.speaker, data["features"], data["phones"], data["motion"],
                    data["valid"], data["encoding"])
    sound = load_audio(source.audio)
    features = clip_features(sound.samples).astype(np.float32)
    frames = len(features)
    analysed = analyse_audio(sound)
    phones = phone_indices(analysed.phones, frames)
    captured = capture_video(source.video)
    times = (np.arange(frames) + 0.5) / FEATURE_RATE
    grid = captured.start_s + np.arange(captured.motion.frames) / captured.motion.fps
    motion = np.stack([np.interp(times, grid, column) for column in captured.motion.values.T], axis=1)
    valid = times <= grid[-1] + 1.0 / captured.motion.fps
    for start, end in captured.gaps.missing:
        valid &= ~((times >= start) & (times <= end))
    clip = Clip(source.video.name, source.speaker, features, phones, motion.astype(np.float32), valid,
                analysed.encoding)
    if cached is not None:
        cache.mkdir(parents=True, exist_ok=True)
        with atomic_output(cached) as temporary:
            np.savez_compressed(temporary, features=clip.features, phones=clip.phones, motion=clip.motion,
                                valid=clip.valid, encoding=clip.encoding)
    return clip
