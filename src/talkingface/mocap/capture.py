"""Video -> Motion: track the face, estimate its neutral, fit the rig to every frame, clean the curves.

    from talkingface.mocap import capture_video
    result = capture_video("talk.mp4")            # CaptureResult
    result.motion                                  # Motion at the video's frame rate
    result.gaps.missing                            # spans without a face, seconds

Frames are streamed (never the whole video in memory); the landmarks go to a temporary file on disk,
so a two-hour video costs disk, not memory.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from talkingface.errors import NoFaceError, OptionError
from talkingface.face.topology import NUM_LANDMARKS
from talkingface.media import iter_video_frames, probe_video
from talkingface.mocap.calibrate import load_calibration
from talkingface.mocap.fit import EXPRESSION_BOUNDS, RigFitter
from talkingface.mocap.neutral import NEUTRAL_SAMPLES, estimate_neutral, evenly_spread
from talkingface.mocap.timeline import Gaps, constant_rate, fill_gaps, smooth
from talkingface.mocap.tracker import FaceTracker
from talkingface.motion.params import EXPRESSION_PARAMETERS, HEAD_PARAMETERS, PARAMETERS, Motion

PathLike = str | os.PathLike[str]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class CaptureOptions:
    """start_s / end_s: the part of the video to capture, seconds (end None: to the end); face: which
    face when several are present, by size rank at the first frame with a face (0 = the largest);
    max_gap_s: tracking drop-outs up to this long are interpolated, longer ones show the neutral face;
    smoothing: scale of the zero-phase smoothing of the curves (0 = raw fits, 1 = default);
    calibrated: undo the tracker's under-reading of deformations (see mocap.calibrate), so that the
    captured motion, rendered, looks as large as the video's."""

    start_s: float = 0.0
    end_s: float | None = None
    face: int = 0
    max_gap_s: float = 0.5
    smoothing: float = 1.0
    calibrated: bool = True

    def __post_init__(self) -> None:
        if not (isinstance(self.start_s, (int, float)) and math.isfinite(self.start_s) and self.start_s >= 0):
            raise OptionError("start", self.start_s, "must be a time >= 0 in seconds")
        if self.end_s is not None and not (isinstance(self.end_s, (int, float)) and math.isfinite(self.end_s)
                                           and self.end_s > self.start_s):
            raise OptionError("end", self.end_s, f"must be a time after start ({self.start_s} s)")
        if not isinstance(self.face, int) or isinstance(self.face, bool) or not 0 <= self.face < 100:
            raise OptionError("face", self.face, "must be an integer from 0 (the largest face) to 99")
        if not (math.isfinite(self.max_gap_s) and 0 <= self.max_gap_s <= 10):
            raise OptionError("max_gap_s", self.max_gap_s, "must be between 0 and 10 seconds")
        if not (math.isfinite(self.smoothing) and 0 <= self.smoothing <= 5):
            raise OptionError("smoothing", self.smoothing, "must be between 0 and 5")


@dataclass(frozen=True)
class CaptureResult:
    """What capture_video found.

    motion: the captured timeline at `motion.fps` (the video's average frame rate), frame 0 at
    start_s; start_s: where it starts in the video, seconds; frames_read: video frames looked at;
    frames_with_face: how many of them had the face; gaps: drop-outs (interpolated) and spans without
    the face (neutral shown); faces_at_start: faces the detector saw when it first found one;
    fit_error: median RMS landmark error of the rig's fit, in face heights; neutral: (478, 3) the
    face's estimated rest landmarks, video px; source: the file.
    """

    motion: Motion
    start_s: float
    frames_read: int
    frames_with_face: int
    gaps: Gaps
    faces_at_start: int
    fit_error: float
    neutral: np.ndarray
    source: str


