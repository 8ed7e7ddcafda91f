"""The person/background layers: plate filling, silhouette search, compositing, and their effect on
rendered frames (the background stays still while the head turns)."""

from __future__ import annotations

import cv2
import numpy as np

from talkingface.motion.params import PARAMETER_INDEX, PARAMETERS
from talkingface.render.layers import background_plate, composite, silhouette_distance
from talkingface.render.renderer import Renderer, RenderOptions, _crop, head_box


def disk(size: int = 120, radius: float = 30.0) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size]
    return ((xs - size / 2) ** 2 + (ys - size / 2) ** 2 <= radius**2).astype(np.float32)


def test_plate_replaces_the_person_with_background_colour():
    texture = np.zeros((120, 120, 3), np.uint8)
    texture[:] = (40, 160, 90)
    alpha = disk()
    texture[alpha > 0] = (250, 10, 10)
    plate = background_plate(texture, alpha)
    assert np.abs(plate[60, 60].astype(int) - (40, 160, 90)).max() < 12  # filled from the surroundings
    assert np.array_equal(plate[:5, :5], texture[:5, :5])  # far background untouched


def test_silhouette_distance_finds_the_disk_edge():
    alpha = disk(radius=30.0)
    origins = np.array([[60.0, 60.0], [60.0, 60.0]], np.float32)
    units = np.array([[1.0, 0.0], [0.0, -1.0]], np.float32)
    found = silhouette_distance(alpha, origins, units, np.array([55.0, 10.0], np.float32))
    assert abs(found[0] - 31) <= 1
    assert found[1] == 10.0  # never left the person within the limit


def test_composite_weights_person_over_plate():
    person = np.full((4, 4, 3), 200, np.uint8)
    plate = np.full((4, 4, 3), 100, np.uint8)
    alpha = np.array([[0.0, 0.5, 1.0, 1.0]] * 4, np.float32)
    out = composite(person, alpha, plate)
    assert out[0, 0, 0] == 100 and out[0, 2, 0] == 200 and abs(int(out[0, 1, 0]) - 150) <= 1


def test_background_stays_still_while_the_head_turns(avatar):
    renderer = Renderer(avatar, RenderOptions(size=256))
    neutral = renderer.render(np.zeros(len(PARAMETERS), np.float32)).astype(int)
    params = np.zeros(len(PARAMETERS), np.float32)
    params[PARAMETER_INDEX["headYaw"]] = 20.0
    turned = renderer.render(params).astype(int)
    background = renderer._layers.alpha < 0.01
    changed = np.abs(turned - neutral).max(axis=2) > 8
    # background pixels away from the silhouette (where the head may now cover them) do not move
    person_near = renderer._layers.alpha > 0.05
    near = cv2.dilate(person_near.astype(np.uint8), np.ones((41, 41), np.uint8)) > 0
    far_background = background & ~near
    assert far_background.sum() > 1000
    assert changed[far_background].mean() < 0.01
    assert changed[~background].mean() > 0.05  # while the person did move


def test_neutral_eyes_match_the_portrait_and_gaze_moves_only_the_iris(avatar):
    from talkingface.face import topology as tp
    from talkingface.motion.controls import gaze_offsets

    renderer = Renderer(avatar, RenderOptions(size=384))
    x0, y0, side = head_box(avatar)
    portrait = cv2.resize(_crop(avatar.image, x0, y0, side), (384, 384),
                          interpolation=cv2.INTER_AREA if side > 384 else cv2.INTER_CUBIC)
    neutral = renderer.render(np.zeros(len(PARAMETERS), np.float32))
    looking = renderer.render(gaze_offsets(1.0, 0.0))
    points = renderer.rig.rest
    for iris, contour in ((tp.RIGHT_IRIS, tp.RIGHT_EYE_CONTOUR), (tp.LEFT_IRIS, tp.LEFT_EYE_CONTOUR)):
        box = points[list(contour), :2]
        x0, y0 = np.floor(box.min(axis=0)).astype(int) - 2
        x1, y1 = np.ceil(box.max(axis=0)).astype(int) + 3
        original = portrait[y0:y1, x0:x1].astype(int)
        assert np.abs(neutral[y0:y1, x0:x1].astype(int) - original).mean() < 6
        # the eye's dark centre of mass moves to the image's right; the skin around it does not move
        def dark_centre(image):
            luma = image[y0:y1, x0:x1].astype(np.float32).mean(axis=2)
            weight = np.clip(luma.mean() - luma, 0, None)
            return (weight * np.arange(x1 - x0)).sum() / weight.sum()
        assert dark_centre(looking) > dark_centre(neutral) + 0.5
