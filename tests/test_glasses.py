"""Glasses layer: no false detection on the bundled portrait, a drawn frame is found, removed from the
texture and drawn back rigidly (exactly at rest, shifted with the head)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from talkingface.face import topology as tp
from talkingface.render.glasses import (
    CANVAS,
    Glasses,
    canonical_transform,
    detect_glasses,
    draw_glasses,
    frame_mask,
    prepare_glasses,
)
from talkingface.render.renderer import head_box

FRAME_PX = 5  # drawn frame thickness at 512 px


def head_crop(avatar, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The avatar's square head crop resized to size px (as the renderer's texture, before any layer
    is cut out of it) and its landmarks (478, 3) in crop px."""
    x0, y0, side = head_box(avatar)
    height, width = avatar.image.shape[:2]
    pads = (max(0, -y0), max(0, y0 + side - height), max(0, -x0), max(0, x0 + side - width))
    padded = cv2.copyMakeBorder(avatar.image, *pads, cv2.BORDER_REPLICATE)
    crop = padded[y0 + pads[0]:y0 + pads[0] + side, x0 + pads[2]:x0 + pads[2] + side]
    scale = size / side
    texture = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    points = avatar.landmarks.points.astype(np.float64).copy()
    points[:, 0] = (points[:, 0] - x0) * scale
    points[:, 1] = (points[:, 1] - y0) * scale
    points[:, 2] *= scale
    return texture, points


