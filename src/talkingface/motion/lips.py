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
    "sil": (0.6, 14.0, {}),
    "PP": (4.0, 28.0, {"jawOpen": 0.05, "mouthClose": 1.0, "press": 0.35}),
    "FF": (2.5, 24.0, {"jawOpen": 0.07, "mouthRollLower": 0.85, "upper": 0.25}),
    "TH": (1.0, 20.0, {"jawOpen": 0.13, "lower": 0.15}),
    "DD": (0.5, 18.0, {"jawOpen": 0.15, "stretch": 0.1}),
    "kk": (0.45, 18.0, {"jawOpen": 0.18}),
    "CH": (1.3, 20.0, {"jawOpen": 0.1, "mouthFunnel": 0.55, "mouthPucker": 0.2}),
    "SS": (1.0, 20.0, {"jawOpen": 0.06, "stretch": 0.3}),
    "nn": (0.5, 18.0, {"jawOpen": 0.12}),
    "RR": (0.9, 18.0, {"jawOpen": 0.12, "mouthFunnel": 0.35, "mouthPucker": 0.25}),
    "aa": (1.0, 14.0, {"jawOpen": 0.5, "lower": 0.2}),
    "E": (0.9, 14.0, {"jawOpen": 0.32, "stretch": 0.3, "lower": 0.1}),
    "ih": (0.8, 14.0, {"jawOpen": 0.2, "stretch": 0.45}),
    "oh": (1.0, 14.0, {"jawOpen": 0.38, "mouthFunnel": 0.6, "mouthPucker": 0.2}),
    "ou": (1.2, 14.0, {"jawOpen": 0.14, "mouthPucker": 0.9, "mouthFunnel": 0.2}),
}
_BOTH_SIDES = {"stretch": ("mouthStretchLeft", "mouthStretchRight"),
               "upper": ("mouthUpperUpLeft", "mouthUpperUpRight"),
               "lower": ("mouthLowerDownLeft", "mouthLowerDownRight"),
               "press": ("mouthPressLeft", "mouthPressRight")}
ANTICIPATION_S = 0.03  # the mouth shapes a sound slightly before it is heard
LOUDNESS_SCALED = ("jawOpen", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthFunnel")


def viseme_target(viseme: str) -> np.ndarray:
    """Target values (len(LIP_PARAMETERS),) of one viseme (unknown visemes are neutral)."""
    target = np.zeros(len(LIP_PARAMETERS), np.float32)
    for key, value in _VISEME_SHAPES.get(viseme, _VISEME_SHAPES["sil"])[2].items():
        for name in _BOTH_SIDES.get(key, (key,)):
            target[LIP_PARAMETERS.index(name)] = value
    return target


def coarticulate(visemes, times: np.ndarray) -> np.ndarray:
    """Blend timed visemes into lip curves (T, len(LIP_PARAMETERS)) at times (T,) seconds.

    visemes: sequence of objects with .viseme, .start_s, .end_s.
    """
    curves = np.zeros((len(times), len(LIP_PARAMETERS)), np.float32)
    if not visemes:
        return curves
    total = np.full(len(times), 1e-6, np.float32)
    for item in visemes:
        dominance, rate, _ = _VISEME_SHAPES.get(item.viseme, _VISEME_SHAPES["sil"])
        centre = 0.5 * (item.start_s + item.end_s) - ANTICIPATION_S
        half = 0.5 * (item.end_s - item.start_s)
        distance = np.maximum(np.abs(times - centre) - 0.5 * half, 0.0)  # a plateau over the segment core
        weight = (dominance * np.exp(-rate * distance)).astype(np.float32)
        curves += weight[:, None] * viseme_target(item.viseme)[None, :]
        total += weight
    return curves / total[:, None]


def loudness_gain(loudness_db: np.ndarray, activity: np.ndarray) -> np.ndarray:
    """Per-sample articulation gain (T,) in [0.35, 1.25] from loudness relative to the speech's own."""
    speech = loudness_db[activity > 0.5]
    if speech.size < 10:
        return np.ones_like(loudness_db)
    reference, floor = np.percentile(speech, 90), np.percentile(speech, 10) - 6.0
    return np.clip(0.35 + 0.9 * (loudness_db - floor) / max(reference - floor, 1.0), 0.35, 1.25)


def acoustic_jaw(loudness_db: np.ndarray, voicing: np.ndarray, activity: np.ndarray) -> np.ndarray:
    """Jaw opening (T,) from loudness alone, for speech without phones: louder voiced sound opens more."""
    gain = loudness_gain(loudness_db, activity)
    return (0.32 * (gain - 0.35) / 0.9 * (0.4 + 0.6 * voicing) * activity).astype(np.float32)


def lip_columns() -> np.ndarray:
    """Column indices of LIP_PARAMETERS in the full parameter vector."""
    return np.array([PARAMETER_INDEX[name] for name in LIP_PARAMETERS])
