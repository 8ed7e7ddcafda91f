"""Options and live controls of a streaming session, and the errors it raises."""

from __future__ import annotations

from dataclasses import dataclass, field

from talkingface.errors import OptionError, TalkingFaceError
from talkingface.motion.controls import EMOTIONS
from talkingface.validation import check_number

MAX_LOOKAHEAD_S = 0.5
"""Largest accepted look-ahead, seconds."""


class StreamError(TalkingFaceError, RuntimeError):
    """A streaming session was used out of order (e.g. audio pushed after flush())."""


def _number(name: str, value: object, low: float, high: float, unit: str = "") -> None:
    check_number(name, value, low=low, high=high, unit=unit)


@dataclass(frozen=True)
class StreamControls:
    """What a viewer may change while a session runs; changes are applied smoothly.

    emotion: a name in ``talkingface.motion.controls.EMOTIONS`` (neutral, happy, sad, angry,
    surprised, ...); emotion_intensity in [0, 1]; gaze: main gaze direction (right, up), each in
    [-1, 1]; head_motion: head-motion strength in [0, 3] (0 = still head, idle blinks and gaze go
    on); articulation: lip/jaw strength in [0, 2]; head_distance: apparent distance in [0.5, 2]
    (1 = as in the photo, larger = closer); transition_s: time constant of the smoothing, seconds.
    """

    emotion: str = "neutral"
    emotion_intensity: float = 1.0
    gaze: tuple[float, float] = (0.0, 0.0)
    head_motion: float = 1.0
    articulation: float = 1.0
    head_distance: float = 1.0
    transition_s: float = 0.3

    def __post_init__(self) -> None:
        if not isinstance(self.emotion, str) or self.emotion not in EMOTIONS:
            raise OptionError("emotion", self.emotion, f"must be one of {sorted(EMOTIONS)}")
        _number("emotion_intensity", self.emotion_intensity, 0.0, 1.0)
        gaze = self.gaze
        if not isinstance(gaze, (tuple, list)) or len(gaze) != 2:
            raise OptionError("gaze", gaze, "must be a pair (right, up)")
        for value in gaze:
            _number("gaze", value, -1.0, 1.0)
        object.__setattr__(self, "gaze", (float(gaze[0]), float(gaze[1])))
        _number("head_motion", self.head_motion, 0.0, 3.0)
        _number("articulation", self.articulation, 0.0, 2.0)
        _number("head_distance", self.head_distance, 0.5, 2.0)
        _number("transition_s", self.transition_s, 0.0, 10.0, " s")


@dataclass(frozen=True)
class StreamOptions:
    """How a streaming session turns audio into frames.

    fps: frame rate of the output (1-120); size: side of the square head crop in px (64-4096);
    lookahead_s: audio after a frame's time the lips may look at (0-0.5 s); it is the main part
    of the latency; sample_rate: rate of the pushed audio in Hz (resampled to 16 kHz when
    different); seed: random seed of head motion, blinks and gaze (same seed + same audio = same
    frames); blink_rate: blinks per minute (0-60); controls: the initial StreamControls.
    """

    fps: float = 25.0
    size: int = 512
    lookahead_s: float = 0.06
    sample_rate: int = 16000
    seed: int = 0
    blink_rate: float = 17.0
    controls: StreamControls = field(default_factory=StreamControls)

    def __post_init__(self) -> None:
        _number("fps", self.fps, 1.0, 120.0, " frames/s")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or not 64 <= self.size <= 4096:
            raise OptionError("size", self.size, "must be a whole number of px between 64 and 4096")
        _number("lookahead_s", self.lookahead_s, 0.0, MAX_LOOKAHEAD_S, " s")
        rate = self.sample_rate
        if isinstance(rate, bool) or not isinstance(rate, int) or not 8000 <= rate <= 192000:
            raise OptionError("sample_rate", rate, "must be a whole number of Hz from 8000 to 192000")
        check_number("seed", self.seed, low=0, high=2**63 - 1, integer=True)
        _number("blink_rate", self.blink_rate, 0.0, 60.0, " per minute")
        if not isinstance(self.controls, StreamControls):
            raise OptionError("controls", type(self.controls).__name__, "must be a StreamControls")
