"""Mouth interior: drawn only inside the opening, in the portrait's palette, with teeth that follow the
skull (upper row) and the jaw (lower row). Synthetic faces only: no face detection needed."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from talkingface.face import topology as tp
from talkingface.render.mouth import (
    JAW_POINT,
    draw_mouth_interior,
    draw_own_interior,
    mouth_palette,
    own_mouth,
)

SIZE = 256
MOUTH_CENTRE = np.array([128.0, 180.0])
MOUTH_HALF_WIDTH = 32.0
LIP_PINK = (185, 95, 95)
SKIN = (205, 160, 135)


def _lip_curve(indices: tuple[int, ...], bulge: float, points: np.ndarray) -> None:
    """Place the 11 landmarks of a lip contour on an arc from corner to corner; bulge > 0 is down."""
    u = np.linspace(-1.0, 1.0, len(indices))
    points[list(indices), 0] = MOUTH_CENTRE[0] + u * MOUTH_HALF_WIDTH
    points[list(indices), 1] = MOUTH_CENTRE[1] + bulge * (1.0 - u**2)


def synthetic_face(grey: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A flat drawn face (SIZE, SIZE, 3) uint8 with closed lips and its landmarks (478, 3) px."""
    points = np.zeros((tp.NUM_LANDMARKS, 3), np.float32)
    points[:, :2] = (128.0, 150.0)
    for index, xy in {33: (80, 100), 133: (112, 100), 362: (144, 100), 263: (176, 100),
                      468: (96, 100), 469: (101, 100), 473: (160, 100), 474: (165, 100),
                      195: (128, 135), 205: (92, 165), 50: (88, 150), 187: (94, 175),
                      425: (164, 165), 280: (168, 150), 411: (162, 175),
                      18: (128, 200), JAW_POINT: (128, 212), 152: (128, 235)}.items():
        points[index, :2] = xy
    points[195, 2] = -25.0  # the nose bridge stands out towards the camera
    _lip_curve(tp.LIPS_UPPER_OUTER, -9.0, points)
    _lip_curve(tp.LIPS_UPPER_INNER, -0.5, points)
    _lip_curve(tp.LIPS_LOWER_INNER, 0.5, points)
    _lip_curve(tp.LIPS_LOWER_OUTER, 11.0, points)
    image = np.full((SIZE, SIZE, 3), SKIN, np.uint8)
    outline = points[list(tp.LIPS_UPPER_OUTER) + list(tp.LIPS_LOWER_OUTER[::-1]), :2]
    cv2.fillPoly(image, [np.round(outline).astype(np.int32)], LIP_PINK, cv2.LINE_AA)
    for centre in ((96, 100), (160, 100)):
        cv2.ellipse(image, centre, (16, 7), 0, 0, 360, (235, 232, 228), -1, cv2.LINE_AA)
        cv2.circle(image, centre, 5, (70, 50, 40), -1, cv2.LINE_AA)
    image = cv2.GaussianBlur(image, (0, 0), 0.7)
    if grey:
        image = np.repeat(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    return image, points


def open_jaw(points: np.ndarray, drop: float, shift=(0.0, 0.0)) -> np.ndarray:
    """Posed vertices: lower lip moved down by `drop` px, the jaw below it by 0.85 drop (a jaw rotation
    moves the lip, further from its pivot, more), then everything shifted."""
    vertices = points.copy()
    vertices[list(tp.LIPS_LOWER_INNER[1:-1] + tp.LIPS_LOWER_OUTER[1:-1]), 1] += drop
    vertices[[JAW_POINT, 18, 152], 1] += 0.85 * drop
    vertices[:, :2] += np.asarray(shift, np.float32)
    return vertices


def opening_mask(vertices: np.ndarray, shape=(SIZE, SIZE)) -> np.ndarray:
    """The rasterized opening: the inner-lip contour filled, (H, W) bool."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(vertices[list(tp.INNER_LIP_CONTOUR), :2]).astype(np.int32)], 1)
    return mask.astype(bool)


def luma(pixels: np.ndarray) -> np.ndarray:
    return pixels.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def paint(image: np.ndarray, points: np.ndarray, drop: float, shift=(0.0, 0.0), palette=None):
    palette = palette or mouth_palette(image, points)
    vertices = open_jaw(points, drop, shift)
    opening = opening_mask(vertices)
    frame = image.copy()
    draw_mouth_interior(frame, opening, vertices, palette)
    return frame, opening, vertices


def centre_column(frame: np.ndarray, vertices: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Luma down the middle of the opening (rows top..bottom) and the opening's top and bottom rows."""
    x = round(vertices[13, 0])
    top, bottom = int(np.ceil(vertices[13, 1])) + 1, int(np.floor(vertices[14, 1])) - 1
    return luma(frame[top:bottom + 1, x]), top, bottom


@pytest.fixture(scope="module")
def face():
    return synthetic_face()


def test_nothing_changes_without_an_opening(face):
    image, points = face
    frame = image.copy()
    draw_mouth_interior(frame, np.zeros((SIZE, SIZE), bool), points, mouth_palette(image, points))
    assert np.array_equal(frame, image)


def test_interior_stays_inside_the_opening(face):
    image, points = face
    frame, opening, _ = paint(image, points, drop=24.0)
    near = cv2.dilate(opening.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert np.array_equal(frame[~near], image[~near])
    assert np.abs(frame[opening].astype(int) - image[opening]).mean() > 20


def test_interior_is_darker_than_the_lips_and_teeth_brighter_than_the_cavity(face):
    image, points = face
    frame, opening, vertices = paint(image, points, drop=24.0)
    column, _top, _bottom = centre_column(frame, vertices)
    lips = luma(np.array([LIP_PINK]))[0]
    assert luma(frame[opening]).mean() < lips
    teeth = column[: len(column) // 3].max()  # upper incisors hang from the upper lip
    cavity = column[len(column) // 3: 2 * len(column) // 3].min()
    assert teeth > 1.8 * cavity
    assert teeth > lips  # teeth are brighter than the lips
    assert cavity < 0.5 * lips


def test_small_opening_shows_the_upper_teeth_edge_only(face):
    image, points = face
    frame, _, vertices = paint(image, points, drop=7.0)
    column, _, _ = centre_column(frame, vertices)
    bright = column > 0.8 * column.max()
    assert bright[: len(column) // 2].any()
    assert not bright[len(column) // 2 + 1:].any()  # no lower teeth yet


def test_upper_teeth_move_with_the_head(face):
    image, points = face
    palette = mouth_palette(image, points)
    frame, _, vertices = paint(image, points, drop=24.0, palette=palette)
    moved, _, _moved_vertices = paint(image, points, drop=24.0, shift=(6.0, -5.0), palette=palette)
    x0, y0 = np.floor(vertices[list(tp.INNER_LIP_CONTOUR), :2].min(axis=0)).astype(int) + 2
    x1, y1 = np.ceil(vertices[list(tp.INNER_LIP_CONTOUR), :2].max(axis=0)).astype(int) - 2
    before = frame[y0:y1, x0:x1].astype(int)
    after = moved[y0 - 5:y1 - 5, x0 + 6:x1 + 6].astype(int)
    assert np.abs(before - after).mean() < 2.0


def _teeth_edges(column: np.ndarray, top: int) -> tuple[int, int]:
    """Rows of the upper teeth's lower edge and the lower teeth's upper edge in a centre column."""
    bright = column > 0.6 * column.max()
    rows = np.flatnonzero(bright)
    upper = rows[rows < len(column) // 2]
    lower = rows[rows >= len(column) // 2]
    return top + int(upper.max()), top + int(lower.min())


def test_lower_teeth_follow_the_jaw_upper_teeth_stay(face):
    image, points = face
    palette = mouth_palette(image, points)
    frame, _, vertices = paint(image, points, drop=26.0, palette=palette)
    wider, _, wider_vertices = paint(image, points, drop=32.0, palette=palette)
    upper_a, lower_a = _teeth_edges(*centre_column(frame, vertices)[:2])
    upper_b, lower_b = _teeth_edges(*centre_column(wider, wider_vertices)[:2])
    assert abs(upper_b - upper_a) <= 1  # fixed to the skull
    assert 4 <= lower_b - lower_a <= 7  # moved down with the jaw (5.1 px)


def test_tongue_shows_at_wide_openings(face):
    image, points = face
    frame, _, vertices = paint(image, points, drop=34.0)
    x = round(vertices[13, 0])
    column = frame[int(vertices[13, 1]) + 2:int(vertices[14, 1]) - 1, x].astype(float)
    reddish = (column[:, 0] - column[:, 1] > 15) & (luma(column) > 40)
    assert reddish.sum() >= 2


def test_black_and_white_portrait_gets_a_grey_interior():
    image, points = synthetic_face(grey=True)
    frame, opening, _ = paint(image, points, drop=24.0)
    spread = frame[opening].astype(int).max(axis=1) - frame[opening].astype(int).min(axis=1)
    assert spread.max() <= 2


def test_interior_takes_the_photo_sharpness_and_grain(face):
    image, points = face
    sharp = mouth_palette(image, points)
    blurred = mouth_palette(cv2.GaussianBlur(image, (0, 0), 2.5), points)
    assert blurred.blur_px > sharp.blur_px + 1.0
    rng = np.random.default_rng(3)
    noisy_image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
    assert mouth_palette(noisy_image, points).grain > sharp.grain + 3.0
    # a blurry photo gets softer teeth: smaller jumps between neighbouring rows
    soft, _, vertices = paint(image, points, drop=24.0, palette=blurred)
    crisp, _, _ = paint(image, points, drop=24.0, palette=sharp)
    x = round(vertices[13, 0])
    rows = slice(int(vertices[13, 1]), int(vertices[14, 1]))
    assert np.abs(np.diff(luma(soft[rows, x]))).max() < np.abs(np.diff(luma(crisp[rows, x]))).max()


def test_rolled_head_is_drawn_inside_the_opening(face):
    image, points = face
    palette = mouth_palette(image, points)
    vertices = open_jaw(points, 24.0)
    angle = np.radians(12.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
    vertices[:, :2] = (vertices[:, :2] - 128.0) @ rotation.T + 128.0
    opening = opening_mask(vertices)
    frame = image.copy()
    draw_mouth_interior(frame, opening, vertices, palette)
    near = cv2.dilate(opening.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert np.array_equal(frame[~near], image[~near])
    assert luma(frame[opening]).max() > 150  # teeth
    assert luma(frame[opening]).min() < 60  # cavity


def open_mouth_photo() -> tuple[np.ndarray, np.ndarray]:
    """A photo whose lips are apart, showing an upper and a lower row of (white) teeth with dark
    between; landmarks as detected on it."""
    image, points = synthetic_face()
    points = open_jaw(points, 14.0)
    image = image.copy()
    inner = np.round(points[list(tp.INNER_LIP_CONTOUR), :2]).astype(np.int32)
    cv2.fillPoly(image, [inner], (30, 12, 14))
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [inner], 1)
    top, bottom = int(points[13, 1]), int(points[14, 1])
    teeth = np.zeros_like(mask)
    teeth[top:top + 5] = 1
    teeth[bottom - 3:bottom + 1] = 1
    image[(mask & teeth).astype(bool)] = (240, 238, 230)
    outline = points[list(tp.LIPS_UPPER_OUTER) + list(tp.LIPS_LOWER_OUTER[::-1]), :2]
    ring = np.zeros_like(mask)
    cv2.fillPoly(ring, [np.round(outline).astype(np.int32)], 1)
    image[(ring & ~mask.astype(bool)).astype(bool)] = LIP_PINK
    return image, points


def test_own_teeth_follow_the_lips_with_no_second_set():
    image, points = open_mouth_photo()
    palette = mouth_palette(image, points)
    own = own_mouth(image, points, palette)
    vertices = open_jaw(points, 12.0)  # the jaw opens further than in the photo
    opening = opening_mask(vertices)
    frame = image.copy()
    draw_own_interior(frame, opening, vertices, own)
    near = cv2.dilate(opening.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert np.array_equal(frame[~near], image[~near])
    column, _top, _ = centre_column(frame, vertices)
    bright = column > 180
    runs = np.flatnonzero(np.diff(np.concatenate([[0], bright.astype(int), [0]])) == 1)
    assert len(runs) == 2  # the photo's upper and lower teeth, and nothing else
    upper_rows = np.flatnonzero(bright[: len(column) // 2])
    lower_rows = np.flatnonzero(bright[len(column) // 2:]) + len(column) // 2
    assert upper_rows.min() <= 2  # hanging from the upper lip
    assert lower_rows.max() >= len(column) - 4  # standing on the lower lip
    assert column[upper_rows.max() + 3: lower_rows.min() - 2].max() < 60  # dark cavity between
