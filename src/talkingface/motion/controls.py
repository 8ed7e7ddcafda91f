"""User controls over the generated motion: VASA-1's three (gaze direction, head distance, emotion)
and keyframes that pin any parameter over a time range, blended smoothly into the performance."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from talkingface.errors import MotionFileError, OptionError
from talkingface.media.structured import Fields, Limits, load_json
from talkingface.motion.params import PARAMETER_INDEX, PARAMETER_RANGES, PARAMETERS
from talkingface.validation import check_number

# expression offsets at intensity 1 (ARKit coefficients) and head pitch offsets in degrees
EMOTIONS: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"mouthSmileLeft": 0.55, "mouthSmileRight": 0.55, "cheekSquintLeft": 0.35,
              "cheekSquintRight": 0.35, "browInnerUp": 0.05},
    "sad": {"browInnerUp": 0.6, "mouthFrownLeft": 0.45, "mouthFrownRight": 0.45,
            "eyeBlinkLeft": 0.15, "eyeBlinkRight": 0.15, "headPitch": 4.0},
    "angry": {"browDownLeft": 0.75, "browDownRight": 0.75, "mouthPressLeft": 0.35,
              "mouthPressRight": 0.35, "eyeWideLeft": 0.2, "eyeWideRight": 0.2, "headPitch": 2.0},
    "surprised": {"browInnerUp": 0.7, "browOuterUpLeft": 0.7, "browOuterUpRight": 0.7,
                  "eyeWideLeft": 0.6, "eyeWideRight": 0.6, "jawOpen": 0.08, "headPitch": -2.0},
    "disgusted": {"browDownLeft": 0.4, "browDownRight": 0.4, "mouthUpperUpLeft": 0.5,
                  "mouthUpperUpRight": 0.5, "mouthFrownLeft": 0.2, "mouthFrownRight": 0.2,
                  "cheekSquintLeft": 0.3, "cheekSquintRight": 0.3},
}
UNBOUNDED = {"headYaw", "headPitch", "headRoll", "headX", "headY", "headScale"}
MAX_TIME_S = 86_400.0
"""Latest keyframe time accepted, seconds (a day)."""
MAX_KEYFRAMES = 10_000
KEYFRAME_LIMITS = Limits(max_bytes=1 << 20, max_depth=8)
"""Bounds of a keyframe file: 1 MiB, nesting {"keyframes": [{"set": {...}}]} and a little more."""


@dataclass(frozen=True)
class Keyframe:
    """Pin parameters to values from start_s to end_s (None: to the end), easing in and out over ease_s."""

    start_s: float
    values: Mapping[str, float]
    end_s: float | None = None
    ease_s: float = 0.25

    def __post_init__(self) -> None:
        check_number("start", self.start_s, low=0.0, high=MAX_TIME_S)
        if self.end_s is not None:
            check_number("end", self.end_s, low=self.start_s, high=MAX_TIME_S)
            if self.end_s == self.start_s:
                raise OptionError("end", self.end_s, f"must be a time after start ({self.start_s} s)")
        check_number("ease", self.ease_s, low=0.0, high=5.0)
        for name, value in self.values.items():
            if name not in PARAMETER_INDEX:
                raise OptionError("parameter", name, "is not a motion parameter (see talkingface.PARAMETERS)")
            low, high = PARAMETER_RANGES[name]
            check_number(name, value, low=low, high=high)

    def weight(self, times: np.ndarray) -> np.ndarray:
        """(T,) blend weight in [0, 1]: smooth ramps of ease_s before start and after end."""
        ease = max(self.ease_s, 1e-3)
        rise = _smoothstep((times - self.start_s + ease) / ease)
        if self.end_s is None:
            return rise
        return rise * _smoothstep((self.end_s + ease - times) / ease)


@dataclass(frozen=True)
class Controls:
    """gaze: main gaze direction (right, up) in [-1, 1] (subject looks towards the image's right for
    right > 0); head_distance: apparent distance of the head, 1 = as in the photo, 0.8 = 20 % further
    (smaller), 1.2 closer; emotion: a name in EMOTIONS; emotion_intensity in [0, 1];
    keyframes: pinned parameter ranges, applied last."""

    gaze: tuple[float, float] = (0.0, 0.0)
    head_distance: float = 1.0
    emotion: str = "neutral"
    emotion_intensity: float = 1.0
    keyframes: tuple[Keyframe, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not isinstance(self.gaze, (tuple, list)) or len(self.gaze) != 2:
            raise OptionError("gaze", self.gaze, "must be (right, up) with each in [-1, 1]")
        for value in self.gaze:
            check_number("gaze", value, low=-1.0, high=1.0)
        check_number("head_distance", self.head_distance, low=0.5, high=2.0)
        if not isinstance(self.emotion, str) or self.emotion not in EMOTIONS:
            raise OptionError("emotion", self.emotion, f"must be one of {sorted(EMOTIONS)}")
        check_number("emotion_intensity", self.emotion_intensity, low=0.0, high=1.0)
        if not all(isinstance(keyframe, Keyframe) for keyframe in self.keyframes):
            raise OptionError("keyframes", self.keyframes, "must be a sequence of Keyframe")


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def emotion_offsets(emotion: str, intensity: float) -> np.ndarray:
    """(P,) additive parameter offsets of an emotion at an intensity."""
    offsets = np.zeros(len(PARAMETERS), np.float32)
    for name, value in EMOTIONS[emotion].items():
        offsets[PARAMETER_INDEX[name]] = value * intensity
    return offsets


# gaze (right, up) -> eyeLook*: looking to the image's right, the subject's left eye looks out and
# the right eye looks in; each entry is (parameter, weight of right, weight of up)
_GAZE_WEIGHTS = (("eyeLookOutLeft", 1, 0), ("eyeLookInRight", 1, 0), ("eyeLookInLeft", -1, 0),
                 ("eyeLookOutRight", -1, 0), ("eyeLookUpLeft", 0, 1), ("eyeLookUpRight", 0, 1),
                 ("eyeLookDownLeft", 0, -1), ("eyeLookDownRight", 0, -1))


def gaze_offsets(right: float | np.ndarray, up: float | np.ndarray) -> np.ndarray:
    """eyeLook* offsets (..., P) for gaze directions right, up in [-1, 1] (scalars or (T,) curves)."""
    right, up = np.broadcast_arrays(np.asarray(right, np.float32), np.asarray(up, np.float32))
    offsets = np.zeros(right.shape + (len(PARAMETERS),), np.float32)
    for name, along_right, along_up in _GAZE_WEIGHTS:
        offsets[..., PARAMETER_INDEX[name]] = np.maximum(along_right * right + along_up * up, 0.0)
    return offsets


def apply_controls(values: np.ndarray, fps: float, controls: Controls) -> np.ndarray:
    """Controlled copy of a motion array values (T, P): offsets, then keyframes, then clipping."""
    out = values + emotion_offsets(controls.emotion, controls.emotion_intensity)
    out = out + gaze_offsets(*controls.gaze)
    out[:, PARAMETER_INDEX["headScale"]] += controls.head_distance - 1.0
    times = np.arange(len(values)) / fps
    for keyframe in controls.keyframes:
        weight = keyframe.weight(times)[:, None]
        target = out.copy()
        for name, value in keyframe.values.items():
            target[:, PARAMETER_INDEX[name]] = value
        out = out + weight * (target - out)
    bounded = [i for i, name in enumerate(PARAMETERS) if name not in UNBOUNDED]
    out[:, bounded] = np.clip(out[:, bounded], 0.0, 1.0)
    return out.astype(np.float32)


def load_keyframes(path: str | os.PathLike[str]) -> tuple[Keyframe, ...]:
    """Read a keyframe file: {"keyframes": [{"start": s, "end": s?, "ease": s?, "set": {name: value},
    "emotion": name?, "intensity": x?}, ...]} (at most 1 MiB). Raises InputNotFoundError, or
    MotionFileError naming the file, the field and the problem."""
    document = load_json(path, limits=KEYFRAME_LIMITS, error=MotionFileError, kind="a keyframe file")
    fields = Fields(path, MotionFileError)
    top = fields.object(document, "", required=("keyframes",))
    entries = fields.array(top["keyframes"], "keyframes", max_items=MAX_KEYFRAMES)
    return tuple(_keyframe(fields, fields.child("keyframes", i), entry) for i, entry in enumerate(entries))


def _keyframe(fields: Fields, where: str, entry: object) -> Keyframe:
    entry = fields.object(entry, where, required=("start",),
                          optional=("end", "ease", "set", "emotion", "intensity"))
    start = fields.number(entry["start"], f"{where}.start", low=0.0, high=MAX_TIME_S)
    end = entry.get("end")
    if end is not None:
        end = fields.number(end, f"{where}.end", low=0.0, high=MAX_TIME_S)
        if end <= start:
            fields.fail(f"{where}.end", f"must be a time after start ({start:g} s), got {end:g}")
    ease = fields.number(entry.get("ease", 0.25), f"{where}.ease", low=0.0, high=5.0)
    values = {}
    for name, value in fields.object(entry.get("set", {}), f"{where}.set",
                                     optional=PARAMETERS).items():
        low, high = PARAMETER_RANGES[name]
        values[name] = float(fields.number(value, f"{where}.set.{name}", low=low, high=high))
    if "emotion" in entry:
        emotion = fields.string(entry["emotion"], f"{where}.emotion", choices=EMOTIONS)
        intensity = fields.number(entry.get("intensity", 1.0), f"{where}.intensity", low=0.0, high=1.0)
        for name, offset in EMOTIONS[emotion].items():
            values.setdefault(name, offset * float(intensity))
    elif "intensity" in entry:
        fields.fail(f"{where}.intensity", 'is only used with "emotion"')
    return Keyframe(start_s=float(start), end_s=None if end is None else float(end), ease_s=float(ease),
                    values=values)
