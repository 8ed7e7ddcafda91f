"""Audio track -> motion timeline: lips and jaw from visemes, plus head, blinks, gaze and brows."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter1d

from talkingface.errors import OptionError
from talkingface.motion import lips, performance
from talkingface.motion.controls import Controls, apply_controls, gaze_offsets
from talkingface.motion.drive import Override
from talkingface.motion.params import PARAMETER_INDEX, Motion


@dataclass(frozen=True)
class MotionOptions:
    """fps: frames per second; seed: random seed of the performance; articulation: lip/jaw strength
    (1 = natural); head_motion: head-motion expressiveness (0 = still head); blink_rate: blinks per
    minute; controls: gaze direction, head distance, emotion and keyframes (see Controls)."""

    fps: float = 25.0
    seed: int = 0
    articulation: float = 1.0
    head_motion: float = 1.0
    blink_rate: float = 17.0
    controls: Controls = field(default_factory=Controls)

    def __post_init__(self) -> None:
        if not 1.0 <= self.fps <= 120.0:
            raise OptionError("fps", self.fps, "must be between 1 and 120")
        if not 0.0 <= self.articulation <= 2.0:
            raise OptionError("articulation", self.articulation, "must be between 0 and 2")
        if not 0.0 <= self.head_motion <= 3.0:
            raise OptionError("head_motion", self.head_motion, "must be between 0 and 3")
        if not 0.0 <= self.blink_rate <= 60.0:
            raise OptionError("blink_rate", self.blink_rate, "must be between 0 and 60 per minute")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise OptionError("seed", self.seed, "must be a non-negative integer")


def frame_count(duration_s: float, fps: float) -> int:
    """Frames that cover duration_s at fps (video ends within one frame of the audio)."""
    return max(1, int(round(duration_s * fps)))


def generate_motion(track, options: MotionOptions = MotionOptions(), *, override: Override | None = None
                    ) -> Motion:
    """Motion for an analysed audio track (talkingface.audio.AudioTrack).

    override: values that replace the generated ones where its weight says (e.g. the parameters a
    driving video controls, see motion.drive), blended in before the controls are applied."""
    fps = options.fps
    frames = frame_count(track.duration_s, fps)
    times = np.arange(frames, dtype=np.float32) / fps
    motion = Motion.neutral(frames, fps)
    activity = _at_times(track.speech_activity, track.feature_rate, times)
    _add_lips(motion.values, track, times, activity, options.articulation, fps)
    rng = np.random.default_rng(options.seed)
    emphasis = performance.speech_emphasis(track.loudness_db, track.pitch_hz, track.speech_activity,
                                           track.feature_rate, times)
    pose = performance.head_pose(rng, emphasis, activity, fps, expressiveness=options.head_motion)
    for k, name in enumerate(("headYaw", "headPitch", "headRoll")):
        motion.values[:, PARAMETER_INDEX[name]] = pose[:, k]
    motion.values[:, PARAMETER_INDEX["headY"]] = 0.003 * np.sin(2 * np.pi * 0.25 * times)  # breathing
    onsets = performance.blink_times(rng, track.duration_s, activity < 0.5, fps, rate_per_min=options.blink_rate)
    blink = performance.blink_curve(onsets, times)
    for side in ("Left", "Right"):
        motion.values[:, PARAMETER_INDEX[f"eyeBlink{side}"]] = blink
    saccades = performance.gaze(rng, frames, fps)  # (T, 2) right, up
    motion.values[:] += gaze_offsets(saccades[:, 0], saccades[:, 1])
    motion.values[:, PARAMETER_INDEX["browInnerUp"]] = performance.brows(emphasis, fps) * options.head_motion ** 0.5
    values = override.apply(motion.values) if override is not None else motion.values
    return Motion(fps=fps, values=apply_controls(values, fps, options.controls))


def fit_motion(motion: Motion, frames: int, fps: float) -> Motion:
    """Resample a timeline to `frames` frames at `fps` (linear in time; the last frame is held)."""
    source_times = np.arange(motion.frames) / motion.fps
    times = np.arange(frames) / fps
    values = np.stack([np.interp(times, source_times, motion.values[:, p]) for p in range(motion.values.shape[1])],
                      axis=1)
    return Motion(fps=fps, values=values.astype(np.float32))


def _at_times(curve: np.ndarray, rate: float, times: np.ndarray) -> np.ndarray:
    """Sample a feature curve (F,) at rate Hz at times (T,) s by linear interpolation."""
    return np.interp(times, np.arange(len(curve)) / rate, curve).astype(np.float32)


def _add_lips(values: np.ndarray, track, times: np.ndarray, activity: np.ndarray,
              articulation: float, fps: float) -> None:
    """Write the lip and jaw curves into values (T, P) in place."""
    columns = lips.lip_columns()
    curves = lips.coarticulate(track.visemes, times)
    jaw = lips.LIP_PARAMETERS.index("jawOpen")
    curves[:, jaw] = lips.coarticulate(track.visemes, times, rate_scale=lips.JAW_RATE_SCALE)[:, jaw]
    gain = _at_times(lips.loudness_gain(track.loudness_db, track.speech_activity), track.feature_rate, times)
    for name in lips.LOUDNESS_SCALED:
        curves[:, lips.LIP_PARAMETERS.index(name)] *= gain
    covered = _phone_coverage(track.phones, times)
    acoustic = _at_times(lips.acoustic_jaw(track.loudness_db, track.voicing, track.speech_activity),
                         track.feature_rate, times)
    curves[:, jaw] = covered * curves[:, jaw] + (1 - covered) * acoustic
    # the jaw settles within about 0.1 s once speech stops (the slow jaw blend would linger)
    speaking = np.clip(1.5 * gaussian_filter1d(activity, sigma=0.05 * fps), 0, 1)
    curves[:, jaw] *= speaking
    curves = gaussian_filter1d(curves, sigma=0.5, axis=0)  # no frame-to-frame popping
    values[:, columns] = np.clip(curves * articulation, 0.0, 1.0)


def _phone_coverage(phones, times: np.ndarray) -> np.ndarray:
    """(T,) 1 where a (non-silence) phone timing exists, blended over 60 ms edges."""
    covered = np.zeros(len(times), np.float32)
    for phone in phones:
        if phone.phone != "SIL":
            covered[(times >= phone.start_s - 0.1) & (times <= phone.end_s + 0.1)] = 1.0
    return gaussian_filter1d(covered, sigma=1.0)
