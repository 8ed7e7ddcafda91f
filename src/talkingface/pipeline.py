"""The orchestrator: portrait + speech -> talking-head video, as a list of stage calls."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from talkingface.audio import SAMPLE_RATE, Audio, analyse_audio, audio_from_array, load_audio
from talkingface.audio.text import check_transcript
from talkingface.errors import AudioError, OptionError
from talkingface.face.avatar import Avatar, analyse_portrait
from talkingface.media import VideoWriter, check_output_path, image_from_array, load_image, probe_video
from talkingface.mocap import CaptureOptions, capture_video
from talkingface.motion.controls import Controls
from talkingface.motion.drive import DriveOptions, drive_override
from talkingface.motion.generate import MotionOptions, fit_motion, frame_count, generate_motion
from talkingface.motion.params import Motion
from talkingface.render.renderer import Renderer, RenderOptions
from talkingface.validation import check_number

PathLike = str | os.PathLike[str]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class AnimateOptions:
    """Everything a render can be asked for.

    fps: video frame rate; size: side of the square head crop in px; framing: "crop" or "full" (the
    whole portrait, only the head re-rendered); work_size: for "full", the px at which the head region is
    re-rendered before it is pasted back; transcript: what is said (improves lip timing);
    seed: random seed of the performance; articulation, head_motion, blink_rate, lips: see
    MotionOptions; phonetic: recognise/align phones (False: acoustic lips only, faster, any language);
    controls: gaze direction, head distance, emotion, keyframes; drive: with a driving video, what it
    controls and how strongly (see motion.drive.DriveOptions); max_audio_s: longest accepted audio,
    seconds; max_image_pixels: largest accepted portrait.
    """

    fps: float = 25.0
    size: int = 512
    framing: str = "crop"
    work_size: int = 640
    transcript: str | None = None
    seed: int = 0
    articulation: float = 1.0
    head_motion: float = 1.0
    blink_rate: float = 17.0
    phonetic: bool = True
    lips: str = "learned"
    controls: Controls = field(default_factory=Controls)
    drive: DriveOptions = field(default_factory=DriveOptions)
    max_audio_s: float = 600.0
    max_image_pixels: int = 40_000_000

    def __post_init__(self) -> None:
        self.motion_options()  # validates the motion fields
        self.render_options()  # validates size, framing and work_size
        check_number("max_audio_s", self.max_audio_s, low=0.001, high=86_400.0, unit=" s")
        check_number("max_image_pixels", self.max_image_pixels, low=1, high=1_000_000_000, integer=True)
        check_transcript(self.transcript)
        if not isinstance(self.phonetic, bool):
            raise OptionError("phonetic", self.phonetic, "must be True or False")

    def motion_options(self) -> MotionOptions:
        return MotionOptions(fps=self.fps, seed=self.seed, articulation=self.articulation,
                             head_motion=self.head_motion, blink_rate=self.blink_rate,
                             controls=self.controls, lips=self.lips)

    def render_options(self) -> RenderOptions:
        return RenderOptions(size=self.size, framing=self.framing, work_size=self.work_size)


@dataclass(frozen=True)
class AnimationResult:
    """What animate() wrote: the video file, its geometry and timing, and what each stage took (s)."""

    output: Path
    frames: int
    fps: float
    width: int
    height: int
    duration_s: float
    faces_found: int
    transcript_source: str
    motion: Motion
    timings: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def capture(video: PathLike, options: CaptureOptions = CaptureOptions(), *,
            progress: Progress | None = None) -> Motion:
    """The motion of the face in a talking video, at the video's frame rate (see talkingface.mocap;
    ``talkingface.mocap.capture_video`` also reports drop-outs and the fit's quality)."""
    return capture_video(video, options, progress=progress).motion


def prepare_avatar(portrait: PathLike | np.ndarray | Avatar, *,
                   max_image_pixels: int = 40_000_000) -> Avatar:
    """Analyse a portrait (file path, RGB array or an Avatar already prepared) once for animation."""
    if isinstance(portrait, Avatar):
        return portrait
    if isinstance(portrait, np.ndarray):
        return analyse_portrait(image_from_array(portrait), source="<array>")
    return analyse_portrait(load_image(portrait, max_pixels=max_image_pixels), source=os.fspath(portrait))


