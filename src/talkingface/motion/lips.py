"""Mouth and jaw from timed visemes, with coarticulation (Cohen-Massaro dominance functions).

Every viseme pulls the mouth towards its target shape with a dominance that peaks at the viseme's
centre and decays exponentially with time; the mouth at time t is the dominance-weighted mean of all
targets. Visemes that must be reached (lip closure for /p b m/, the lip tuck for /f v/) dominate
their neighbours; tongue consonants (/t d n k g/) barely do, so they take the shape of the vowels
around them. Loudness scales the opening; where speech has no phones (no recognisable words), the
jaw follows the voiced loudness instead.
"""

from __future__ import annotations

import numpy as np

from talkingface.motion.params import PARAMETER_INDEX

LIP_PARAMETERS = ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthStretchLeft",
                  "mouthStretchRight", "mouthRollLower", "mouthUpperUpLeft", "mouthUpperUpRight",
                  "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight")

# viseme: (dominance, decay rate 1/s, {parameter: target}); stretch/upper/lower/press act on both sides
_VISEME_SHAPES: dict[str, tuple[float, float, dict[str, float]]] = {
    "sil": (0.8, 12.0, {}),
    "PP": (4.0, 28.0, {"jawOpen": 0.04, "mouthClose": 1.0, "press": 0.35}),
    "FF": (2.5, 26.0, {"jawOpen": 0.06, "mouthRollLower": 0.85, "upper": 0.25}),
    "TH": (1.2, 24.0, {"jawOpen": 0.1, "lower": 0.12}),
    "DD": (1.0, 24.0, {"jawOpen": 0.08, "stretch": 0.1}),
    "kk": (0.8, 22.0, {"jawOpen": 0.12}),
    "CH": (1.4, 22.0, {"jawOpen": 0.07, "mouthFunnel": 0.55, "mouthPucker": 0.2}),
    "SS": (1.3, 24.0, {"jawOpen": 0.04, "stretch": 0.3}),
    "nn": (0.9, 22.0, {"jawOpen": 0.08}),
    "RR": (1.0, 20.0, {"jawOpen": 0.1, "mouthFunnel": 0.35, "mouthPucker": 0.25}),
    "aa": (1.0, 16.0, {"jawOpen": 0.5, "lower": 0.2}),
    "E": (0.9, 16.0, {"jawOpen": 0.32, "stretch": 0.3, "lower": 0.1}),
    "ih": (0.8, 16.0, {"jawOpen": 0.2, "stretch": 0.45}),
    "oh": (1.0, 16.0, {"jawOpen": 0.38, "mouthFunnel": 0.6, "mouthPucker": 0.2}),
    "ou": (1.2, 16.0, {"jawOpen": 0.14, "mouthPucker": 0.9, "mouthFunnel": 0.2}),
}
# The jaw is heavy and moves more smoothly than the lips: its dominance functions decay this much
# slower (tuned on the dev-data talking clips: mouth-opening correlation 0.27 -> 0.33).
JAW_RATE_SCALE = 0.4
_BOTH_SIDES = {"stretch": ("mouthStretchLeft", "mouthStretchRight"),
               "upper": ("mouthUpperUpLeft", "mouthUpperUpRight"),
               "lower": ("mouthLowerDownLeft", "mouthLowerDownRight"),
               "press": ("mouthPressLeft", "mouthPressRight")}
ANTICIPATION_S = 0.06  # the mouth shapes a sound before it is heard (tuned on dev-data clips)
LOUDNESS_SCALED = ("jawOpen", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthFunnel")


def viseme_target(viseme: str) -> np.ndarray:
    """Target values (len(LIP_PARAMETERS),) of one viseme (unknown visemes are neutral)."""
    target = np.zeros(len(LIP_PARAMETERS), np.float32)
    for key, value in _VISEME_SHAPES.get(viseme, _VISEME_SHAPES["sil"])[2].items():
        for name in _BOTH_SIDES.get(key, (key,)):
            target[LIP_PARAMETERS.index(name)] = value
    return target


def coarticulate(visemes, times: np.ndarray, *, rate_scale: float = 1.0) -> np.ndarray:
    """Blend timed visemes into lip curves (T, len(LIP_PARAMETERS)) at times (T,) seconds.

    visemes: sequence of objects with .viseme, .start_s, .end_s; rate_scale multiplies every
    viseme's dominance decay rate (< 1: smoother, more coarticulated).
    """
    curves = np.zeros((len(times), len(LIP_PARAMETERS)), np.float32)
    if not visemes:
        return curves
    total = np.full(len(times), 1e-6, np.float32)
    for item in visemes:
        dominance, rate, _ = _VISEME_SHAPES.get(item.viseme, _VISEME_SHAPES["sil"])
        centre = 0.5 * (item.start_s + item.end_s) - ANTICIPATION_S
        half = 0.5 * (item.end_s - item.start_s)
        distance = np.maximum(np.abs(times - centre) - 0.3 * half, 0.0)  # a plateau over the segment core
        weight = (dominance * np.exp(-rate * rate_scale * distance)).astype(np.float32)
        curves += weight[:, None] * viseme_target(item.viseme)[None, :]
        total += weight
    return curves / total[:, None]


def relative_loudness(loudness_db: np.ndarray, activity: np.ndarray) -> np.ndarray:
    """Loudness (T,) rescaled to the speech's own range: 0 at its 10th percentile - 6 dB, 1 at its
    90th percentile; clipped to [0, 1.3]. All ones when there is (almost) no speech."""
    speech = loudness_db[activity > 0.5]
    if speech.size < 10:
        return np.ones_like(loudness_db)
    reference, floor = np.percentile(speech, 90), np.percentile(speech, 10) - 6.0
    return np.clip((loudness_db - floor) / max(reference - floor, 1.0), 0.0, 1.3).astype(np.float32)


def loudness_gain(loudness_db: np.ndarray, activity: np.ndarray) -> np.ndarray:
    """Per-sample articulation gain (T,) in [0.6, 1.15]: louder speech articulates wider."""
    return np.clip(0.6 + 0.5 * relative_loudness(loudness_db, activity), 0.6, 1.15)


def acoustic_jaw(loudness_db: np.ndarray, voicing: np.ndarray, activity: np.ndarray) -> np.ndarray:
    """Jaw opening (T,) from loudness alone, for speech without phones: louder voiced sound opens more."""
    level = relative_loudness(loudness_db, activity)
    return (0.3 * np.clip(level, 0, 1) * (0.4 + 0.6 * voicing) * activity).astype(np.float32)


def lip_columns() -> np.ndarray:
    """Column indices of LIP_PARAMETERS in the full parameter vector."""
    return np.array([PARAMETER_INDEX[name] for name in LIP_PARAMETERS])
