"""Full-frame rendering: the head is rendered at a working resolution and pasted back where it changed."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from talkingface.face.landmarks import FaceLandmarks
from talkingface.motion.params import PARAMETER_INDEX, PARAMETERS
from talkingface.render.paste import paste_head
from talkingface.render.renderer import Renderer, RenderOptions, head_box


def test_paste_keeps_unweighted_pixels_and_upsamples_weighted_ones():
    frame = np.zeros((200, 200, 3), np.uint8)
    head = np.full((50, 50, 3), 200, np.uint8)
    weight = np.zeros((50, 50), np.float32)
    weight[10:40, 10:40] = 1.0
    weight[10:40, 40:44] = np.linspace(0.9, 0.1, 4)[None, :]
    paste_head(frame, head, weight, (0, 0), 4.0)
    assert frame[100, 100, 0] == 200  # inside the weighted area: the head
    assert frame[5, 5].max() == 0 and frame[190, 190].max() == 0  # outside: untouched
    band = frame[100, 160:176, 0].astype(int)
    assert band[0] > band[-1] and 0 < band[8] < 200  # feathered seam falls off


def test_paste_with_zero_weight_changes_nothing():
    frame = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    before = frame.copy()
    paste_head(frame, np.zeros((16, 16, 3), np.uint8), np.zeros((16, 16), np.float32), (0, 0), 4.0)
    assert np.array_equal(frame, before)


def test_full_frame_at_rest_is_the_portrait_and_motion_stays_in_the_head_region(avatar):
    large = cv2.resize(avatar.image, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)
    big = replace(avatar, image=large, mask=cv2.resize(avatar.mask, large.shape[1::-1]),
                  landmarks=FaceLandmarks(points=avatar.landmarks.points * 2.0))
    renderer = Renderer(big, RenderOptions(framing="full", work_size=256))
    assert renderer.frame_size == (large.shape[1], large.shape[0])
    rest = renderer.render(np.zeros(len(PARAMETERS), np.float32))
    differs = np.abs(rest.astype(int) - large).max(axis=2) > 0
    # only the lower face differs from the photo: the portrait's parted lips are closed at rest by design
    x0, y0, side = head_box(big)
    inside = np.zeros_like(differs)
    inside[max(y0, 0):y0 + side, max(x0, 0):x0 + side] = True
    eye_level = int(big.landmarks.points[[33, 263], 1].max())
    assert not (differs & ~inside).any() and not differs[:eye_level].any()
    params = np.zeros(len(PARAMETERS), np.float32)
    params[PARAMETER_INDEX["headYaw"]] = 10.0
    params[PARAMETER_INDEX["jawOpen"]] = 0.6
    moved = np.abs(renderer.render(params).astype(int) - large).max(axis=2) > 8
    assert moved.mean() > 0.01
    assert not (moved & ~inside).any()
