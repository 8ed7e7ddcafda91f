"""Motion capture: the rig fit inverts the renderer, and a rendered performance is recovered.

The round trip renders a known motion of the bundled portrait with our own renderer, writes it as an
MP4, captures it back, and compares the recovered parameters with the ones rendered.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from talkingface.face.topology import NUM_LANDMARKS
from talkingface.media import VideoWriter
from talkingface.mocap import CaptureOptions, capture_video
from talkingface.mocap.fit import RigFitter, euler_from_rotation
from talkingface.mocap.neutral import estimate_neutral
from talkingface.mocap.timeline import constant_rate, fill_gaps
from talkingface.motion.params import PARAMETER_INDEX, PARAMETERS, Motion
from talkingface.render.renderer import Renderer, RenderOptions
from talkingface.render.rig import pose_vertices, rotation_matrix

FPS = 25.0
POSE_RMS_DEG, POSE_WORST_DEG = 1.5, 3.0  # de-meaned head angles, over all frames
JAW_MEAN_ERROR, JAW_WORST_ERROR = 0.1, 0.25
BLINK_TIMES_S = (0.9, 2.3)


def known_motion(seconds: float = 3.2) -> Motion:
    """Head turns on all three axes, a jaw that opens and closes twice, two blinks."""
    times = np.arange(int(seconds * FPS)) / FPS
    values = np.zeros((len(times), len(PARAMETERS)), np.float32)
    values[:, PARAMETER_INDEX["headYaw"]] = 10 * np.sin(2 * np.pi * times / 3.2)
    values[:, PARAMETER_INDEX["headPitch"]] = 6 * np.sin(2 * np.pi * times / 1.6)
    values[:, PARAMETER_INDEX["headRoll"]] = 8 * np.cos(2 * np.pi * times / 3.2)
    values[:, PARAMETER_INDEX["jawOpen"]] = 0.8 * np.clip(np.sin(2 * np.pi * times / 1.6), 0, None) ** 2
    for onset in BLINK_TIMES_S:
        closure = np.clip(1 - np.abs(times - onset) / 0.12, 0, 1)
        for side in ("Left", "Right"):
            values[:, PARAMETER_INDEX[f"eyeBlink{side}"]] = np.maximum(
                values[:, PARAMETER_INDEX[f"eyeBlink{side}"]], closure)
    return Motion(fps=FPS, values=values)


@pytest.fixture(scope="module")
def rendered(avatar, tmp_path_factory) -> tuple[Motion, Path]:
    motion = known_motion()
    path = tmp_path_factory.mktemp("mocap") / "known.mp4"
    renderer = Renderer(avatar, RenderOptions(size=320))
    with VideoWriter(path, fps=FPS, width=320, height=320) as writer:
        for frame in renderer.frames(motion):
            writer.write(frame)
    return motion, path


@pytest.fixture(scope="module")
def captured(rendered):
    return capture_video(rendered[1])


# ------------------------------------------------------------------------------ the fit on its own


def test_euler_angles_invert_the_rig_rotation():
    for yaw, pitch, roll in ((10, -5, 3), (-25, 12, -18), (0, 0, 0), (40, 0, 0)):
        recovered = euler_from_rotation(rotation_matrix(yaw, pitch, roll).astype(np.float64))
        assert np.allclose(recovered, (yaw, pitch, roll), atol=1e-3)


def test_fit_recovers_rig_parameters_exactly(avatar):
    points = avatar.landmarks.points
    fitter = RigFitter(points, *avatar.size)
    rng = np.random.default_rng(3)
    for _ in range(4):
        params = np.zeros(len(PARAMETERS), np.float32)
        params[:3] = rng.uniform(-15, 15, 3)
        params[3:5] = rng.uniform(-0.05, 0.05, 2)
        for name in ("jawOpen", "mouthSmileLeft", "eyeBlinkRight", "browInnerUp", "mouthPucker",
                     "eyeLookInLeft"):
            params[PARAMETER_INDEX[name]] = rng.uniform(0.1, 0.9)
        fitter.reset()
        fit = fitter.fit(pose_vertices(fitter.rig, params)[:NUM_LANDMARKS])
        assert np.abs(fit.params[:3] - params[:3]).max() < 0.1
        assert np.abs(fit.params[6:] - params[6:]).max() < 0.05
        assert fit.error < 1e-3


def test_fit_keeps_every_expression_in_its_bounds(avatar):
    fitter = RigFitter(avatar.landmarks.points, *avatar.size)
    rng = np.random.default_rng(0)
    noisy = avatar.landmarks.points + rng.normal(0, 3.0, (NUM_LANDMARKS, 3)).astype(np.float32)
    params = fitter.fit(noisy).params
    assert params[6:].min() >= 0.0 and params[6:].max() <= 1.2


def test_neutral_ignores_an_open_mouth(avatar):
    """Frames with the mouth open must not leak into the rest shape."""
    fitter = RigFitter(avatar.landmarks.points, *avatar.size)
    closed = fitter.rig.rest[:NUM_LANDMARKS]
    opened = pose_vertices(fitter.rig, _with(jawOpen=0.9))[:NUM_LANDMARKS]
    frames = np.stack([closed] * 10 + [opened] * 20)
    neutral = estimate_neutral(frames)
    gap = np.linalg.norm(neutral[13, :2] - neutral[14, :2])
    assert gap < 0.2 * np.linalg.norm(opened[13, :2] - opened[14, :2])


def _with(**values: float) -> np.ndarray:
    params = np.zeros(len(PARAMETERS), np.float32)
    for name, value in values.items():
        params[PARAMETER_INDEX[name]] = value
    return params


# ------------------------------------------------------------------------------ timeline


def test_short_dropouts_are_interpolated_and_long_ones_reported():
    times = np.arange(100) / 25.0
    values = np.tile(np.linspace(0, 1, 100)[:, None], (1, len(PARAMETERS)))
    found = np.ones(100, bool)
    found[10:13] = False  # 0.12 s: bridged
    found[50:80] = False  # 1.2 s: neutral
    filled, gaps = fill_gaps(times, values, found, max_gap_s=0.5)
    assert np.allclose(filled[10:13, 0], values[10:13, 0], atol=1e-6)
    assert gaps.interpolated == ((0.4, 0.52),)
    assert gaps.missing == ((2.0, 3.2),)
    assert np.allclose(filled[65, :], 0.0)  # deep inside the long gap: the neutral face
    assert 0 < filled[51, 0] < values[49, 0]  # eased out of the last found frame


def test_variable_frame_rate_is_resampled_by_time():
    times = np.array([0.0, 0.04, 0.05, 0.2, 0.24])
    values = times[:, None] * np.ones((1, 3))
    grid = constant_rate(times, values, 25.0, 0.0, 0.28)
    assert grid.shape == (7, 3)
    assert np.allclose(grid[:, 0], np.minimum(np.arange(7) / 25.0, 0.24))


# ------------------------------------------------------------------------------ round trip


def test_capture_covers_the_video(captured, rendered):
    motion, _ = rendered
    assert captured.motion.fps == pytest.approx(FPS)
    assert captured.motion.frames == motion.frames
    assert captured.frames_with_face == motion.frames
    assert captured.gaps.missing == () and captured.gaps.interpolated == ()


@pytest.mark.parametrize("name", ["headYaw", "headPitch", "headRoll"])
def test_capture_recovers_head_pose(captured, rendered, name):
    truth, got = rendered[0][name], captured.motion[name]
    error = (got - got.mean()) - (truth - truth.mean())  # capture is relative to the clip's mean pose
    assert np.sqrt(np.mean(error ** 2)) < POSE_RMS_DEG, f"{name}: RMS error {np.sqrt(np.mean(error ** 2)):.2f} deg"
    assert np.abs(error).max() < POSE_WORST_DEG, f"{name}: worst error {np.abs(error).max():.2f} deg"


def test_capture_recovers_the_jaw(captured, rendered):
    truth, got = rendered[0]["jawOpen"], captured.motion["jawOpen"]
    assert np.abs(got - truth).mean() < JAW_MEAN_ERROR, f"mean jaw error {np.abs(got - truth).mean():.3f}"
    assert np.abs(got - truth).max() < JAW_WORST_ERROR, f"worst jaw error {np.abs(got - truth).max():.3f}"
    assert np.corrcoef(got, truth)[0, 1] > 0.97


def test_capture_finds_the_blinks(captured, rendered):
    blink = 0.5 * (captured.motion["eyeBlinkLeft"] + captured.motion["eyeBlinkRight"])
    times = np.arange(captured.motion.frames) / FPS
    for onset in BLINK_TIMES_S:
        near = np.abs(times - onset) < 0.1
        assert blink[near].max() > 0.5, f"no blink found at {onset} s"
    far = np.min(np.abs(times[:, None] - np.array(BLINK_TIMES_S)[None]), axis=1) > 0.3
    assert blink[far].max() < 0.3


def test_capture_selects_a_time_range(rendered):
    result = capture_video(rendered[1], CaptureOptions(start_s=1.0, end_s=2.0))
    assert result.frames_read == 25
    assert result.motion.frames == 25
