"""Render stage: frame shape, determinism, mouth interior, pinned border, full-frame paste-back.

The re-tracking checks (jaw, blink, gaze, head pose, identity) are in test_render_retrack.py."""

from __future__ import annotations

import numpy as np
import pytest

from talkingface.face import topology as tp
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


def test_neutral_frame_matches_portrait_crop(renderer):
    frame = renderer.render(params())
    assert frame.shape == (384, 384, 3) and frame.dtype == np.uint8
    again = renderer.render(params())
    assert np.array_equal(frame, again)  # deterministic


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
    rows, _ = np.nonzero(changed)
    _, y0, _, y1 = avatar.landmarks.bbox
    height = y1 - y0
    assert rows.max() < y1 + 1.2 * height  # nothing below the neck changes
    assert changed.mean() < 0.3
