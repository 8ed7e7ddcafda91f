"""Re-track a video into a landmark track: MediaPipe's 478-point mesh on every frame, with timestamps.

Every frame is tracked on its own (``talkingface.face.landmarks.detect_faces``, the largest face), so
the track carries the tracker's own noise the same way for a real and a generated video; nothing is
smoothed. Frames without a face are kept as NaN, so that time stays honest.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from talkingface.errors import OptionError
from talkingface.face.topology import NUM_LANDMARKS

PathLike = str | os.PathLike[str]
Detector = Callable[[np.ndarray], Sequence[object]]

SAMPLE_MAX_SIDE = 400  # px; face crops kept for identity and the report are at most this large


@dataclass(frozen=True)
class LandmarkTrack:
    """Landmarks of the largest face in every frame of a video.

    Attributes
    ----------
    times : np.ndarray, shape (T,), float64
        Presentation time of each frame in seconds, strictly increasing (variable frame rate kept).
    points : np.ndarray, shape (T, 478, 3), float32
        MediaPipe landmarks in pixels of the frame (x right, y down, z depth in the same pixel units,
        smaller is closer to the camera); all NaN in frames where no face was found.
    width, height : int
        Frame size in pixels.
    source : str
        Where the frames came from (a file path, or ``"<frames>"``).
    """

    times: np.ndarray
    points: np.ndarray
    width: int
    height: int
    source: str = "<frames>"

    def __post_init__(self) -> None:
        times = np.asarray(self.times)
        if times.ndim != 1 or times.size == 0:
            raise OptionError("times", f"array of shape {times.shape}", "expected a non-empty (T,) array")
        if np.any(np.diff(times) <= 0):
            raise OptionError("times", "array", "must be strictly increasing")
        if self.points.shape != (times.size, NUM_LANDMARKS, 3):
            raise OptionError("points", self.points.shape, f"expected ({times.size}, {NUM_LANDMARKS}, 3)")

    @property
    def frames(self) -> int:
        """Number of frames T."""
        return int(self.times.size)

    @property
    def detected(self) -> np.ndarray:
        """(T,) bool: a face was found in the frame."""
        return np.isfinite(self.points[:, 0, 0])

    @property
    def detect_rate(self) -> float:
        """Fraction of frames in which a face was found, in [0, 1]."""
        return float(self.detected.mean())

    @property
    def frame_period_s(self) -> float:
        """Median time between frames, seconds (1/25 for a single frame)."""
        return float(np.median(np.diff(self.times))) if self.frames > 1 else 1.0 / 25.0

    @property
    def fps(self) -> float:
        """Frame rate from the median frame period, frames per second."""
        return 1.0 / self.frame_period_s

    @property
    def duration_s(self) -> float:
        """Time covered: first frame's start to last frame's end (one median period), seconds."""
        return float(self.times[-1] - self.times[0]) + self.frame_period_s


@dataclass(frozen=True)
class FaceSample:
    """One kept frame, cropped around its face (for identity and the report's strip of frames).

    index: frame number in the video; time_s: its time, seconds; image: (h, w, 3) uint8 RGB crop,
    at most SAMPLE_MAX_SIDE px a side; points: (478, 3) float32 landmarks in crop pixels.
    """

    index: int
    time_s: float
    image: np.ndarray
    points: np.ndarray


@dataclass(frozen=True)
class TrackedVideo:
    """A video's landmark track plus the face crops of every ``sample_every``-th frame with a face."""

    track: LandmarkTrack
    samples: tuple[FaceSample, ...]
    sample_every: int


def face_crop(image: np.ndarray, points: np.ndarray, *, margin: float = 1.7,
              max_side: int = SAMPLE_MAX_SIDE) -> tuple[np.ndarray, np.ndarray]:
    """Square-ish crop around a face, clipped to the image, downscaled to at most ``max_side`` px.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB
    points : (478, 3) landmarks in image pixels
    margin : crop side in multiples of the landmarks' larger bounding-box side

    Returns
    -------
    crop : (h, w, 3) uint8 RGB
    points : (478, 3) float32, the landmarks in crop pixels (z scaled alike)
    """
    height, width = image.shape[:2]
    x0, y0 = points[:, :2].min(axis=0)
    x1, y1 = points[:, :2].max(axis=0)
    side = margin * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
    right, bottom = min(width, int(math.ceil(cx + side / 2))), min(height, int(math.ceil(cy + side / 2)))
    crop = image[top:bottom, left:right]
    local = points.astype(np.float32).copy()
    local[:, 0] -= left
    local[:, 1] -= top
    scale = min(1.0, max_side / max(crop.shape[:2]))
    if scale < 1.0:
        crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)
        local *= scale
    return np.ascontiguousarray(crop), local


