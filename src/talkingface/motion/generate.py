"""Audio track -> motion timeline: lips and jaw from visemes, plus head, blinks, gaze and brows."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter1d

from talkingface.audio.acoustic import FEATURE_NAMES
from talkingface.audio.decode import SAMPLE_RATE
from talkingface.audio.features import FLOOR_DB, speech_regions
from talkingface.errors import OptionError
from talkingface.motion import lips
from talkingface.motion.controls import Controls, apply_controls
from talkingface.motion.drive import Override
from talkingface.motion.engine import MotionEngine
from talkingface.motion.model import load_model
from talkingface.motion.options import StreamControls, StreamOptions
from talkingface.motion.params import PARAMETER_INDEX, Motion
from talkingface.validation import check_number


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
    lips: str = "learned"

    def __post_init__(self) -> None:
        if self.lips not in LIP_METHODS:
            raise OptionError("lips", self.lips, f"must be one of {LIP_METHODS}")
        check_number("fps", self.fps, low=1.0, high=120.0)
        check_number("articulation", self.articulation, low=0.0, high=2.0)
        check_number("head_motion", self.head_motion, low=0.0, high=3.0)
        check_number("blink_rate", self.blink_rate, low=0.0, high=60.0, unit=" per minute")
        check_number("seed", self.seed, low=0, high=2**63 - 1, integer=True)
        if not isinstance(self.controls, Controls):
            raise OptionError("controls", type(self.controls).__name__, "must be a Controls")


LIP_METHODS = ("auto", "learned", "rules")
OFFLINE_LIPS_MODEL = "lips_offline"
"""The committed model (motion/models/) of the offline "learned" lips."""


def frame_count(duration_s: float, fps: float) -> int:
    """Frames that cover duration_s at fps (video ends within one frame of the audio)."""
    return max(1, int(round(duration_s * fps)))


def generate_motion(track, options: MotionOptions = MotionOptions(), *, override: Override | None = None
                    ) -> Motion:
    """Motion for an analysed audio track (talkingface.audio.AudioTrack).

    The motion engine (motion.engine, the same as live) gives the acoustic lips, head, blinks, gaze
    and brows; offline, the lips then come from the learned offline model where the track has Whisper's
    encoding ("learned": over the whole clip, with the words' rule curves as inputs where words were
    heard), or from the words ("rules": visemes with coarticulation; "auto": the rules where phones are
    known, the engine's acoustic lips elsewhere). override: values that replace the generated ones
    where its weight says (e.g. the parameters a driving video controls, see motion.drive), blended in
    before the controls are applied."""
    if track.loudness_db.size == 0:
        raise OptionError("track", f"{track.duration_s:g} s of audio", "is empty; there is nothing to animate")
    fps = options.fps
    frames = frame_count(track.duration_s, fps)
    times = np.arange(frames, dtype=np.float32) / fps
    values = engine_motion(track, options)
    if options.lips == "rules" or track.acoustic is None:
        _add_lips(values, track, times, options.articulation)
    elif options.lips == "auto":
        if track.phones:
            _add_rule_lips_where_phones(values, track, times, options.articulation)
    elif track.encoding is not None:
        _add_learned_lips(values, track, times, options.articulation)
    values = override.apply(values) if override is not None else values
    return Motion(fps=fps, values=apply_controls(values, fps, options.controls))


def engine_motion(track, options: MotionOptions) -> np.ndarray:
    """(T, P) motion of the engine's offline run mode over a track: learned acoustic lips and the
    performance, no controls (MotionEngine.run_features; live streaming gives the same frames)."""
    stream = StreamOptions(fps=options.fps, seed=options.seed, blink_rate=options.blink_rate,
                           controls=StreamControls(head_motion=options.head_motion,
                                                   articulation=options.articulation))
    samples = round(track.duration_s * SAMPLE_RATE)
    frames = MotionEngine(stream).run_features(_engine_features(track), samples)
    return np.stack([frame.params for frame in frames]).astype(np.float32)


def _engine_features(track) -> np.ndarray:
    """The track's engine features; for a track made without audio (tests), a stand-in with its
    loudness, voicing and pitch and silent mel bands."""
    if track.acoustic is not None:
        return track.acoustic
    features = np.full((track.n_frames, len(FEATURE_NAMES)), FLOOR_DB, np.float32)
    features[:, 0], features[:, 1], features[:, 2] = track.loudness_db, track.voicing, track.pitch_hz
    return features


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


def rule_lips(track, times: np.ndarray) -> np.ndarray:
    """The rule-based lip and jaw curves (T, len(lips.LIP_PARAMETERS)) at times (T,) s: visemes with
    coarticulation, scaled by loudness; the voiced loudness drives the jaw where there are no phones;
    the jaw settles within about 0.1 s once speech stops."""
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
    curves[:, jaw] *= _speaking(track, times)
    return gaussian_filter1d(curves, sigma=0.5 * _rate(times) / 25.0, axis=0)  # no frame-to-frame popping


def _rate(times: np.ndarray) -> float:
    """Frames per second of a regular time grid (T,) s (25 for a single frame)."""
    return 1.0 / float(np.median(np.diff(times))) if len(times) > 1 else 25.0


def _speaking(track, times: np.ndarray, ease_s: float = 0.05, activity: np.ndarray | None = None) -> np.ndarray:
    """(T,) 1 in speech, 0 in silence: the lips settle within about 2 * ease_s once speech stops.
    activity: the speech activity (100 Hz) to follow, default the track's energy detector's."""
    activity = _at_times(track.speech_activity if activity is None else activity, track.feature_rate, times)
    return np.clip(1.5 * gaussian_filter1d(activity, sigma=ease_s * _rate(times)), 0, 1)


LEARNED_EASE_S = 0.1
"""How gently the learned lips are shut in pauses (see _speaking): the model hears a pause coming and
going itself. On held-out speakers (jawOpen r in parameter space, the model on Whisper's last layer):
ungated 0.53, shut by the energy detector with a 0.05 s ease 0.48, with 0.1 s 0.50, by _heard_speech
with 0.1 s 0.52."""


def _heard_speech(track) -> np.ndarray:
    """(T,) 100 Hz: 1 where speech is heard. Silero's voice activity where analysed: it keeps quiet
    syllables of continuous speech that an energy threshold drops and rejects noise that one keeps;
    but a stretch of sound the energy detector takes for speech and Silero hears none of (a synthetic
    or sung voice) keeps the energy detector's verdict."""
    if track.voice_activity is None:
        return (track.speech_activity > 0.5).astype(np.float32)
    heard = track.voice_activity > 0.5
    for start, end in speech_regions(track.speech_activity):
        if heard[start:end].mean() < 0.1:
            heard[start:end] = True
    return heard.astype(np.float32)


def _articulated_rule_lips(track, times: np.ndarray, articulation: float) -> np.ndarray:
    return np.clip(rule_lips(track, times) * articulation, 0.0, 1.0)


def _add_lips(values: np.ndarray, track, times: np.ndarray, articulation: float) -> None:
    """Write the rule-based lip and jaw curves into values (T, P) in place."""
    values[:, lips.lip_columns()] = _articulated_rule_lips(track, times, articulation)


def _add_rule_lips_where_phones(values: np.ndarray, track, times: np.ndarray, articulation: float) -> None:
    """Where phones are known, replace the engine's acoustic lips in values (T, P) (in place) by the
    rule-based ones, cross-faded at the edges of the recognised speech."""
    _blend_where_phones(values, track, times, lips.lip_columns(), _articulated_rule_lips(track, times, articulation))


def _add_learned_lips(values: np.ndarray, track, times: np.ndarray, articulation: float) -> None:
    """Replace the engine's acoustic lips in values (T, P) (in place) by the offline model's, from
    Whisper's encoding of the sound and the rule curves of the words (where heard): what real speakers'
    lips do with that sound, at a typical speaker's spread (MotionModel.predict). Closed in pauses."""
    model = load_model(OFFLINE_LIPS_MODEL)
    grid = (np.arange(track.n_frames) + 0.5) / track.feature_rate
    inputs = model.inputs(track.acoustic, rule_lips(track, grid), track.encoding)
    at = np.clip((times * track.feature_rate).astype(int), 0, track.n_frames - 1)
    speaking = _speaking(track, times, LEARNED_EASE_S, _heard_speech(track))
    curves = np.maximum(model.predict(inputs, at, speech=speaking > 0.5), 0.0) * speaking[:, None]
    curves = np.clip(gaussian_filter1d(curves, sigma=0.5, axis=0) * articulation, 0.0, 1.0)
    values[:, [PARAMETER_INDEX[name] for name in model.spec.outputs]] = curves


def _blend_where_phones(values: np.ndarray, track, times: np.ndarray, columns, curves: np.ndarray) -> None:
    """values[:, columns] (in place) -> curves (T, len(columns)) where phones are known, cross-faded."""
    covered = _phone_coverage(track.phones, times)[:, None]
    values[:, columns] = covered * curves + (1 - covered) * values[:, columns]


def _phone_coverage(phones, times: np.ndarray) -> np.ndarray:
    """(T,) 1 where a (non-silence) phone timing exists, blended over 60 ms edges."""
    covered = np.zeros(len(times), np.float32)
    for phone in phones:
        if phone.phone != "SIL":
            covered[(times >= phone.start_s - 0.1) & (times <= phone.end_s + 0.1)] = 1.0
    return gaussian_filter1d(covered, sigma=1.0)
