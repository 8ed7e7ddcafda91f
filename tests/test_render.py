"""Render stage: re-track rendered frames and check they show what was asked for."""

from __future__ import annotations

import numpy as np
import pytest

from talkingface.face import topology as tp
from talkingface.face.landmarks import detect_faces
from talkingface.motion.params import PARAMETER_INDEX, PARAMETERS
from talkingface.render.renderer import Renderer, RenderOptions


@pytest.fixture(scope="module")
def renderer(avatar) -> Renderer:
    return Renderer(avatar, RenderOptions(size=384))


def params(**values: float) -> np.ndarray:
    vector = np.zeros(len(PARAMETERS), np.float32)
    for name, value in values.items():
        vector[PARAMETER_INDEX[name]] = value
    return vector


def track(frame: np.ndarray) -> np.ndarray:
    faces = detect_faces(frame)
    assert faces, "the rendered face must still be detectable"
    return faces[0].points


def mouth_opening(points: np.ndarray) -> float:
    """Inner-lip gap at the centre, relative to mouth width."""
    gap = np.linalg.norm(points[14, :2] - points[13, :2])
    return float(gap / np.linalg.norm(points[tp.MOUTH_LEFT_CORNER, :2] - points[tp.MOUTH_RIGHT_CORNER, :2]))


def eye_opening(points: np.ndarray) -> float:
    gaps = [np.linalg.norm(points[159, :2] - points[145, :2]), np.linalg.norm(points[386, :2] - points[374, :2])]
    return float(np.mean(gaps) / np.linalg.norm(points[33, :2] - points[263, :2]))


def test_neutral_frame_matches_portrait_crop(renderer):
    frame = renderer.render(params())
    assert frame.shape == (384, 384, 3) and frame.dtype == np.uint8
    again = renderer.render(params())
    assert np.array_equal(frame, again)  # deterministic


def test_jaw_opening_is_monotonic_when_retracked(renderer):
    openings = [mouth_opening(track(renderer.render(params(jawOpen=level)))) for level in (0.0, 0.25, 0.5)]
    assert openings[0] < openings[1] < openings[2]
    assert openings[2] - openings[0] > 0.08


def test_mouth_interior_is_darker_than_lips(renderer):
    frame = renderer.render(params(jawOpen=0.5)).astype(float)
    opening = renderer._label == 1  # LABEL_MOUTH
    assert opening.sum() > 50
    lips = renderer.rig.rest[list(tp.LIPS_LOWER_OUTER[3:-3]), :2].round().astype(int)
    lip_luma = frame[lips[:, 1], lips[:, 0]].mean()
    # the cavity is dark, teeth are bright: the interior spans both
    interior = frame[opening].mean(axis=1)
    assert interior.min() < 0.6 * lip_luma
    assert interior.max() > lip_luma


def test_blink_closes_eyes_when_retracked(renderer):
    open_ = eye_opening(track(renderer.render(params())))
    closed = eye_opening(track(renderer.render(params(eyeBlinkLeft=1.0, eyeBlinkRight=1.0))))
    assert closed < 0.5 * open_


def test_head_yaw_and_roll_follow_request(renderer):
    def nose_offset(p):
        points = track(renderer.render(p))
        centre = 0.5 * (points[tp.RIGHT_FACE_SIDE, 0] + points[tp.LEFT_FACE_SIDE, 0])
        return points[tp.NOSE_TIP, 0] - centre

    assert nose_offset(params(headYaw=15)) > nose_offset(params()) + 3
    assert nose_offset(params(headYaw=-15)) < nose_offset(params()) - 3

    def eye_tilt(p):
        points = track(renderer.render(p))
        d = points[tp.LEFT_IRIS[0], :2] - points[tp.RIGHT_IRIS[0], :2]
        return np.degrees(np.arctan2(d[1], d[0]))

    assert eye_tilt(params(headRoll=10)) - eye_tilt(params()) == pytest.approx(10, abs=4)


def test_far_from_face_pixels_unchanged(renderer):
    neutral = renderer.render(params())
    moved = renderer.render(params(jawOpen=0.4, headYaw=5, eyeBlinkLeft=1))
    # the crop border ring is pinned: corners never move
    for corner in (np.s_[:8, :8], np.s_[:8, -8:], np.s_[-8:, :8], np.s_[-8:, -8:]):
        assert np.abs(neutral[corner].astype(int) - moved[corner].astype(int)).max() <= 1


def test_full_frame_mode_keeps_portrait_outside_head(avatar):
    renderer = Renderer(avatar, RenderOptions(framing="full"))
    frame = renderer.render(params(jawOpen=0.4, headYaw=6))
    assert frame.shape == avatar.image.shape
    assert renderer.frame_size == avatar.size
    changed = np.abs(frame.astype(int) - avatar.image.astype(int)).max(axis=2) > 2
    rows, cols = np.nonzero(changed)
    x0, y0, x1, y1 = avatar.landmarks.bbox
    height = y1 - y0
    assert rows.max() < y1 + 1.2 * height  # nothing below the neck changes
    assert changed.mean() < 0.3