def animate(portrait: PathLike | np.ndarray | Avatar, audio: PathLike | None, output: PathLike,
            options: AnimateOptions = AnimateOptions(), *, motion: Motion | None = None,
            drive: PathLike | None = None, progress: Progress | None = None) -> AnimationResult:
    """Render a talking-head MP4 of `portrait` speaking `audio` into `output` (written atomically).

    With `motion` given (e.g. from talkingface.motion.io.load_motion), that timeline is rendered,
    resampled to options.fps and fitted to the audio's length, instead of one generated from the audio.
    With `drive` (a video), the portrait performs that video's captured motion in the regions
    options.drive names; `audio` may then be None: the driving video's own soundtrack is used (a
    silent video gives a silent MP4 as long as the video).
    """
    if audio is None and drive is None:
        raise OptionError("audio", None, "give the speech audio (or a driving video to take it from)")
    if motion is not None and drive is not None:
        raise OptionError("drive", os.fspath(drive), "give either a motion timeline or a driving video, not both")
    inputs = [p for p in (portrait, audio, drive) if isinstance(p, (str, os.PathLike))]
    output_path = check_output_path(output, inputs=inputs)
    timings: dict[str, float] = {}
    notes: list[str] = []
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = now - clock
        clock = now

    sound, audible = _speech(audio, drive, options, notes)
    lap("audio_decode")
    avatar = prepare_avatar(portrait, max_image_pixels=options.max_image_pixels)
    lap("face")
    override = None
    if drive is not None and motion is None:
        captured = capture_video(drive, CaptureOptions(face=options.drive.face)).motion
        override = drive_override(captured, options.drive, frame_count(sound.duration_s, options.fps), options.fps)
        lap("capture")
    if motion is None:
        track = analyse_audio(sound, transcript=options.transcript, phonetic=options.phonetic and audible)
        lap("audio_analysis")
        motion = generate_motion(track, options.motion_options(), override=override)
        transcript_source = track.transcript_source
    else:
        motion = fit_motion(motion, frame_count(sound.duration_s, options.fps), options.fps)
        transcript_source = "motion file"
    lap("motion")
    renderer = Renderer(avatar, options.render_options())
    width, height = renderer.frame_size
    lap("render_setup")
    _render_video(renderer, motion, sound.samples if audible else None, sound.sample_rate, output_path, progress)
    lap("render_and_encode")
    return AnimationResult(output=output_path, frames=motion.frames, fps=motion.fps, width=width,
                           height=height, duration_s=motion.duration_s, faces_found=avatar.faces_found,
                           transcript_source=transcript_source, motion=motion, timings=timings,
                           notes=tuple(notes))


def _speech(audio: PathLike | None, drive: PathLike | None, options: AnimateOptions, notes: list[str]
            ) -> tuple[Audio, bool]:
    """The speech to animate and whether it is heard (False: a silent stand-in as long as the
    driving video, whose soundtrack is missing or unusable)."""
    if audio is not None:
        return load_audio(audio, max_seconds=options.max_audio_s), True
    info = probe_video(drive)
    if info.duration_s > options.max_audio_s:
        raise OptionError("max_audio_s", options.max_audio_s,
                          f"{os.fspath(drive)} lasts {info.duration_s:.0f} s, longer than allowed")
    length = max(1, round(info.duration_s * SAMPLE_RATE))  # the soundtrack is cut to the video's length
    if info.has_audio:
        try:
            samples = load_audio(drive, max_seconds=options.max_audio_s).samples[:length]
            return audio_from_array(np.pad(samples, (0, length - samples.size)), SAMPLE_RATE,
                                    source=os.fspath(drive)), True
        except AudioError as error:
            notes.append(f"the driving video's soundtrack is not used ({error.problem}): the video is silent")
    return audio_from_array(np.zeros(length, np.float32), SAMPLE_RATE, source=os.fspath(drive)), False


def _render_video(renderer: Renderer, motion: Motion, samples: np.ndarray | None, sample_rate: int,
                  output: Path, progress: Progress | None) -> None:
    width, height = renderer.frame_size
    with VideoWriter(output, fps=motion.fps, width=width, height=height, audio=samples,
                     audio_rate=sample_rate) as writer:
        for index, frame in enumerate(renderer.frames(motion)):
            writer.write(frame)
            if progress is not None:
                progress(index + 1, motion.frames)