class _LandmarkSpool:
    """Landmarks (478, 3) float32 per frame appended to a temporary file; read back as a memmap."""

    def __init__(self, folder: str) -> None:
        self.path = Path(folder) / "landmarks.f32"
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed in array()
        self.count = 0

    def append(self, points: np.ndarray | None) -> None:
        row = np.full((NUM_LANDMARKS, 3), np.nan, np.float32) if points is None else points.astype(np.float32)
        self._file.write(row.tobytes())
        self.count += 1

    def array(self) -> np.ndarray:
        self._file.close()
        if self.count == 0:
            return np.zeros((0, NUM_LANDMARKS, 3), np.float32)
        return np.memmap(self.path, np.float32, "r", shape=(self.count, NUM_LANDMARKS, 3))


FrameHook = Callable[[int, float, np.ndarray, "np.ndarray | None"], None]


def _track(path: PathLike, options: CaptureOptions, spool: _LandmarkSpool, total: int,
           progress: Progress | None, hook: FrameHook | None = None) -> tuple[np.ndarray, int]:
    """Track the chosen face over the selected part of the video into the spool: (times (T,), faces
    seen at the first detection). hook(index, time_s, image, points or None) sees every selected frame."""
    times: list[float] = []
    with FaceTracker(face=options.face) as tracker:
        for index, (time_s, image) in enumerate(iter_video_frames(path)):
            if options.end_s is not None and time_s >= options.end_s:
                break
            if time_s >= options.start_s:
                points = tracker.step(time_s, image).points
                spool.append(points)
                if hook is not None:
                    hook(len(times), time_s, image, points)
                times.append(time_s)
            if progress is not None:
                progress(index + 1, total)
    return np.asarray(times, np.float64), tracker.faces_at_start


def _fit_frames(points: np.ndarray, found: np.ndarray, width: int, height: int
                ) -> tuple[np.ndarray, np.ndarray, float]:
    """Fit the rig to every found frame: (values (T, P) float64, zeros where not found; neutral
    (478, 3); median fit error)."""
    neutral = estimate_neutral(points[evenly_spread(np.flatnonzero(found), NEUTRAL_SAMPLES)])
    fitter = RigFitter(neutral, width, height)
    values = np.zeros((len(points), len(PARAMETERS)))
    errors = []
    previous_found = False
    with threadpool_limits(1):  # 43 x 43 solves: BLAS threads only contend
        for t in range(len(points)):
            if not found[t]:
                previous_found = False
                continue
            if not previous_found:
                fitter.reset()
            fit = fitter.fit(np.asarray(points[t]))
            values[t] = fit.params
            errors.append(fit.error)
            previous_found = True
    return values, neutral, float(np.median(errors))


@dataclass(frozen=True)
class FaceTrack:
    """The chosen face in every selected video frame, before any cleaning.

    times: (T,) presentation times, s; points: (T, 478, 3) float32 landmarks in video px, NaN rows
    where the face was not found (a memmap in the caller's folder); found: (T,) bool; values: (T, P)
    float64 the rig's raw fit per frame (head pose, absolute expression coefficients of the rig built
    on `neutral`; zeros where not found); neutral: (478, 3) rest landmarks, video px; fit_error:
    median RMS fit error, face heights; faces_at_start: faces the detector saw when it first found one;
    width, height: video px; fps: the declared frame rate.
    """

    times: np.ndarray
    points: np.ndarray
    found: np.ndarray
    values: np.ndarray
    neutral: np.ndarray
    fit_error: float
    faces_at_start: int
    width: int
    height: int
    fps: float


