"""Follow one face through a video: detect it once, then track it frame to frame.

The first frame with faces is searched with the full detector (``face.landmarks.detect_faces``, every
face, largest first); the chosen face is then meshed in each next frame inside a square crop centred
where it was in the frame before (MediaPipe's face mesh in its tracking mode, a few ms a frame). When
the face is lost the detector runs again, every ``redetect_every`` frames while it stays lost, and
picks the face nearest the last known one, so a second person is never swapped in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

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

    def __init__(self, *, face: int = 0, redetect_every: int = 5) -> None:
        self.face = face
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
        else:
            chosen = _nearest(faces, self._last)
            if chosen is None:
                return None, len(faces)
        refined = _mesh_crop(self._mesh, image, *_crop_window(chosen))
        return (refined if refined is not None else chosen), len(faces)