def _default_detector() -> Detector:
    from talkingface.face.landmarks import detect_faces

    return detect_faces


@contextlib.contextmanager
def following_detector() -> Iterator[Detector]:
    """A detector for consecutive frames that detects the face once, then follows it (the motion
    capture tracker, ``talkingface.mocap.tracker``): many times faster than detecting every frame,
    for long videos and benchmarks. Use as ``with following_detector() as detect: ...``."""
    from talkingface.face.landmarks import FaceLandmarks
    from talkingface.mocap.tracker import FaceTracker

    with FaceTracker() as tracker:
        def detect(image: np.ndarray) -> list[FaceLandmarks]:
            points = tracker.step(0.0, image).points
            return [] if points is None else [FaceLandmarks(points)]

        yield detect


def track_frames(frames: Iterable[tuple[float, np.ndarray]], *, sample_every: int = 5,
                 source: str = "<frames>", detect: Detector | None = None) -> TrackedVideo:
    """Track the largest face in every frame.

    Parameters
    ----------
    frames : iterable of (time_s, (H, W, 3) uint8 RGB)
        Strictly increasing times, as :func:`talkingface.media.iter_video_frames` yields them.
    sample_every : int, keyword-only
        Keep a face crop of every n-th frame (frames 0, n, 2n, ... that have a face).
    source : str, keyword-only
        Label stored in the track.
    detect : callable, keyword-only
        ``image -> list of faces with .points (478, 3)``, largest first; default MediaPipe's
        :func:`talkingface.face.landmarks.detect_faces`.

    Raises
    ------
    OptionError
        ``sample_every`` < 1, or no frames.
    """
    if not isinstance(sample_every, int) or sample_every < 1:
        raise OptionError("sample_every", sample_every, "must be an integer >= 1")
    detect = detect or _default_detector()
    times: list[float] = []
    tracked: list[np.ndarray] = []
    samples: list[FaceSample] = []
    size = (0, 0)
    missing = np.full((NUM_LANDMARKS, 3), np.nan, np.float32)
    for index, (time_s, image) in enumerate(frames):
        size = (image.shape[1], image.shape[0])
        faces = detect(image)
        points = np.asarray(faces[0].points, np.float32) if faces else missing  # type: ignore[attr-defined]
        times.append(float(time_s))
        tracked.append(points)
        if faces and index % sample_every == 0:
            crop, local = face_crop(image, points)
            samples.append(FaceSample(index, float(time_s), crop, local))
    if not times:
        raise OptionError("frames", "empty", f"no frames to track in {source}")
    track = LandmarkTrack(np.asarray(times, np.float64), np.stack(tracked), size[0], size[1], source)
    return TrackedVideo(track, tuple(samples), sample_every)


def track_video(path: PathLike, *, sample_every: int = 5, max_samples: int = 60,
                detect: Detector | None = None) -> TrackedVideo:
    """Decode a video and track the largest face in every frame (see :func:`track_frames`).

    ``sample_every`` is raised for long videos so that at most about ``max_samples`` face crops are
    kept. Raises the media reader's errors (``InputNotFoundError``, ``InputFileError``).
    """
    from talkingface.media import iter_video_frames, probe_video

    info = probe_video(path)
    step = max(sample_every, math.ceil(max(info.frame_count, 1) / max(max_samples, 1)))
    return track_frames(iter_video_frames(path), sample_every=step, source=os.fspath(path), detect=detect)
