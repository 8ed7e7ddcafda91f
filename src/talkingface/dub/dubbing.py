"""Visual dubbing: an existing video re-lipped to new speech.

    from talkingface.dub import DubOptions, dub_video
    result = dub_video("talk.mp4", "new_speech.wav", "dubbed.mp4", DubOptions(extend="loop"))
    result.frames_dubbed, result.no_face       # what was re-lipped, what passed through untouched

Two streamed passes over the video: the first tracks the face and fits the rig to every frame
(``mocap.track_and_fit``; landmarks spooled to disk) and picks the frame whose teeth the dub shows;
the second decodes again and re-lips every frame with the face (``dub.lowerface``), writing the MP4
as it goes. The new mouth is the talking-photo mouth for the new speech (``motion.generate``), laid on
the video's own timestamps. Everything but the lower face keeps the video's pixels.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d

from talkingface.audio import SAMPLE_RATE, analyse_audio, load_audio
from talkingface.audio.text import check_transcript
from talkingface.dub.frames import FrameSource
from talkingface.dub.interior import InteriorPicker
from talkingface.dub.lengths import EXTEND_MODES, OutputTimeline, output_timeline
from talkingface.dub.lowerface import (
    MOUTH_COLUMNS,
    LowerFaceWarp,
    lip_colour,
    mouth_parameters,
    mouth_residual,
)
from talkingface.errors import AudioError, OptionError
from talkingface.face.topology import LIPS_LOWER_OUTER, LIPS_UPPER_OUTER
from talkingface.media import (
    VideoInfo,
    VideoWriter,
    YCbCr,
    check_output_path,
    probe_video,
)
from talkingface.media.colour import i420_region_to_rgb, paste_rgb_into_i420
from talkingface.media.writer import VIDEO_SUFFIXES
from talkingface.mocap.capture import (
    REST_PERCENTILE,
    CaptureOptions,
    FaceTrack,
    average_fps,
    track_and_fit,
)
from talkingface.mocap.neutral import evenly_spread
from talkingface.mocap.timeline import true_runs
from talkingface.motion.controls import Controls
from talkingface.motion.generate import MotionOptions, generate_motion
from talkingface.motion.params import Motion
from talkingface.render.rig import build_rig
from talkingface.validation import check_number

PathLike = str | os.PathLike[str]
Progress = Callable[[int, int], None]
CLOSE_S = 0.2  # past the speech's end the mouth eases closed over this long
LIP_COLOUR_SMOOTHING = 0.3  # share of a frame's own lip colour in the running one (the interior's shade)


@dataclass(frozen=True)
class DubOptions:
    """transcript: what the new speech says (improves lip timing); phonetic: recognise/align phones
    (False: lips from the sound alone, any language); lips, articulation, seed, controls: as for a
    render (controls: the emotion shows on the mouth; gaze, head distance and keyframes of other
    parameters do not apply, the video keeps its own); face: whom to dub when several faces show, by
    size rank at the first frame with a face (0 = the largest); extend: how a video shorter than the
    speech goes on ("pingpong", "loop", "hold"); keep_length: keep the whole of a video longer than
    the speech (silence and a closed mouth after it) instead of cutting it at the speech's end; mix:
    level (0-1) of the video's own soundtrack under the new speech where its speaker is silent (its
    bed; 0: the new speech alone);
    max_audio_s: longest accepted speech, s; crf: x264 quality of the re-encode (lower: closer to the
    source and larger; the default 12 keeps untouched regions at >= 45 dB luma PSNR in every frame of
    our tests, even on a source that is itself a detailed crf-20 encode)."""

    transcript: str | None = None
    phonetic: bool = True
    lips: str = "learned"
    articulation: float = 1.0
    seed: int = 0
    controls: Controls = field(default_factory=Controls)
    face: int = 0
    extend: str = "pingpong"
    keep_length: bool = False
    mix: float = 0.0
    max_audio_s: float = 600.0
    crf: int = 12

    def __post_init__(self) -> None:
        check_transcript(self.transcript)
        if not isinstance(self.phonetic, bool):
            raise OptionError("phonetic", self.phonetic, "must be True or False")
        if not isinstance(self.keep_length, bool):
            raise OptionError("keep_length", self.keep_length, "must be True or False")
        if self.extend not in EXTEND_MODES:
            raise OptionError("extend", self.extend, f"must be one of {EXTEND_MODES}")
        if not isinstance(self.face, int) or isinstance(self.face, bool) or not 0 <= self.face < 100:
            raise OptionError("face", self.face, "must be an integer from 0 (the largest face) to 99")
        check_number("mix", self.mix, low=0.0, high=1.0)
        check_number("max_audio_s", self.max_audio_s, low=0.001, high=86_400.0, unit=" s")
        check_number("crf", self.crf, low=0, high=51, integer=True)
        self.motion_options(25.0)  # validates lips, articulation, seed and controls

    def motion_options(self, fps: float) -> MotionOptions:
        return MotionOptions(fps=fps, seed=self.seed, articulation=self.articulation, controls=self.controls,
                             lips=self.lips)


@dataclass(frozen=True)
class DubResult:
    """What dub_video wrote: the file; frames written and how many were re-lipped; fps (the video's
    average rate; its own timestamps are kept); width, height; duration_s; no_face: output time
    spans (start_s, end_s) without the dubbed face, passed through untouched; faces_at_start: faces
    seen when the face was first found; interior: "video" (the speaker's own teeth are reused) or
    "synthetic"; transcript_source; timings per stage, s; notes for the user."""

    output: Path
    frames: int
    frames_dubbed: int
    fps: float
    width: int
    height: int
    duration_s: float
    no_face: tuple[tuple[float, float], ...]
    faces_at_start: int
    interior: str
    transcript_source: str
    timings: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def dub_video(video: PathLike, audio: PathLike, output: PathLike, options: DubOptions = DubOptions(), *,
              progress: Progress | None = None) -> DubResult:
    """Re-lip the face in `video` to speak `audio`; write the MP4 `output` atomically.

    Raises InputNotFoundError / InputFileError (a video without a video stream, unreadable files),
    AudioError (audio without an audio stream, or too long), NoFaceError (no face in any frame:
    nothing is written), OptionError, OutputPathError (e.g. the output is one of the inputs).
    """
    output_path = check_output_path(output, inputs=[video, audio], suffixes=VIDEO_SUFFIXES)
    timings: dict[str, float] = {}
    clock = [time.perf_counter()]

    def lap(stage: str) -> None:
        now = time.perf_counter()
        timings[stage], clock[0] = now - clock[0], now

    info = probe_video(video)
    speech = load_audio(audio, max_seconds=options.max_audio_s)
    lap("audio_decode")
    # only the part of the video the dub shows is tracked (a 2-hour video with a 10 s line reads 10 s)
    needed = None if options.keep_length or speech.duration_s >= info.duration_s else speech.duration_s
    picker = InteriorPicker()
    work = _work_counter(progress, info, needed, speech.duration_s, options.keep_length)
    with tempfile.TemporaryDirectory(prefix="talkingface-dub-") as folder:
        face = track_and_fit(video, CaptureOptions(face=options.face, end_s=needed), folder,
                             progress=work.tracked, hook=picker.see)
        lap("track_and_fit")
        fps = average_fps(face.times, face.fps)
        timeline = output_timeline(face.times, speech.duration_s, fps, extend=options.extend,
                                   keep_length=options.keep_length)
        track = analyse_audio(speech, transcript=options.transcript, phonetic=options.phonetic)
        mouth = _new_mouth(generate_motion(track, options.motion_options(fps)), timeline.times, speech.duration_s)
        lap("motion")
        warp = _lower_face_warp(face, picker)
        soundtrack = _soundtrack(speech.samples, video, info.has_audio, options.mix, timeline.end_s)
        lap("setup")
        dubbed = _write(video, info, face, timeline, mouth, warp, soundtrack, output_path, work.rendered,
                        fps=fps, crf=options.crf)
        lap("render_and_encode")
    no_face = _spans(~face.found[timeline.source], timeline)
    return DubResult(output=output_path, frames=timeline.frames, frames_dubbed=dubbed, fps=fps,
                     width=info.width - info.width % 2, height=info.height - info.height % 2,
                     duration_s=timeline.end_s, no_face=no_face, faces_at_start=face.faces_at_start,
                     interior="video" if warp.interior.own is not None else "synthetic",
                     transcript_source=track.transcript_source, timings=timings,
                     notes=_notes(face.faces_at_start, options.face, no_face))


def _lower_face_warp(face: FaceTrack, picker: InteriorPicker) -> LowerFaceWarp:
    """The face's rig (on its neutral, at the video's resolution), the interior the picker chose, and
    the face's resting landmark residual (from up to 400 frames)."""
    rig = build_rig(face.neutral, face.width, face.height)
    sample = evenly_spread(np.flatnonzero(face.found))
    return LowerFaceWarp(rig, picker.interior(), mouth_residual(rig, np.asarray(face.points[sample]),
                                                                face.values[sample]))


