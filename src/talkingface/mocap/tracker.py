"""Follow one face through a video: detect it once, then track it frame to frame.

The first frame with faces is searched with the full detector (``face.landmarks.detect_faces``, every
face, largest first); the chosen face is then meshed in each next frame inside a square crop centred
where it was in the frame before (MediaPipe's face mesh in its tracking mode, a few ms a frame). When
the face is lost the detector runs again, every ``redetect_every`` frames while it stays lost, and
picks the face nearest the last known one, so a second person is never swapped in. When no face is
near (a scene cut that moved the person), the face is recognised by identity instead: the dlib face
embedding the evaluation uses (``evaluate.identity``, when dlib is installed), against the face as
first seen. Without dlib, the face's shape stands in: in a video that began with one person the only
face in view is taken; among several, the one whose rigid landmarks (eye corners, nose, face sides)
best match the first-seen face's after a similarity alignment, when it clearly beats the others.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from talkingface.face.geometry import RIGID_POINTS, similarity_transform
from talkingface.face.landmarks import detect_faces, mesh_in_crop

CROP_SCALE = 1.9  # crop side in face heights (landmark bounding-box height)
MIN_FACE_PX = 24.0  # smaller landmark boxes are tracker failures, not faces


@dataclass(frozen=True)
class TrackedFrame:
    """One video frame's tracking result: time_s (presentation time, seconds), points (478, 3)
    float32 landmarks in frame pixels or None where the face was not found, and faces_seen (how many
    faces the detector saw when it last ran; 0 when it did not run on this frame)."""

    time_s: float
    points: np.ndarray | None
    faces_seen: int = 0


@contextlib.contextmanager
def _tracking_mesh() -> Iterator[object]:
    from mediapipe.python.solutions.face_mesh import FaceMesh

    with FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=True,
                  min_detection_confidence=0.3, min_tracking_confidence=0.3) as mesh:
        yield mesh


def _crop_window(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre (2,) and side (px) of the square crop the mesh sees, around landmarks (478, 3)."""
    return points[:, :2].mean(axis=0), CROP_SCALE * float(np.ptp(points[:, 1]))


def _mesh_crop(mesh: object, image: np.ndarray, centre: np.ndarray, side: float) -> np.ndarray | None:
    """Landmarks (478, 3) in image pixels of the face in the square crop (side px at centre), or None
    (also for a landmark box too small to be a face: a tracker failure)."""
    points = mesh_in_crop(image, mesh, centre, side)
    if points is None or np.ptp(points[:, 1]) < MIN_FACE_PX / 2:
        return None
    return points


def _nearest(faces: list[np.ndarray], last: np.ndarray) -> np.ndarray | None:
    """The face whose centre is nearest the last known face's, if within one face height of it."""
    centre, height = last[:, :2].mean(axis=0), float(np.ptp(last[:, 1]))
    distances = [float(np.linalg.norm(face[:, :2].mean(axis=0) - centre)) for face in faces]
    best = int(np.argmin(distances))
    return faces[best] if distances[best] < height else None


