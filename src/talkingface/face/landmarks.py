"""Face detection and 478-point 3D landmarks (with iris) through MediaPipe, plus the person mask.

MediaPipe's face mesh only finds faces that fill a good part of its input, so faces are first located
with the full-range face detector, then each one is meshed inside a square crop around it. This works
the same for a 256 px thumbnail and a 4000 px photo.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from talkingface.face.topology import CHIN, FOREHEAD_TOP, LEFT_IRIS, NUM_LANDMARKS, RIGHT_IRIS

MESH_INPUT_SIZE = 384  # px; side of the square crop the face mesh sees
DETECT_MAX_SIDE = 1024  # px; images are downscaled to this before face detection


@dataclass(frozen=True)
class FaceLandmarks:
    """One face's landmarks in image pixels.

    points: (478, 3) float32; x, y in pixels of the full image, z depth in the same pixel units, smaller
    is closer to the camera (MediaPipe's convention), zero near the head's centre plane.
    """

    points: np.ndarray

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the landmarks, pixels."""
        x0, y0 = self.points[:, :2].min(axis=0)
        x1, y1 = self.points[:, :2].max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)

    @property
    def interocular_px(self) -> float:
        """Distance between the two iris centres, pixels."""
        return float(np.linalg.norm(self.points[RIGHT_IRIS[0], :2] - self.points[LEFT_IRIS[0], :2]))

    @property
    def face_height_px(self) -> float:
        """Forehead-top to chin distance, pixels."""
        return float(np.linalg.norm(self.points[FOREHEAD_TOP, :2] - self.points[CHIN, :2]))

    @property
    def area_px(self) -> float:
        """Area of the landmark bounding box, square pixels."""
        x0, y0, x1, y1 = self.bbox
        return (x1 - x0) * (y1 - y0)


@contextlib.contextmanager
def _face_detector(model_selection: int) -> Iterator[object]:
    from mediapipe.python.solutions.face_detection import FaceDetection

    with FaceDetection(model_selection=model_selection, min_detection_confidence=0.5) as detector:
        yield detector


@contextlib.contextmanager
def _face_mesh() -> Iterator[object]:
    from mediapipe.python.solutions.face_mesh import FaceMesh

    with FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True,
                  min_detection_confidence=0.3) as mesh:
        yield mesh


def _detect_boxes(image: np.ndarray) -> list[tuple[float, float, float, float]]:
    """Face boxes (x, y, w, h) in pixels, from the full-range and short-range detectors run on the whole
    image and on four overlapping tiles (so that small faces in a large picture are found too)."""
    height, width = image.shape[:2]
    windows = [(0, 0, width, height)]
    if max(height, width) >= 400:
        tile_w, tile_h = int(0.6 * width), int(0.6 * height)
        windows += [(x, y, tile_w, tile_h) for y in (0, height - tile_h) for x in (0, width - tile_w)]
    boxes: list[tuple[float, float, float, float]] = []
    for model_selection in (1, 0):
        with _face_detector(model_selection) as detector:
            for x, y, w, h in windows:
                for box in _detect_in_window(detector, image[y:y + h, x:x + w]):
                    candidate = (box[0] + x, box[1] + y, box[2], box[3])
                    if not any(_overlap(candidate, known) > 0.3 for known in boxes):
                        boxes.append(candidate)
    return boxes


def _detect_in_window(detector: object, window: np.ndarray) -> list[tuple[float, float, float, float]]:
    """Face boxes (x, y, w, h) in window pixels."""
    height, width = window.shape[:2]
    scale = min(1.0, DETECT_MAX_SIDE / max(height, width))
    small = cv2.resize(window, (round(width * scale), round(height * scale)),
                       interpolation=cv2.INTER_AREA) if scale < 1 else window
    result = detector.process(np.ascontiguousarray(small))  # type: ignore[attr-defined]
    boxes = []
    for detection in result.detections or []:
        box = detection.location_data.relative_bounding_box
        boxes.append((box.xmin * width, box.ymin * height, box.width * width, box.height * height))
    return boxes


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    return inter / max(a[2] * a[3] + b[2] * b[3] - inter, 1e-9)


def mesh_in_crop(image: np.ndarray, mesh: object, centre: np.ndarray, side: float) -> np.ndarray | None:
    """Run the face mesh on a square crop (side px, centred at centre); landmarks in image pixels or None."""
    scale = MESH_INPUT_SIZE / side
    affine = np.array([[scale, 0, MESH_INPUT_SIZE / 2 - scale * centre[0]],
                       [0, scale, MESH_INPUT_SIZE / 2 - scale * centre[1]]], dtype=np.float64)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    crop = cv2.warpAffine(image, affine, (MESH_INPUT_SIZE, MESH_INPUT_SIZE), flags=interpolation,
                          borderMode=cv2.BORDER_REPLICATE)
    result = mesh.process(crop)  # type: ignore[attr-defined]
    if not result.multi_face_landmarks:
        return None
    points = np.array([(p.x, p.y, p.z) for p in result.multi_face_landmarks[0].landmark], np.float32)
    points *= MESH_INPUT_SIZE / scale
    points[:, 0] += centre[0] - side / 2
    points[:, 1] += centre[1] - side / 2
    return points


def detect_faces(image: np.ndarray) -> list[FaceLandmarks]:
    """All faces in an RGB image (H, W, 3) uint8, largest first; empty list when there is none."""
    faces: list[FaceLandmarks] = []
    with _face_mesh() as mesh:
        for x, y, w, h in _detect_boxes(image):
            centre = np.array([x + w / 2, y + h / 2])
            points = mesh_in_crop(image, mesh, centre, side=2.2 * max(w, h))
            if points is None:
                continue
            # second pass centred on the found face, for a tighter, better-conditioned crop
            refined = mesh_in_crop(image, mesh, points[:, :2].mean(axis=0),
                                    side=1.9 * float(np.ptp(points[:, 1])))
            faces.append(FaceLandmarks(refined if refined is not None else points))
        if not faces:  # detectors missed it (e.g. extreme crop): let the mesh look at the whole image
            height, width = image.shape[:2]
            points = mesh_in_crop(image, mesh, np.array([width / 2, height / 2]), side=max(height, width))
            if points is not None:
                faces.append(FaceLandmarks(points))
    assert all(f.points.shape == (NUM_LANDMARKS, 3) for f in faces)
    return sorted(faces, key=lambda f: f.area_px, reverse=True)


def person_mask(image: np.ndarray, *, max_side: int = 512) -> np.ndarray:
    """Soft person (foreground) mask of an RGB image, (H, W) float32 in [0, 1]."""
    from mediapipe.python.solutions.selfie_segmentation import SelfieSegmentation

    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    small = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                       interpolation=cv2.INTER_AREA) if scale < 1 else image
    with SelfieSegmentation(model_selection=0) as segmenter:
        mask = segmenter.process(np.ascontiguousarray(small)).segmentation_mask
    return cv2.resize(mask.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