def track_and_fit(path: PathLike, options: CaptureOptions, folder: PathLike, *,
                  progress: Progress | None = None, hook: FrameHook | None = None) -> FaceTrack:
    """Track the face through the selected part of a video (frames streamed, landmarks spooled to a
    file in `folder`, which must outlive the result's points) and fit the rig to every frame.

    Raises InputNotFoundError/InputFileError (unreadable video), NoFaceError (no face in any frame),
    OptionError (options.face asks for a face the video does not show, or no frame is selected)."""
    info = probe_video(path)
    source = os.fspath(path)
    spool = _LandmarkSpool(os.fspath(folder))
    times, faces_at_start = _track(path, options, spool, info.frame_count, progress, hook)
    points = spool.array()
    if len(times) == 0:
        raise OptionError("start", options.start_s, f"no frames of {source} lie in the selected part "
                                                    f"(the video lasts {info.duration_s:.2f} s)")
    found = np.isfinite(points[:, 0, 0])
    if not found.any():
        if options.face and faces_at_start:
            raise OptionError("face", options.face + 1, f"{source} shows only {faces_at_start} face(s)")
        raise NoFaceError(source, "no face found in any frame of the video")
    values, neutral, error = _fit_frames(points, found, info.width, info.height)
    return FaceTrack(times=times, points=points, found=found, values=values, neutral=neutral,
                     fit_error=error, faces_at_start=faces_at_start, width=info.width, height=info.height,
                     fps=info.fps)


def capture_video(path: PathLike, options: CaptureOptions = CaptureOptions(), *,
                  progress: Progress | None = None) -> CaptureResult:
    """Capture the motion of the face in a video file.

    Raises
    ------
    InputNotFoundError, InputFileError
        The video cannot be read (no file, not a video, no video stream, corrupt).
    NoFaceError
        No face in any frame of the selected part.
    OptionError
        options.face asks for a face the video does not show, or the selection holds no frame.
    """
    with tempfile.TemporaryDirectory(prefix="talkingface-capture-") as folder:
        face = track_and_fit(path, options, folder, progress=progress)
        times, found, values, declared_fps = face.times, face.found, face.values, face.fps
        neutral, error, faces_at_start = face.neutral, face.fit_error, face.faces_at_start
        del face  # releases the landmark memmap before the folder goes
    if options.calibrated:
        values = load_calibration().apply(values)
    values = relative_to_rest(values, found)
    filled, gaps = fill_gaps(times, values, found, max_gap_s=options.max_gap_s)
    fps = average_fps(times, declared_fps)
    end_s = times[-1] + 1.0 / fps  # the last frame shows for one period
    if options.end_s is not None:
        end_s = min(end_s, options.end_s)
    grid = constant_rate(times, filled, fps, options.start_s, end_s)
    motion = Motion(fps=fps, values=smooth(grid, fps * options.smoothing).astype(np.float32))
    return CaptureResult(motion=motion, start_s=options.start_s, frames_read=len(times),
                         frames_with_face=int(found.sum()), gaps=gaps, faces_at_start=faces_at_start,
                         fit_error=error, neutral=neutral, source=os.fspath(path))


REST_PERCENTILE = 20.0


def relative_to_rest(values: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Expression coefficients (T, P) made relative to the face's resting level and put in their
    bounds: each coefficient's REST_PERCENTILE-th percentile over the frames with a face becomes 0
    (tracker noise, rectified by the fit's bounds, would otherwise leave every coefficient a little
    on, e.g. wide eyes or raised brows on the driven portrait), then [0, 1] ([0, 1.2] for the jaw)."""
    out = values.copy()
    expression = slice(len(HEAD_PARAMETERS), len(PARAMETERS))
    if found.any():
        out[:, expression] -= np.percentile(values[found][:, expression], REST_PERCENTILE, axis=0)
    upper = np.array([EXPRESSION_BOUNDS.get(name, (0.0, 1.0))[1] for name in EXPRESSION_PARAMETERS])
    out[:, expression] = np.clip(out[:, expression], 0.0, upper)
    return out


def average_fps(times: np.ndarray, declared: float) -> float:
    """The clip's frame rate: the declared one when the timestamps agree with it (constant frame
    rate), else frames per second of the timestamps (variable frame rate)."""
    if len(times) < 2:
        return declared if declared > 0 else 25.0
    measured = (len(times) - 1) / (times[-1] - times[0])
    if declared > 0 and abs(measured - declared) / declared < 0.02:
        return float(declared)
    return float(measured)