def draw_frame(texture: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A dark glasses frame drawn onto texture: a rounded rectangle around each eye, a bridge across
    the nose and temple arms towards the face sides. Returns (image, frame pixels (H, W) bool)."""
    scale = texture.shape[0] / 512
    thickness = max(2, round(FRAME_PX * scale))
    right = points[list(tp.RIGHT_EYE_CONTOUR), :2].mean(axis=0)
    left = points[list(tp.LEFT_EYE_CONTOUR), :2].mean(axis=0)
    distance = float(np.linalg.norm(left - right))
    half_w, half_h, corner = 0.42 * distance, 0.30 * distance, 0.12 * distance
    mask = np.zeros(texture.shape[:2], np.uint8)
    tops = []
    for centre, side in ((right, -1), (left, 1)):
        cx, cy = centre[0], centre[1] + 0.1 * distance
        x0, x1, y0, y1 = cx - half_w, cx + half_w, cy - half_h, cy + half_h
        box = np.array([[x0 + corner, y0], [x1 - corner, y0], [x1, y0 + corner], [x1, y1 - corner],
                        [x1 - corner, y1], [x0 + corner, y1], [x0, y1 - corner], [x0, y0 + corner]])
        cv2.polylines(mask, [np.round(box * 4).astype(np.int32)], True, 1, thickness, cv2.LINE_AA, 2)
        outer = cx + side * half_w
        arm = np.array([[outer, y0 + corner], [outer + side * 0.3 * distance, y0 + corner]])
        cv2.polylines(mask, [np.round(arm * 4).astype(np.int32)], False, 1, thickness, cv2.LINE_AA, 2)
        tops.append((cx - side * half_w, y0 + corner))
    bridge = np.array([tops[0], [(tops[0][0] + tops[1][0]) / 2, tops[0][1] - 0.05 * distance], tops[1]])
    cv2.polylines(mask, [np.round(bridge * 4).astype(np.int32)], False, 1, thickness, cv2.LINE_AA, 2)
    image = texture.copy()
    frame = mask > 0
    image[frame] = (0.2 * image[frame] + 0.8 * np.array([25, 22, 20])).astype(np.uint8)
    return image, frame


@pytest.fixture(scope="module")
def crop(avatar):
    return head_crop(avatar, 512)


@pytest.fixture(scope="module")
def framed(crop):
    texture, points = crop
    image, frame = draw_frame(texture, points)
    cleaned, glasses = prepare_glasses(image, points)
    return image, frame, cleaned, glasses


def test_canonical_view_puts_the_eyes_at_fixed_points(crop):
    _, points = crop
    transform = canonical_transform(points)
    right = points[list(tp.RIGHT_EYE_CONTOUR), :2].mean(axis=0)
    left = points[list(tp.LEFT_EYE_CONTOUR), :2].mean(axis=0)
    mapped = np.stack([right, left]) @ transform[:, :2].T + transform[:, 2]
    expected = np.array([[-50 - CANVAS[0], -CANVAS[1]], [50 - CANVAS[0], -CANVAS[1]]])
    np.testing.assert_allclose(mapped, expected, atol=1e-6)


@pytest.mark.parametrize("size", [256, 512, 1024])
def test_no_glasses_found_on_the_bundled_portrait(avatar, size):
    texture, points = head_crop(avatar, size)
    cleaned, glasses = prepare_glasses(texture, points)
    assert glasses is None
    assert cleaned is texture


def test_drawn_frame_is_found_and_its_mask_matches(crop, framed):
    image, frame, _, glasses = framed
    assert isinstance(glasses, Glasses)
    detection = detect_glasses(image, crop[1])
    assert detection.found and detection.scores["bridge"] > 0.8
    mask = frame_mask(detection, image.shape[:2], crop[1])
    iou = np.sum(mask & frame) / np.sum(mask | frame)
    assert iou > 0.5, iou


def test_removed_frame_looks_like_the_skin_around_it(crop, framed):
    texture, points = crop
    image, frame, cleaned, _ = framed
    # drawn pixels away from the eyes (whose lashes stay in the texture, on purpose)
    inner = cv2.erode(frame.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    eyes = np.zeros(frame.shape, np.uint8)
    for contour in (tp.RIGHT_EYE_CONTOUR, tp.LEFT_EYE_CONTOUR):
        cv2.fillPoly(eyes, [np.round(points[list(contour), :2]).astype(np.int32)], 1)
    inner &= cv2.dilate(eyes, np.ones((15, 15), np.uint8)) == 0
    before = np.abs(image[inner].astype(float) - texture[inner]).mean()
    after = np.abs(cleaned[inner].astype(float) - texture[inner]).mean()
    assert before > 60
    assert after < 20, after


def test_layer_at_rest_restores_the_portrait(crop, framed):
    points = crop[1]
    image, _, cleaned, glasses = framed
    rest = np.vstack([points, np.zeros((10, 3))]).astype(np.float32)  # rigs append more vertices
    frame = cleaned.copy()
    draw_glasses(frame, rest, rest.copy(), glasses)
    x0, y0 = glasses.origin
    h, w = glasses.rgba.shape[:2]
    difference = np.abs(frame[y0:y0 + h, x0:x0 + w].astype(float) - image[y0:y0 + h, x0:x0 + w])
    assert difference.mean() < 1.0
    assert np.array_equal(frame[:y0], cleaned[:y0])  # nothing drawn outside the layer's box


def test_layer_follows_a_translated_head(crop, framed):
    points = crop[1]
    image, frame_pixels, cleaned, glasses = framed
    shift = np.array([7.0, -4.0, 0.0])
    rest = points.astype(np.float32)
    frame = cleaned.copy()
    draw_glasses(frame, rest, rest + shift.astype(np.float32), glasses)
    moved = np.zeros_like(frame_pixels)
    ys, xs = np.nonzero(frame_pixels)
    ys, xs = ys - 4, xs + 7
    keep = (ys >= 0) & (xs < frame.shape[1])
    moved[ys[keep], xs[keep]] = True
    dark = frame.astype(float).mean(axis=2) < 60
    assert np.sum(dark & moved) > 0.7 * np.sum(dark & (moved | frame_pixels))  # the frame moved along
    shifted_image = np.zeros_like(image)
    shifted_image[:-4, 7:] = image[4:, :-7]  # image content moved by (+7, -4)
    inner = cv2.erode(moved.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert np.abs(frame[inner].astype(float) - shifted_image[inner]).mean() < 12


def test_layer_leaving_the_frame_is_clipped(crop, framed):
    points = crop[1]
    _, _, cleaned, glasses = framed
    rest = points.astype(np.float32)
    frame = cleaned.copy()
    draw_glasses(frame, rest, rest + np.float32([-400.0, 0.0, 0.0]), glasses)  # mostly off the left edge
    draw_glasses(frame, rest, rest + np.float32([2000.0, 0.0, 0.0]), glasses)  # entirely off
    assert frame.shape == cleaned.shape
