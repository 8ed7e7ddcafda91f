"""Face stage: landmarks, the largest face is picked, person mask, too-small faces."""

from __future__ import annotations

import numpy as np
import pytest

from talkingface.errors import FaceTooSmallError, NoFaceError
from talkingface.face import topology as tp
from talkingface.face.avatar import analyse_portrait
from talkingface.face.landmarks import detect_faces


def test_landmarks_sit_on_the_face(avatar):
    points = avatar.landmarks.points
    assert points.shape == (tp.NUM_LANDMARKS, 3)
    height, width = avatar.image.shape[:2]
    # the astronaut's face is in the upper middle of the photo
    x0, y0, x1, y1 = avatar.landmarks.bbox
    assert 0 < x0 < x1 < width and 0 < y0 < y1 < height / 2
    # anatomy: eyes above the nose tip above the mouth above the chin
    eyes_y = points[[tp.RIGHT_IRIS[0], tp.LEFT_IRIS[0]], 1].mean()
    assert eyes_y < points[tp.NOSE_TIP, 1] < points[13, 1] < points[tp.CHIN, 1]
    # subject's right eye is on the image's left
    assert points[tp.RIGHT_IRIS[0], 0] < points[tp.LEFT_IRIS[0], 0]
    assert 40 < avatar.landmarks.interocular_px < 120


def test_person_mask_covers_face_not_corners(avatar):
    mask = avatar.mask
    assert mask.shape == avatar.image.shape[:2] and mask.dtype == np.float32
    nose = avatar.landmarks.points[tp.NOSE_TIP, :2].astype(int)
    assert mask[nose[1], nose[0]] > 0.5


def test_largest_of_several_faces_is_animated(portrait_rgb):
    small = portrait_rgb[::2, ::2]  # 256 px copy: a face about 50 px wide
    canvas = np.full((900, 1100, 3), 128, np.uint8)
    canvas[:512, :512] = portrait_rgb
    canvas[-256:, -256:] = small
    faces = detect_faces(canvas)
    assert len(faces) == 2
    avatar = analyse_portrait(canvas)
    assert avatar.faces_found == 2
    assert avatar.landmarks.bbox[2] < 512  # the big face, on the left


def test_no_face_raises_with_source_named():
    noise = np.random.default_rng(0).integers(0, 255, (300, 300, 3), dtype=np.uint8)
    with pytest.raises(NoFaceError, match="noise.png"):
        analyse_portrait(noise, source="noise.png")


def test_too_small_face_raises(portrait_rgb):
    tiny = portrait_rgb[::8, ::8]  # 64 px wide photo: eyes ~10 px apart
    canvas = np.full((400, 400, 3), 200, np.uint8)
    canvas[100:164, 100:164] = tiny
    with pytest.raises((FaceTooSmallError, NoFaceError), match="tiny.png"):
        analyse_portrait(canvas, source="tiny.png")


def test_triangles_leave_mouth_and_eyes_open():
    triangles = tp.face_triangles()
    assert triangles.min() >= 0 and triangles.max() < 468
    for hole in (tp.INNER_LIP_CONTOUR, tp.RIGHT_EYE_CONTOUR, tp.LEFT_EYE_CONTOUR):
        assert not any(set(t) <= set(hole) for t in triangles.tolist())
