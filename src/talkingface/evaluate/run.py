"""Orchestration of an evaluation: track the videos, compute the metrics, collect typed results.

    from talkingface.evaluate.run import evaluate, self_reenact
    ev = evaluate("out.mp4", portrait="me.jpg", reference="real.mp4")
    print(ev.result.to_json())
    ev = self_reenact("real.mp4")          # render the first frame with the clip's own audio, compare

Every number is defined in docs/EVALUATION.md. Distances are in units of the inter-ocular distance
(IOD, outer eye corners); "pct_iod" values are percent of it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from talkingface.errors import AudioError, InputFileError, NoFaceError, OptionError
from talkingface.evaluate import metrics as m
from talkingface.evaluate.tracking import TrackedVideo, track_video
from talkingface.validation import check_number

PathLike = str | os.PathLike[str]
Log = Callable[[str], None]
BASELINES = ("loudness",)


@dataclass(frozen=True)
class EvalOptions:
    """sample_every: keep every n-th frame for identity (raised for long videos to keep at most
    max_identity_samples); max_lag_frames: lag search range, +- frames of the comparison grid."""

    sample_every: int = 5
    max_identity_samples: int = 60
    max_lag_frames: int = 10

    def __post_init__(self) -> None:
        check_number("sample_every", self.sample_every, low=1, high=100_000, integer=True)
        check_number("max_identity_samples", self.max_identity_samples, low=1, high=100_000, integer=True)
        check_number("max_lag_frames", self.max_lag_frames, low=0, high=100, integer=True)


# ------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class AVOffset:
    """Mouth opening vs the audio's loudness envelope, without ground truth.

    lag_frames / lag_ms: lag of the best correlation; positive = the mouth moves *after* the sound.
    peak_correlation: Pearson r at that lag; correlation_at_zero: r at lag 0; rate_hz: the grid.
    """

    lag_frames: int
    lag_ms: float
    peak_correlation: float
    correlation_at_zero: float
    rate_hz: float


@dataclass(frozen=True)
class PoseSpread:
    """Standard deviation of the head angles over the clip, degrees."""

    yaw: float
    pitch: float
    roll: float


@dataclass(frozen=True)
class VideoMetrics:
    """One video on its own: stability and liveliness (and A/V offset if it has audio).

    jitter_pct_iod: RMS second-difference residual of stable landmarks, % of IOD; blinks: count;
    blink_rate_per_min: blinks per minute; pose_std_deg: head angle spread; rotation_deg_per_frame:
    mean head rotation between consecutive frames (deg/frame at the video's own frame rate), and
    per second; mouth_opening_mean/std: inner-lip gap in IOD units.
    """

    path: str
    frames: int
    duration_s: float
    fps: float
    face_detect_rate: float
    jitter_pct_iod: float
    blinks: int
    blink_rate_per_min: float
    pose_std_deg: PoseSpread
    rotation_deg_per_frame: float
    rotation_deg_per_s: float
    mouth_opening_mean: float
    mouth_opening_std: float
    av_offset: AVOffset | None = None


@dataclass(frozen=True)
class LipSync:
    """A mouth-opening curve against the real speaker's, on the real video's frame grid.

    correlation: Pearson r at lag 0; best_lag_frames / best_lag_ms / best_correlation: the best lag
    within +- max_lag frames (positive = ours is late); mlmd_pct_iod: mouth landmark distance,
    % of IOD (None for the loudness baseline, which has no landmarks); amplitude_ratio: std of our
    opening / std of the real one (None for the baseline); frames_compared: grid frames where both
    have a face; rate_hz: the grid's rate; method: "video" or "loudness".
    """

    method: str
    correlation: float
    best_lag_frames: int
    best_lag_ms: float
    best_correlation: float
    mlmd_pct_iod: float | None
    amplitude_ratio: float | None
    frames_compared: int
    rate_hz: float


@dataclass(frozen=True)
class Identity:
    """dlib embedding distance of sampled frames to an anchor face (the portrait).

    anchor: what the frames were compared with; frames_sampled: how many frames (every n-th);
    mean_distance / worst_distance: over those frames; same_person_fraction: share below threshold.
    """

    anchor: str
    frames_sampled: int
    mean_distance: float
    worst_distance: float
    same_person_fraction: float
    threshold: float


@dataclass(frozen=True)
class Speed:
    """Speed of talkingface's own render (self-reenact), on this machine.

    seconds: wall time of animate() (audio decode to encoded MP4); fps: frames / seconds;
    real_time_factor: seconds / audio duration (below 1 = faster than real time); render_fps:
    frames / the render-and-encode stage alone; stages: animate()'s own stage timings, seconds.
    """

    frames: int
    audio_s: float
    seconds: float
    fps: float
    real_time_factor: float
    render_fps: float
    stages: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalResult:
    """Everything measured; None where an input was not given. See docs/EVALUATION.md."""

    video: VideoMetrics | None
    reference: VideoMetrics | None = None
    lip_sync: LipSync | None = None
    baseline: LipSync | None = None
    identity: Identity | None = None
    speed: Speed | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """Plain JSON-ready dict: NaN and infinities become None, floats are rounded to 4 decimals."""
        return _clean(dataclasses.asdict(self))

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


def _clean(value: object) -> object:
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    if isinstance(value, (float, np.floating)):
        return round(float(value), 4) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


@dataclass(frozen=True)
class Evaluation:
    """The result plus what the report draws: the tracked videos and the loudness envelope.

    envelope: (times (N,) s, loudness (N,) in [0, 1]) of the audio that drove the video (or of the
    real clip when only the baseline was run).
    """

    result: EvalResult
    video: TrackedVideo | None = None
    reference: TrackedVideo | None = None
    envelope: tuple[np.ndarray, np.ndarray] | None = None


# ------------------------------------------------------------------------------ metric assembly


def _nanstat(function: Callable[[np.ndarray], float], values: np.ndarray) -> float:
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    return float(function(values)) if values.size else float("nan")


def _opening_and_loudness(tracked: TrackedVideo, envelope: tuple[np.ndarray, np.ndarray]
                          ) -> tuple[np.ndarray, np.ndarray, float]:
    """Mouth opening and loudness envelope (box-averaged over one frame) on the video's own frame
    grid, over the span both cover: (opening (G,), loudness (G,), grid rate Hz)."""
    track = tracked.track
    env_times, env = envelope
    grid = m.common_grid(track.times, env_times, track.fps)
    opening = m.resample(track.times, m.mouth_opening(track.points), grid)
    return opening, m.box_average(env_times, env, grid, 1.0 / track.fps), track.fps


def av_offset(tracked: TrackedVideo, envelope: tuple[np.ndarray, np.ndarray], *, max_lag: int = 10) -> AVOffset:
    """Cross-correlation of a video's mouth opening with its audio's loudness envelope, on the
    video's own frame grid (the envelope box-averaged over one frame period)."""
    opening, loudness, rate = _opening_and_loudness(tracked, envelope)
    scan = m.lag_scan(opening, loudness, max_lag=max_lag)
    return AVOffset(scan.best_lag, 1000.0 * scan.best_lag / rate, scan.best_correlation,
                    scan.zero_lag_correlation, rate)


def video_metrics(tracked: TrackedVideo, *, envelope: tuple[np.ndarray, np.ndarray] | None = None,
                  max_lag: int = 10) -> VideoMetrics:
    """Stability and liveliness of one tracked video (and its A/V offset when an envelope is given)."""
    track = tracked.track
    points = track.points
    pose = m.head_pose(points)
    steps = m.rotation_steps(pose.rotations)
    dt = np.diff(track.times)
    blinks = m.detect_blinks(track.times, m.eye_aspect_ratio(points))
    opening = m.mouth_opening(points)
    std = [_nanstat(np.std, pose.angles[:, k]) for k in range(3)]
    seen = track.detect_rate > 0  # without any face, counts of blinks would be a false zero
    return VideoMetrics(
        path=track.source, frames=track.frames, duration_s=track.duration_s, fps=track.fps,
        face_detect_rate=track.detect_rate, jitter_pct_iod=100.0 * m.jitter(track.times, points),
        blinks=len(blinks), blink_rate_per_min=60.0 * len(blinks) / track.duration_s if seen else float("nan"),
        pose_std_deg=PoseSpread(*std), rotation_deg_per_frame=_nanstat(np.mean, steps),
        rotation_deg_per_s=_nanstat(np.mean, steps / dt) if dt.size else float("nan"),
        mouth_opening_mean=_nanstat(np.mean, opening), mouth_opening_std=_nanstat(np.std, opening),
        av_offset=av_offset(tracked, envelope, max_lag=max_lag) if envelope is not None else None,
    )


def lip_sync(video: TrackedVideo, reference: TrackedVideo, *, max_lag: int = 10) -> LipSync:
    """Our mouth against the real speaker's: both tracks resampled to the reference's frame rate over
    the time span both cover (so different or variable frame rates compare fairly)."""
    v, r = video.track, reference.track
    rate = r.fps
    grid = m.common_grid(v.times, r.times, rate)
    ours = m.resample(v.times, m.mouth_opening(v.points), grid)
    real = m.resample(r.times, m.mouth_opening(r.points), grid)
    scan = m.lag_scan(ours, real, max_lag=max_lag)
    mlmd = m.mouth_landmark_distance(m.resample(v.times, v.points, grid), m.resample(r.times, r.points, grid))
    both = np.isfinite(ours) & np.isfinite(real)
    amplitude = (float(np.std(ours[both]) / np.std(real[both]))
                 if both.sum() > 1 and np.std(real[both]) > 0 else float("nan"))
    return LipSync("video", scan.zero_lag_correlation, scan.best_lag, 1000.0 * scan.best_lag / rate,
                   scan.best_correlation, 100.0 * _nanstat(np.mean, mlmd), amplitude, int(both.sum()), rate)


def loudness_baseline(reference: TrackedVideo, envelope: tuple[np.ndarray, np.ndarray], *,
                      max_lag: int = 10) -> LipSync:
    """The trivial baseline: a mouth opening proportional to the loudness envelope, correlated with the
    real speaker's opening on the real video's frame grid (nothing is rendered)."""
    real, loudness, rate = _opening_and_loudness(reference, envelope)
    scan = m.lag_scan(loudness, real, max_lag=max_lag)
    both = int((np.isfinite(loudness) & np.isfinite(real)).sum())
    return LipSync("loudness", scan.zero_lag_correlation, scan.best_lag, 1000.0 * scan.best_lag / rate,
                   scan.best_correlation, None, None, both, rate)


def identity_metrics(anchor_image: np.ndarray, samples: TrackedVideo, *, anchor: str) -> Identity:
    """dlib embedding distances of a video's sampled face crops to the largest face of anchor_image.

    Raises NoFaceError when the anchor image has no face, IdentityUnavailableError without dlib.
    """
    from talkingface.evaluate.identity import SAME_PERSON_THRESHOLD, FaceEmbedder, embedding_distances
    from talkingface.face.landmarks import detect_faces

    faces = detect_faces(anchor_image)
    if not faces:
        raise NoFaceError(anchor, "no face found to compare identity with")
    embedder = FaceEmbedder()
    reference = embedder.embed(anchor_image, faces[0].points)
    if not samples.samples:
        return Identity(anchor, 0, float("nan"), float("nan"), float("nan"), SAME_PERSON_THRESHOLD)
    embeddings = np.stack([embedder.embed(s.image, s.points) for s in samples.samples])
    distances = embedding_distances(reference, embeddings)
    return Identity(anchor, len(distances), float(distances.mean()), float(distances.max()),
                    float((distances < SAME_PERSON_THRESHOLD).mean()), SAME_PERSON_THRESHOLD)


# ------------------------------------------------------------------------------ orchestration


def _audio_envelope(path: PathLike, notes: list[str], what: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Loudness envelope of a file's audio, or None (with a note) when it has none or it is silent."""
    from talkingface.audio import load_audio

    try:
        samples = load_audio(path).samples
    except AudioError as error:
        notes.append(f"no A/V offset for the {what}: {error}")
        return None
    return m.loudness_envelope(samples)


def _has_audio(path: PathLike) -> bool:
    from talkingface.media import probe_video

    return probe_video(path).has_audio


def _load_portrait(portrait: PathLike | np.ndarray) -> tuple[np.ndarray, str]:
    if isinstance(portrait, np.ndarray):
        return portrait, "portrait"
    from talkingface.media import load_image

    return load_image(portrait), f"portrait {os.fspath(portrait)}"


def evaluate(video: PathLike | None = None, *, portrait: PathLike | np.ndarray | None = None,
             audio: PathLike | None = None, reference: PathLike | None = None,
             baseline: str | None = None, options: EvalOptions = EvalOptions(),
             speed: Speed | None = None, log: Log | None = None) -> Evaluation:
    """Measure a (generated) video, optionally against its portrait, audio and a real reference video.

    Parameters
    ----------
    video : path of the video to measure (None: only the reference and the baseline are measured)
    portrait : image (path or (H, W, 3) uint8 RGB array) the video was made from: identity anchor
    audio : speech the video was driven with; default the video's own audio track (A/V offset)
    reference : a real talking video of the same speech: lip-sync, M-LMD and the human range
    baseline : "loudness": also correlate the loudness envelope itself with the reference's mouth
        (audio from ``audio``, else the reference's own track)
    speed : timings to attach (self-reenact)
    log : called with a short progress line per stage

    Raises
    ------
    OptionError : nothing to measure, or a baseline without a reference
    InputNotFoundError, InputFileError, ImageError, NoFaceError : unreadable inputs
    """
    say = log or (lambda _: None)
    if baseline is not None and baseline not in BASELINES:
        raise OptionError("baseline", baseline, f"must be one of {BASELINES}")
    if video is None and reference is None:
        raise OptionError("video", None, "give a video to measure, or a reference with a baseline")
    if baseline is not None and reference is None:
        raise OptionError("baseline", baseline, "needs a real reference video to compare with")
    if video is None and baseline is None:
        raise OptionError("video", None, "without a video to measure, ask for a --baseline")
    if video is None and portrait is not None:
        raise OptionError("portrait", "given", "identity needs a video to measure")
    notes: list[str] = []
    portrait_image = _load_portrait(portrait) if portrait is not None else None

    tracked = reference_tracked = None
    envelope = reference_envelope = None
    result_video = result_reference = None
    if video is not None:
        say(f"tracking {os.fspath(video)}")
        tracked = track_video(video, sample_every=options.sample_every,
                              max_samples=options.max_identity_samples)
        if audio is not None:
            envelope = _audio_envelope(audio, notes, "video")
        elif _has_audio(video):
            envelope = _audio_envelope(video, notes, "video")
        else:
            notes.append("no A/V offset: the video has no audio track and no --audio was given")
        result_video = video_metrics(tracked, envelope=envelope, max_lag=options.max_lag_frames)
        if tracked.track.detect_rate == 0:
            notes.append(f"no face found in any frame of {os.fspath(video)}")
    if reference is not None:
        say(f"tracking {os.fspath(reference)}")
        reference_tracked = track_video(reference, sample_every=options.sample_every,
                                        max_samples=options.max_identity_samples)
        if _has_audio(reference):
            reference_envelope = _audio_envelope(reference, notes, "reference")
        result_reference = video_metrics(reference_tracked, envelope=reference_envelope,
                                         max_lag=options.max_lag_frames)

    sync = lip_sync(tracked, reference_tracked, max_lag=options.max_lag_frames) \
        if tracked is not None and reference_tracked is not None else None
    if sync is not None and sync.frames_compared == 0:
        notes.append("lip-sync: the video and the reference share no time span with faces in both")

    base = None
    if baseline == "loudness":
        assert reference_tracked is not None
        base_envelope = _audio_envelope(audio, notes, "baseline") if audio is not None else reference_envelope
        if base_envelope is None:
            notes.append("no loudness baseline: no audio (the reference has no audio track)")
        else:
            base = loudness_baseline(reference_tracked, base_envelope, max_lag=options.max_lag_frames)
            envelope = envelope if envelope is not None else base_envelope

    ident = _identity(tracked, portrait_image, reference_tracked, notes, say)
    result = EvalResult(result_video, result_reference, sync, base, ident, speed, tuple(notes))
    return Evaluation(result, tracked, reference_tracked, envelope if envelope is not None else reference_envelope)


def _identity(tracked: TrackedVideo | None, portrait: tuple[np.ndarray, str] | None,
              reference: TrackedVideo | None, notes: list[str], say: Log) -> Identity | None:
    from talkingface.evaluate.identity import unavailable_reason

    if tracked is None:
        return None
    if portrait is not None:
        anchor_image, anchor = portrait
    elif reference is not None and reference.samples:
        anchor_image, anchor = reference.samples[0].image, "reference's first frame with a face"
    elif reference is not None:
        notes.append("no identity: no portrait given, and no face in the reference to compare with")
        return None
    else:
        notes.append("no identity: give --portrait (or --reference)")
        return None
    reason = unavailable_reason()
    if reason is not None:
        notes.append(f"no identity: {reason}")
        return None
    say(f"identity: embedding {len(tracked.samples)} frames")
    return identity_metrics(anchor_image, tracked, anchor=anchor)


def render_self_reenact(real: PathLike, output: PathLike, *, phonetic: bool = True,
                        seed: int = 0) -> tuple[np.ndarray, Speed]:
    """Render a real talking video's first frame with the video's own audio into ``output`` (.mp4).

    The render keeps the real video's framing (``framing="full"``) and its average frame rate.
    Returns the portrait (the first frame, (H, W, 3) uint8 RGB) and the render's :class:`Speed`.
    Raises InputFileError if the video has no audio track, NoFaceError if its first frame has no face.
    """
    from talkingface.media import check_output_path, probe_video, read_video
    from talkingface.pipeline import AnimateOptions, animate

    info = probe_video(real)
    if not info.has_audio:
        raise InputFileError(real, "has no audio track to drive the portrait with")
    check_output_path(output, inputs=[real])
    frames, _ = read_video(real, max_frames=1)
    portrait = frames[0]
    options = AnimateOptions(fps=float(info.fps), framing="full", phonetic=phonetic, seed=seed)
    start = time.perf_counter()
    rendered = animate(portrait, real, output, options)
    seconds = time.perf_counter() - start
    render_s = rendered.timings.get("render_and_encode", float("nan"))
    speed = Speed(frames=rendered.frames, audio_s=rendered.duration_s, seconds=seconds,
                  fps=rendered.frames / seconds, real_time_factor=seconds / rendered.duration_s,
                  render_fps=rendered.frames / render_s if render_s > 0 else float("nan"),
                  stages=dict(rendered.timings))
    return portrait, speed


def self_reenact(real: PathLike, output: PathLike | None = None, *, baseline: str | None = None,
                 phonetic: bool = True, seed: int = 0, options: EvalOptions = EvalOptions(),
                 log: Log | None = None) -> Evaluation:
    """Drive a real talking video's first frame with the video's own audio (see
    :func:`render_self_reenact`), then evaluate the render against the real video: lip-sync, M-LMD,
    identity against that first frame, liveliness of both, speed.

    ``output``: where to keep the render (.mp4); default a temporary file, deleted afterwards.
    """
    say = log or (lambda _: None)
    with tempfile.TemporaryDirectory(prefix="talkingface-eval-") as folder:
        target = Path(output) if output is not None else Path(folder) / "self_reenact.mp4"
        say(f"rendering the first frame of {os.fspath(real)} with its own audio")
        portrait, speed = render_self_reenact(real, target, phonetic=phonetic, seed=seed)
        return evaluate(target, portrait=portrait, reference=real, baseline=baseline, options=options,
                        speed=speed, log=log)
