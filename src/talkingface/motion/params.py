"""The motion parameters ("motion latent") and the per-frame timeline that carries them.

Expression coefficients use Apple ARKit blendshape names, in [0, 1]; "Left"/"Right" are the subject's.
Head pose: yaw/pitch/roll in degrees (yaw > 0 turns the face towards the image's right, pitch > 0
tilts the chin down, roll > 0 tilts the head clockwise in the image), headX/headY translation in face
heights (image right / down), headScale the relative size change (0.1 = 10 % larger).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkingface.errors import OptionError
from talkingface.validation import check_number

HEAD_PARAMETERS = ("headYaw", "headPitch", "headRoll", "headX", "headY", "headScale")
EXPRESSION_PARAMETERS = (
    "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthStretchLeft", "mouthStretchRight",
    "mouthPressLeft", "mouthPressRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "mouthLowerDownLeft", "mouthLowerDownRight", "mouthRollLower",
    "eyeBlinkLeft", "eyeBlinkRight", "eyeWideLeft", "eyeWideRight",
    "eyeLookUpLeft", "eyeLookUpRight", "eyeLookDownLeft", "eyeLookDownRight",
    "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight",
    "browInnerUp", "browOuterUpLeft", "browOuterUpRight", "browDownLeft", "browDownRight",
    "cheekSquintLeft", "cheekSquintRight",
)
PARAMETERS = HEAD_PARAMETERS + EXPRESSION_PARAMETERS
PARAMETER_INDEX = {name: i for i, name in enumerate(PARAMETERS)}
HEAD_RANGES = {"headYaw": (-90.0, 90.0), "headPitch": (-90.0, 90.0), "headRoll": (-90.0, 90.0),
               "headX": (-2.0, 2.0), "headY": (-2.0, 2.0), "headScale": (-0.9, 3.0)}
PARAMETER_RANGES: dict[str, tuple[float, float]] = {
    name: HEAD_RANGES.get(name, (0.0, 1.0)) for name in PARAMETERS}
"""Accepted (low, high) of each parameter in keyframes and motion files: ARKit coefficients 0-1,
angles in degrees, translation in face heights, scale as a relative change."""


@dataclass(frozen=True)
class Motion:
    """A timeline of motion parameters: values (T, P) float32 at fps frames per second.

    Column p holds PARAMETERS[p]; frame t shows time t / fps seconds.
    """

    fps: float
    values: np.ndarray

    def __post_init__(self) -> None:
        check_number("fps", self.fps, low=1e-3, high=1000.0)
        if self.values.ndim != 2 or self.values.shape[1] != len(PARAMETERS):
            raise OptionError("values", self.values.shape, f"must have shape (T, {len(PARAMETERS)})")

    @classmethod
    def neutral(cls, frames: int, fps: float) -> Motion:
        """A still, neutral timeline of `frames` frames."""
        return cls(fps=fps, values=np.zeros((frames, len(PARAMETERS)), np.float32))

    @property
    def frames(self) -> int:
        return int(self.values.shape[0])

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps

    def __getitem__(self, name: str) -> np.ndarray:
        """The (T,) curve of one parameter, by name."""
        if name not in PARAMETER_INDEX:
            raise KeyError(f"unknown motion parameter {name!r}")
        return self.values[:, PARAMETER_INDEX[name]]

    def frame(self, t: int) -> dict[str, float]:
        """Parameters of frame t as a {name: value} dict."""
        return dict(zip(PARAMETERS, map(float, self.values[t])))