class FaceTracker:
    """Stateful tracker of one face over consecutive frames (use as a context manager).

    face: which face to follow when the video shows several, by size rank at the first frame with a
    face (0 = the largest); redetect_every: while the face is lost, run the full detector on every
    n-th frame (it costs 50-200 ms).
    """

    def __init__(self, *, face: int = 0, redetect_every: int = 5, by_identity: bool = True) -> None:
        self.face = face
        self.by_identity = by_identity
        self._reference: tuple[np.ndarray, np.ndarray] | None = None  # face crop and its landmarks
        self._reference_embedding: np.ndarray | None = None
        self._embedder: object | None = None
        self._embedder_missing = False
        self.redetect_every = redetect_every
        self._stack = contextlib.ExitStack()
        self._mesh: object | None = None
        self._last: np.ndarray | None = None  # landmarks of the face when last seen
        self._lost_for = 0
        self.faces_at_start = 0
        self.detections = 0

    def __enter__(self) -> FaceTracker:
        self._mesh = self._stack.enter_context(_tracking_mesh())
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def step(self, time_s: float, image: np.ndarray) -> TrackedFrame:
        """Track the face in the next frame (H, W, 3) uint8 RGB."""
        if self._mesh is None:
            raise RuntimeError("FaceTracker must be used inside a with block")
        points, seen = None, 0
        if self._last is not None and self._lost_for == 0:
            points = _mesh_crop(self._mesh, image, *_crop_window(self._last))
        if points is None and self._lost_for % self.redetect_every == 0:
            points, seen = self._detect(image)
        if points is None:
            self._lost_for += 1
        else:
            self._last, self._lost_for = points, 0
        return TrackedFrame(float(time_s), points, seen)

    def _same_person(self, image: np.ndarray, faces: list[np.ndarray]) -> np.ndarray | None:
        """Among faces far from where the face was last seen, the one that is the same person (by
        dlib embedding against the face as first seen; without dlib, by the face's shape), or None."""
        if not self.by_identity or self._reference is None:
            return None
        if self._embedder is None and not self._embedder_missing:
            self._embedder = _identity_embedder()
            self._embedder_missing = self._embedder is None
            if self._embedder is not None:
                self._reference_embedding = self._embedder.embed(*self._reference)  # type: ignore[attr-defined]
        if self._embedder is None:
            return _pick_same_shape(self._reference[1], faces, alone=self.faces_at_start == 1)
        return _pick_same_person(self._embedder, self._reference_embedding, image, faces)

    def _detect(self, image: np.ndarray) -> tuple[np.ndarray | None, int]:
        """Run the full detector; the chosen face refined by the tracking mesh, and the face count."""
        self.detections += 1
        faces = [f.points for f in detect_faces(image)]
        if not faces:
            return None, 0
        if self._last is None:
            self.faces_at_start = len(faces)
            if self.face >= len(faces):
                return None, len(faces)
            chosen = faces[self.face]
            self._reference = _face_crop(image, chosen)
        else:
            chosen = _nearest(faces, self._last)
            if chosen is None:
                chosen = self._same_person(image, faces)
            if chosen is None:
                return None, len(faces)
        refined = _mesh_crop(self._mesh, image, *_crop_window(chosen))
        return (refined if refined is not None else chosen), len(faces)


def _face_crop(image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A copy of the region around a face (2 face heights) and its landmarks in the crop's px."""
    centre, side = _crop_window(points)
    x0, y0 = (np.maximum(centre - side / 2, 0)).astype(int)
    x1, y1 = np.minimum(centre + side / 2, (image.shape[1], image.shape[0])).astype(int)
    return image[y0:y1, x0:x1].copy(), points - np.array([x0, y0, 0], np.float32)


IDENTITY_THRESHOLD = 0.6  # dlib's same-person distance


def _identity_embedder() -> object | None:
    """A dlib FaceEmbedder, or None when dlib or its models are not installed."""
    from talkingface.evaluate.identity import FaceEmbedder, unavailable_reason

    return FaceEmbedder() if unavailable_reason() is None else None


def _pick_same_person(embedder: object, reference: np.ndarray, image: np.ndarray, faces: list[np.ndarray]
                      ) -> np.ndarray | None:
    """The face (478, 3) whose embedding is nearest the reference (128,), if it is the same person."""
    distances = [float(np.linalg.norm(embedder.embed(image, face) - reference)) for face in faces]  # type: ignore[attr-defined]
    best = int(np.argmin(distances))
    return faces[best] if distances[best] < IDENTITY_THRESHOLD else None


SHAPE_MARGIN = 0.8  # without dlib, the best shape match must be this much closer than the next


def shape_distance(reference: np.ndarray, points: np.ndarray) -> float:
    """RMS distance of a face's rigid landmarks (face.geometry.RIGID_POINTS, 3D) from a reference
    face's after the best similarity alignment, in units of the reference's size: small for the same
    face in another pose or place, larger for another face."""
    source, target = points[list(RIGID_POINTS)].astype(np.float64), reference[list(RIGID_POINTS)].astype(np.float64)
    matrix, offset = similarity_transform(source, target)
    size = float(np.sqrt(((target - target.mean(axis=0)) ** 2).sum(axis=1).mean()))
    residual = source @ matrix.T + offset - target
    return float(np.sqrt((residual ** 2).sum(axis=1).mean()) / max(size, 1e-6))


def _pick_same_shape(reference: np.ndarray, faces: list[np.ndarray], *, alone: bool) -> np.ndarray | None:
    """The face (478, 3) that is the reference's, judged without an embedding: the only face in a video
    that began with one person, or the clearly closest shape among several; else None."""
    if len(faces) == 1:
        return faces[0] if alone else None
    distances = sorted((shape_distance(reference, face), k) for k, face in enumerate(faces))
    (best, k), (second, _) = distances[0], distances[1]
    return faces[k] if best < SHAPE_MARGIN * second else None