def _notes(faces_at_start: int, face: int, no_face: tuple[tuple[float, float], ...]) -> tuple[str, ...]:
    """What the user should be told: several faces, spans passed through without the face."""
    notes = []
    if faces_at_start > 1:
        notes.append(f"{faces_at_start} faces in the video; dubbed face {face + 1} (by size)")
    if no_face:
        notes.append("no face (passed through untouched): "
                     + ", ".join(f"{a:.2f}-{b:.2f} s" for a, b in no_face[:10])
                     + (f" and {len(no_face) - 10} more" if len(no_face) > 10 else ""))
    return tuple(notes)


@dataclass(frozen=True)
class _Work:
    tracked: Progress | None
    rendered: Progress | None


def _work_counter(progress: Progress | None, info, needed_s: float | None, speech_s: float,
                  keep_length: bool) -> _Work:
    """Progress of the two passes as one fixed count, estimated from the headers before any work:
    tracking a frame is one unit, rendering one two."""
    if progress is None:
        return _Work(None, None)
    fps = info.fps or 25.0
    track_total = max(1, info.frame_count if needed_s is None else min(info.frame_count, math.ceil(needed_s * fps)))
    render_total = max(1, info.frame_count if keep_length and speech_s < info.duration_s
                       else math.ceil(speech_s * fps))
    total = track_total + 2 * render_total

    def tracked(done: int, _total: int) -> None:
        progress(min(done, track_total), total)

    def rendered(done: int, frames: int) -> None:
        progress(track_total + round(2 * render_total * done / max(frames, 1)), total)

    return _Work(tracked, rendered)


