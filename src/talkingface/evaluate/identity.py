"""Identity: dlib's 128-d face embedding (ResNet, as in the ``face_recognition`` package).

The models come inside the ``face-recognition-models`` wheel and dlib inside ``dlib-bin``: nothing is
downloaded. Faces are located with the MediaPipe landmarks the evaluation already has (turned into
the box dlib's own detector would give), aligned by dlib's 5-point shape predictor, and embedded.
Two embeddings closer than 0.6 (Euclidean) are the same person by dlib's convention (99.38 % on LFW).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from talkingface.errors import TalkingFaceError

SAME_PERSON_THRESHOLD = 0.6
"""dlib's decision threshold on the Euclidean embedding distance."""

_INSTALL_HINT = "pip install dlib-bin face-recognition-models"


class IdentityUnavailableError(TalkingFaceError, RuntimeError):
    """dlib or its bundled face models are not installed."""


def unavailable_reason() -> str | None:
    """Why identity cannot be measured here (a sentence), or None when dlib and its models exist."""
    try:
        import dlib  # noqa: F401
    except ImportError as error:
        return f"dlib cannot be imported ({error}; {_INSTALL_HINT})"
    if _models_folder() is None:
        return f"the dlib face models are not installed ({_INSTALL_HINT})"
    return None


def _models_folder() -> Path | None:
    """The ``models`` folder of face_recognition_models, found without importing it (its
    ``__init__`` needs pkg_resources)."""
    try:
        spec = importlib.util.find_spec("face_recognition_models")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "models"
    return folder if folder.is_dir() else None


def dlib_box(points: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) pixels of the square box dlib's HOG face detector would draw, from
    MediaPipe landmarks (478, >=2): centred 26 % of the way from the eyes' midpoint to the chin, with
    a side of 1.32 eye-to-chin distances (fitted on real faces: embeddings from this box and from
    dlib's detector differ by < 0.07)."""
    eyes = 0.5 * (points[33, :2] + points[263, :2])
    down = points[152, :2] - eyes
    centre = eyes + 0.26 * down
    half = 0.66 * float(np.linalg.norm(down))
    return (int(round(centre[0] - half)), int(round(centre[1] - half)),
            int(round(centre[0] + half)), int(round(centre[1] + half)))


@dataclass
class FaceEmbedder:
    """Computes dlib face embeddings; the models (about 30 MB) load on the first call, not before.

    Raises :class:`IdentityUnavailableError` on first use if dlib or its models are missing.
    """

    _models: tuple[object, object] | None = field(default=None, init=False, repr=False)

    def _load(self) -> tuple[object, object]:
        if self._models is None:
            reason = unavailable_reason()
            if reason is not None:
                raise IdentityUnavailableError(f"identity metrics need dlib: {reason}")
            import dlib

            folder = _models_folder()
            assert folder is not None
            self._models = (dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat")),
                            dlib.face_recognition_model_v1(str(folder / "dlib_face_recognition_resnet_model_v1.dat")))
        return self._models

    def embed(self, image: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Embedding (128,) float64 of the face whose MediaPipe landmarks (478, >=2, image pixels)
        are given, in an (H, W, 3) uint8 RGB image."""
        import dlib

        predictor, model = self._load()
        image = np.ascontiguousarray(image, dtype=np.uint8)
        shape = predictor(image, dlib.rectangle(*dlib_box(points)))  # type: ignore[operator]
        return np.asarray(model.compute_face_descriptor(image, shape), np.float64)  # type: ignore[attr-defined]


def embedding_distances(anchor: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """Euclidean distances (K,) between an anchor embedding (128,) and embeddings (K, 128)."""
    return np.linalg.norm(np.asarray(embeddings).reshape(-1, anchor.size) - anchor, axis=1)
