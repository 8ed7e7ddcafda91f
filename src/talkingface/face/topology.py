"""Fixed topology of the MediaPipe 478-point face mesh: named landmark groups and triangles.

Index lists follow MediaPipe's face-mesh keypoint annotations ("right" is the subject's right, which is
on the image's left in a frontal photo).
"""

from __future__ import annotations

import functools

import numpy as np

NUM_LANDMARKS = 478

LIPS_UPPER_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_LOWER_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LIPS_UPPER_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIPS_LOWER_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)

INNER_LIP_PAIRS = ((81, 178), (82, 87), (13, 14), (312, 317), (311, 402))
"""Upper/lower inner-lip landmark pairs across the middle of the mouth; their gap is the opening."""

RIGHT_EYE_UPPER0 = (246, 161, 160, 159, 158, 157, 173)
RIGHT_EYE_LOWER0 = (33, 7, 163, 144, 145, 153, 154, 155, 133)
RIGHT_EYE_UPPER1 = (247, 30, 29, 27, 28, 56, 190)
RIGHT_EYE_UPPER2 = (113, 225, 224, 223, 222, 221, 189)
RIGHT_EYE_LOWER1 = (130, 25, 110, 24, 23, 22, 26, 112, 243)
RIGHT_BROW_UPPER = (156, 70, 63, 105, 66, 107, 55, 193)
RIGHT_BROW_LOWER = (35, 124, 46, 53, 52, 65)
RIGHT_IRIS = (468, 469, 470, 471, 472)

LEFT_EYE_UPPER0 = (466, 388, 387, 386, 385, 384, 398)
LEFT_EYE_LOWER0 = (263, 249, 390, 373, 374, 380, 381, 382, 362)
LEFT_EYE_UPPER1 = (467, 260, 259, 257, 258, 286, 414)
LEFT_EYE_UPPER2 = (342, 445, 444, 443, 442, 441, 413)
LEFT_EYE_LOWER1 = (359, 255, 339, 254, 253, 252, 256, 341, 463)
LEFT_BROW_UPPER = (383, 300, 293, 334, 296, 336, 285, 417)
LEFT_BROW_LOWER = (265, 353, 276, 283, 282, 295)
LEFT_IRIS = (473, 474, 475, 476, 477)

FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
             152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)

FOREHEAD_TOP = 10
CHIN = 152
NOSE_TIP = 1
BETWEEN_EYES = 168
RIGHT_FACE_SIDE = 234
LEFT_FACE_SIDE = 454
MOUTH_RIGHT_CORNER = 61
MOUTH_LEFT_CORNER = 291


def eye_contour(upper0: tuple[int, ...], lower0: tuple[int, ...]) -> tuple[int, ...]:
    """Closed eye-opening contour: lower lid corner to corner, then the upper lid back."""
    return tuple(lower0) + tuple(reversed(upper0))


RIGHT_EYE_CONTOUR = eye_contour(RIGHT_EYE_UPPER0, RIGHT_EYE_LOWER0)
LEFT_EYE_CONTOUR = eye_contour(LEFT_EYE_UPPER0, LEFT_EYE_LOWER0)
INNER_LIP_CONTOUR = LIPS_UPPER_INNER + tuple(reversed(LIPS_LOWER_INNER[1:-1]))


@functools.cache
def face_triangles() -> np.ndarray:
    """Triangles of MediaPipe's face tessellation, (M, 3) int32, without the eye and mouth holes filled.

    The tessellation is published as edges; its faces are the 3-cycles of that graph. Cycles whose three
    corners all lie on one hole contour (they would cover the mouth or an eye) are dropped.
    """
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    neighbours: dict[int, set[int]] = {}
    for a, b in FACEMESH_TESSELATION:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    triangles = {
        tuple(sorted((a, b, c)))
        for a, b in FACEMESH_TESSELATION
        for c in neighbours[a] & neighbours[b]
    }
    holes = [set(INNER_LIP_CONTOUR), set(RIGHT_EYE_CONTOUR), set(LEFT_EYE_CONTOUR)]
    kept = [t for t in sorted(triangles) if not any(set(t) <= hole for hole in holes)]
    return np.asarray(kept, dtype=np.int32)
