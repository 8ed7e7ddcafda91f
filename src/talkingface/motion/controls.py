"""User controls over the generated motion: VASA-1's three (gaze direction, head distance, emotion)
and keyframes that pin any parameter over a time range, blended smoothly into the performance."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from talkingface.errors import InputNotFoundError, MotionFileError, OptionError
from talkingface.motion.params import PARAMETER_INDEX, PARAMETERS

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


@dataclass(frozen=True)
class Keyframe:
    """Pin parameters to values from start_s to end_s (None: to the end), easing in and out over ease_s."""

    start_s: float
    values: Mapping[str, float]
    end_s: float | None = None
    ease_s: float = 0.25

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start_s) and self.start_s >= 0):
            raise OptionError("start", self.start_s, "must be a time >= 0 in seconds")
        if self.end_s is not None and not (math.isfinite(self.end_s) and self.end_s > self.start_s):
            raise OptionError("end", self.end_s, f"must be a time after start ({self.start_s} s)")
        if not (math.isfinite(self.ease_s) and 0 <= self.ease_s <= 5):
            raise OptionError("ease", self.ease_s, "must be between 0 and 5 seconds")
        for name, value in self.values.items():
            if name not in PARAMETER_INDEX:
                raise OptionError("parameter", name, "is not a motion parameter (see talkingface.PARAMETERS)")
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise OptionError(name, value, "must be a finite number")

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
        if len(self.gaze) != 2 or not all(-1.0 <= g <= 1.0 for g in self.gaze):
            raise OptionError("gaze", self.gaze, "must be (right, up) with each in [-1, 1]")
        if not 0.5 <= self.head_distance <= 2.0:
            raise OptionError("head_distance", self.head_distance, "must be between 0.5 and 2")
        if self.emotion not in EMOTIONS:
            raise OptionError("emotion", self.emotion, f"must be one of {sorted(EMOTIONS)}")
        if not 0.0 <= self.emotion_intensity <= 1.0:
            raise OptionError("emotion_intensity", self.emotion_intensity, "must be between 0 and 1")


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
    "emotion": name?, "intensity": x?}, ...]}. Raises MotionFileError naming the file and entry."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputNotFoundError(path, "no such keyframe file")
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MotionFileError(path, f"is not a readable JSON file ({error})") from error
    entries = document.get("keyframes") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise MotionFileError(path, 'must be a JSON object with a "keyframes" list')
    return tuple(_keyframe(path, index, entry) for index, entry in enumerate(entries))


def _keyframe(path: str, index: int, entry: object) -> Keyframe:
    where = f"keyframe {index}"
    if not isinstance(entry, dict) or "start" not in entry:
        raise MotionFileError(path, f'{where}: must be an object with a "start" time')
    values = dict(entry.get("set", {}))
    if "emotion" in entry:
        emotion, intensity = entry["emotion"], entry.get("intensity", 1.0)
        if emotion not in EMOTIONS:
            raise MotionFileError(path, f"{where}: unknown emotion {emotion!r}; one of {sorted(EMOTIONS)}")
        for name in EMOTIONS[emotion]:
            values.setdefault(name, EMOTIONS[emotion][name] * float(intensity))
    unknown = set(entry) - {"start", "end", "ease", "set", "emotion", "intensity"}
    if unknown:
        raise MotionFileError(path, f"{where}: unknown keys {sorted(unknown)}")
    try:
        return Keyframe(start_s=float(entry["start"]), end_s=None if entry.get("end") is None else float(entry["end"]),
                        ease_s=float(entry.get("ease", 0.25)), values=values)
    except (OptionError, TypeError, ValueError) as error:
        raise MotionFileError(path, f"{where}: {error}") from error
