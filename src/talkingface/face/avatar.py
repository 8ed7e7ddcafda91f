"""The prepared portrait: analysed once, animated many times."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from talkingface.errors import FaceTooSmallError, NoFaceError
from talkingface.face.landmarks import FaceLandmarks, detect_faces, person_mask

MIN_INTEROCULAR_PX = 24.0  # below this the mouth is a few pixels wide: nothing to animate


@dataclass(frozen=True)
class Avatar:
    """A portrait analysed for animation.

    image: (H, W, 3) uint8 RGB; landmarks: the animated face; mask: (H, W) float32 person mask in
    [0, 1]; faces_found: how many faces the portrait holds (the largest one is animated);
    source: the file it came from or "<array>".
    """

    image: np.ndarray
    landmarks: FaceLandmarks
    mask: np.ndarray
    faces_found: int
    source: str

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the portrait in pixels."""
        return self.image.shape[1], self.image.shape[0]


def analyse_portrait(image: np.ndarray, *, source: str | os.PathLike[str] = "<array>") -> Avatar:
    """Find the largest face in an RGB image (H, W, 3) uint8 and its person mask.

    Raises NoFaceError when there is no face, FaceTooSmallError when the face is too small to animate.
    """
    source = os.fspath(source)
    faces = detect_faces(image)
    if not faces:
        raise NoFaceError(source, "no face found in the image")
    face = faces[0]
    if face.interocular_px < MIN_INTEROCULAR_PX:
        raise FaceTooSmallError(
            source, f"the face is too small to animate: eyes {face.interocular_px:.0f} px apart, "
                    f"need at least {MIN_INTEROCULAR_PX:.0f} px (use a larger or tighter photo)")
    return Avatar(image=image, landmarks=face, mask=person_mask(image), faces_found=len(faces),
                  source=source)
