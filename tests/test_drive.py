"""Capture from the command line and video-driven animation (render --drive), on videos rendered here."""

from __future__ import annotations

import numpy as np
import pytest

from talkingface.cli import main
from talkingface.media import probe_video
from talkingface.motion.drive import REGIONS, DriveOptions, drive_override
from talkingface.motion.io import load_motion
from talkingface.motion.params import PARAMETER_INDEX, PARAMETERS, Motion
from talkingface.pipeline import AnimateOptions, animate
from tests.synthetic import speech_like, write_rendered_video

FPS = 25.0
SECONDS = 2.4


def _performance() -> Motion:
    """A nodding, talking, blinking head."""
    times = np.arange(int(SECONDS * FPS)) / FPS
    values = np.zeros((len(times), len(PARAMETERS)), np.float32)
    values[:, PARAMETER_INDEX["headPitch"]] = 8 * np.sin(2 * np.pi * times / 1.2)
    values[:, PARAMETER_INDEX["headRoll"]] = 6 * np.sin(2 * np.pi * times / 2.4)
    values[:, PARAMETER_INDEX["jawOpen"]] = 0.7 * np.clip(np.sin(2 * np.pi * times / 0.8), 0, None)
    return Motion(fps=FPS, values=values)


@pytest.fixture(scope="module")
def talking_video(avatar, tmp_path_factory):
    """A 2.4 s video of the example portrait performing, with a speech-like soundtrack."""
    path = tmp_path_factory.mktemp("drive") / "talking.mp4"
    return write_rendered_video(path, avatar, _performance(), size=224, audio=speech_like(SECONDS))


@pytest.fixture(scope="module")
def silent_video(avatar, tmp_path_factory):
    path = tmp_path_factory.mktemp("drive") / "silent.mp4"
    return write_rendered_video(path, avatar, _performance(), size=224)


def test_cli_capture_writes_json_and_csv(talking_video, tmp_path, capsys):
    for suffix in (".json", ".csv"):
        output = tmp_path / f"motion{suffix}"
        assert main(["capture", str(talking_video), "-o", str(output)]) == 0
        motion = load_motion(output)
        assert motion.fps == pytest.approx(FPS)
        assert motion.frames == int(SECONDS * FPS)
        nod = motion["headPitch"] - motion["headPitch"].mean()
        assert np.corrcoef(nod, _performance()["headPitch"])[0, 1] > 0.9
    assert '"frames_with_face": 60' in capsys.readouterr().err


def test_cli_capture_time_range(talking_video, tmp_path):
    output = tmp_path / "part.csv"
    assert main(["capture", str(talking_video), "-o", str(output), "--start", "0.4", "--end", "1.2",
                 "--quiet"]) == 0
    assert load_motion(output).frames == 20


def test_drive_takes_the_videos_soundtrack_and_length(avatar, talking_video, tmp_path):
    result = animate(avatar, None, tmp_path / "driven.mp4", AnimateOptions(size=128, fps=FPS), drive=talking_video)
    info = probe_video(result.output)
    assert info.has_audio and info.frame_count == int(SECONDS * FPS)
    jaw = result.motion["jawOpen"]
    assert np.corrcoef(jaw, _performance()["jawOpen"])[0, 1] > 0.8


def test_silent_driving_video_gives_a_silent_mp4(avatar, silent_video, tmp_path):
    result = animate(avatar, None, tmp_path / "silent.mp4", AnimateOptions(size=128, fps=FPS), drive=silent_video)
    info = probe_video(result.output)
    assert not info.has_audio
    assert info.frame_count == int(SECONDS * FPS)


def test_regions_take_only_their_parameters_from_the_video(avatar, talking_video, speech_path, tmp_path):
    options = AnimateOptions(size=128, fps=FPS, phonetic=False, drive=DriveOptions(regions=("head",)))
    result = animate(avatar, speech_path, tmp_path / "head.mp4", options, drive=talking_video)
    nod = result.motion["headPitch"][: int(SECONDS * FPS)]
    assert np.corrcoef(nod, _performance()["headPitch"])[0, 1] > 0.9
    # the lips follow the speech (16 s long), not the video's jaw
    assert result.motion.frames == probe_video(result.output).frame_count > SECONDS * FPS
    jaw = result.motion["jawOpen"][: int(SECONDS * FPS)]
    assert abs(np.corrcoef(jaw, _performance()["jawOpen"])[0, 1]) < 0.5


def test_override_scales_and_hands_back_after_the_video():
    captured = Motion(fps=10.0, values=np.ones((10, len(PARAMETERS)), np.float32))
    override = drive_override(captured, DriveOptions(regions=("lips",), strength=0.5), frames=30, fps=10.0)
    jaw = PARAMETER_INDEX["jawOpen"]
    assert np.allclose(override.values[:10, jaw], 0.5)
    assert np.all(override.weight[:10, jaw] == 1.0)
    assert override.weight[-1, jaw] == 0.0  # 3 s in: the speech drives the lips again
    assert np.all(override.weight[:, PARAMETER_INDEX["headYaw"]] == 0.0)  # not a driven region


def test_regions_cover_every_parameter_once():
    names = [name for region in REGIONS.values() for name in region]
    assert sorted(names) == sorted(PARAMETERS)


def test_cli_render_drive_regions(portrait_path, talking_video, tmp_path, capsys):
    output = tmp_path / "cli.mp4"
    code = main(["render", str(portrait_path), "--drive", str(talking_video), "--regions", "head,eyes",
                 "--drive-strength", "0.8", "-o", str(output), "--size", "128"])
    assert code == 0 and probe_video(output).has_audio
