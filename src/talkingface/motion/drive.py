"""Video-driven motion: which parameters a driving video's captured motion takes over, and how.

A captured performance (``talkingface.mocap``) is relative to the driving face's own neutral, so it
maps onto any portrait. ``--regions`` chooses what comes from the video (the rest comes from the
speech as usual); ``--drive-strength`` scales it. Past the end of the driving video the speech-driven
motion takes over again, cross-faded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from talkingface.errors import OptionError
from talkingface.motion.lips import LIP_PARAMETERS
from talkingface.motion.params import EXPRESSION_PARAMETERS, HEAD_PARAMETERS, PARAMETER_INDEX, Motion

_EYES = tuple(name for name in EXPRESSION_PARAMETERS if name.startswith("eye"))
REGIONS: dict[str, tuple[str, ...]] = {
    "head": HEAD_PARAMETERS,
    "eyes": _EYES,
    "lips": LIP_PARAMETERS,
    "expression": tuple(name for name in EXPRESSION_PARAMETERS if name not in _EYES + LIP_PARAMETERS),
}
"""Region name -> the parameters a driving video controls in it (together: every parameter)."""
HANDOVER_S = 0.3  # cross-fade back to the speech-driven motion after the driving video ends


@dataclass(frozen=True)
class DriveOptions:
    """regions: what the driving video controls (names in REGIONS); strength: scale of the driving
    motion (1 = as performed, 0 = none); face: which face of the driving video, by size rank at its
    first frame with a face (0 = the largest)."""

    regions: tuple[str, ...] = tuple(REGIONS)
    strength: float = 1.0
    face: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.regions, str) or not self.regions:
            raise OptionError("regions", self.regions, f"must be a non-empty list of {sorted(REGIONS)}")
        unknown = [r for r in self.regions if r not in REGIONS]
        if unknown:
            raise OptionError("regions", ",".join(map(str, unknown)), f"unknown; choose from {sorted(REGIONS)}")
        if not (isinstance(self.strength, (int, float)) and math.isfinite(self.strength)
                and 0.0 <= self.strength <= 2.0):
            raise OptionError("drive_strength", self.strength, "must be between 0 and 2")
        if not isinstance(self.face, int) or isinstance(self.face, bool) or not 0 <= self.face < 100:
            raise OptionError("face", self.face, "must be an integer from 0 (the largest face) to 99")

    @property
    def columns(self) -> np.ndarray:
        """Indices of the driven parameters."""
        return np.array(sorted(PARAMETER_INDEX[name] for region in self.regions for name in REGIONS[region]))


@dataclass(frozen=True)
class Override:
    """Values (T, P) that replace generated motion with weight (T, P) in [0, 1] (0: keep generated)."""

    values: np.ndarray
    weight: np.ndarray

    def apply(self, values: np.ndarray) -> np.ndarray:
        """values (T, P) blended towards the override."""
        return values + self.weight * (self.values - values)


def drive_override(captured: Motion, options: DriveOptions, frames: int, fps: float) -> Override:
    """The override a captured motion makes on a timeline of `frames` frames at `fps`: the driven
    columns, scaled by options.strength, for as long as the video lasts, then fading out."""
    times = np.arange(frames) / fps
    source = np.arange(captured.frames) / captured.fps
    values = np.zeros((frames, captured.values.shape[1]), np.float32)
    columns = options.columns
    for column in columns:
        values[:, column] = np.interp(times, source, captured.values[:, column]) * options.strength
    weight = np.zeros_like(values)
    fade = np.clip(1.0 - (times - captured.duration_s) / HANDOVER_S, 0.0, 1.0)
    weight[:, columns] = fade[:, None]
    return Override(values, weight)