def _new_mouth(motion: Motion, times: np.ndarray, speech_s: float) -> np.ndarray:
    """(K, len(MOUTH_PARAMETERS)) the generated mouth at output times (K,) s, easing closed after
    the speech's end."""
    source = np.arange(motion.frames) / motion.fps
    curves = np.stack([np.interp(times, source, motion.values[:, c]) for c in MOUTH_COLUMNS], axis=1)
    fade = np.clip(1.0 - (times - speech_s) / CLOSE_S, 0.0, 1.0)
    return (curves * fade[:, None]).astype(np.float32)


def _soundtrack(speech: np.ndarray, video: PathLike, has_audio: bool, mix: float, end_s: float) -> np.ndarray:
    """The output's mono 16 kHz samples: the speech, padded with silence or cut to end_s, over the
    video's own soundtrack at level `mix` where its speaker is silent (ducked out, with 0.2 s fades,
    wherever the original speech is: its bed without its voice; no source separation)."""
    length = max(1, round(end_s * SAMPLE_RATE))
    out = np.zeros(length, np.float32)
    out[:min(length, speech.size)] = speech[:length]
    if mix > 0 and has_audio:
        try:
            original = load_audio(video, max_seconds=86_400.0)
        except AudioError:
            return out
        track = analyse_audio(original, phonetic=False)
        times = np.arange(original.samples.size) / SAMPLE_RATE
        activity = np.interp(times, np.arange(track.speech_activity.size) / track.feature_rate,
                             gaussian_filter1d(track.speech_activity.astype(np.float32), 0.1 * track.feature_rate))
        bed = original.samples * (1.0 - np.clip(activity, 0.0, 1.0))
        out[:min(length, bed.size)] += mix * bed[:length]
    return np.clip(out, -1.0, 1.0)


def _write(video: PathLike, info: VideoInfo, face: FaceTrack, timeline: OutputTimeline, mouth: np.ndarray,
           warp: LowerFaceWarp, soundtrack: np.ndarray, output: Path, progress: Progress | None, *,
           fps: float, crf: int) -> int:
    """Decode the frames the timeline shows (as the file's own Y'CbCr 4:2:0 samples), re-lip those
    with the face (only the changed pixels are converted to RGB and back), encode them under the
    video's own colour tags; returns how many were re-lipped."""
    rest = np.percentile(face.values[face.found][:, MOUTH_COLUMNS], REST_PERCENTILE, axis=0)
    width, height = face.width - face.width % 2, face.height - face.height % 2
    frames = FrameSource(video, face.times, width * height * 3 // 2)
    dubbed = 0
    lips = None  # the lip colour, smoothed over consecutive frames with the face
    with VideoWriter(output, fps=fps, width=width, height=height, audio=soundtrack, audio_rate=SAMPLE_RATE,
                     colour=info.colour, variable_rate=True, crf=crf) as writer:
        for k, index in enumerate(timeline.source):
            planes = frames.get(int(index))
            if face.found[index]:
                planes = planes.copy()
                points = np.asarray(face.points[index])
                seen = _frame_lip_colour(planes, points, info.colour)
                lips = seen if lips is None else lips + LIP_COLOUR_SMOOTHING * (seen - lips)
                dubbed += _relip(planes, warp, points, face.values[index],
                                 mouth_parameters(face.values[index], mouth[k], rest), lips, info.colour)
            else:
                lips = None
            writer.write_i420(planes, float(timeline.times[k]))
            if progress is not None:
                progress(k + 1, timeline.frames)
    return dubbed


def _frame_lip_colour(planes: np.ndarray, points: np.ndarray, colour: YCbCr) -> np.ndarray:
    """(3,) RGB lip colour of an I420 frame with landmarks (478, 3) px."""
    box = _lips_box(points, (planes.shape[1], planes.shape[0] * 2 // 3))
    return lip_colour(i420_region_to_rgb(planes, box, colour), points - [box[0], box[1], 0])


def _relip(planes: np.ndarray, warp: LowerFaceWarp, points: np.ndarray, original: np.ndarray, new: np.ndarray,
           lips: np.ndarray, colour: YCbCr) -> bool:
    """Re-lip an I420 frame (H * 3 / 2, W) in place (lips: (3,) the frame's lip colour); returns
    whether anything moved."""
    size = (planes.shape[1], planes.shape[0] * 2 // 3)
    relip = warp.plan(points, original, new, size, lips)
    if relip is None:
        return False
    window = i420_region_to_rgb(planes, relip.box, colour)
    changed = warp.draw(relip, window)
    paste_rgb_into_i420(planes, relip.box, window, changed, colour)
    return True


def _lips_box(points: np.ndarray, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Even-cornered box (x0, y0, x1, y1) around the lips' landmarks, inside a frame of size (W, H)."""
    lips = points[list(LIPS_UPPER_OUTER + LIPS_LOWER_OUTER), :2]
    x0, y0 = np.maximum(np.floor(lips.min(axis=0)).astype(int) - 2, 0) // 2 * 2
    x1, y1 = np.minimum((np.ceil(lips.max(axis=0)).astype(int) + 4) // 2 * 2, (size[0], size[1]))
    return int(x0), int(y0), max(int(x1), int(x0) + 2), max(int(y1), int(y0) + 2)


def _spans(mask: np.ndarray, timeline: OutputTimeline) -> tuple[tuple[float, float], ...]:
    """(start_s, end_s) output-time spans of the runs of True in mask (K,)."""
    ends = np.append(timeline.times[1:], timeline.end_s)
    return tuple((round(float(timeline.times[a]), 3), round(float(ends[b - 1]), 3)) for a, b in true_runs(mask))
