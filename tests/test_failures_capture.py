"""Bad inputs to motion capture and video-driven rendering: clear errors naming the file, exit 2,
nothing written, nothing lost; partial faces are captured and reported; memory does not grow with
the video's length."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from talkingface.cli import main
from talkingface.errors import InputFileError, NoFaceError, OptionError
from talkingface.media import VideoWriter
from talkingface.mocap import CaptureOptions, capture_video
from talkingface.motion.drive import DriveOptions
from talkingface.motion.params import PARAMETER_INDEX, PARAMETERS, Motion
from talkingface.pipeline import AnimateOptions, animate
from tests.synthetic import write_rendered_video, write_wav

FPS = 25.0


def _nodding(frames: int) -> Motion:
    values = np.zeros((frames, len(PARAMETERS)), np.float32)
    values[:, PARAMETER_INDEX["headPitch"]] = 6 * np.sin(np.arange(frames) / 5.0)
    return Motion(fps=FPS, values=values)


@pytest.fixture(scope="module")
def half_face_video(avatar, tmp_path_factory):
    """3 s: a face for the first 1.2 s and the last 0.4 s, a plain grey picture in between."""
    path = tmp_path_factory.mktemp("partial") / "half.mp4"
    return write_rendered_video(path, avatar, _nodding(75), size=192, blank=slice(30, 65))


def _noise_video(path, frames: int = 20, size: int = 96):
    rng = np.random.default_rng(0)
    with VideoWriter(path, fps=FPS, width=size, height=size) as writer:
        for _ in range(frames):
            writer.write(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
    return path


@pytest.mark.parametrize("content, problem", [(b"not a video at all", "not a video"),
                                              (b"", "not a video"), (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, "")])
def test_capture_refuses_files_that_are_not_videos(tmp_path, content, problem, capsys):
    path = tmp_path / "clip.mp4"
    path.write_bytes(content)
    with pytest.raises(InputFileError) as error:
        capture_video(path)
    assert "clip.mp4" in str(error.value) and problem in str(error.value)
    output = tmp_path / "m.json"
    assert main(["capture", str(path), "-o", str(output), "--quiet"]) == 2
    assert "clip.mp4" in capsys.readouterr().err and not output.exists()


def test_capture_refuses_audio_only_files(tmp_path):
    audio = write_wav(tmp_path / "speech.wav", 0.1 * np.sin(np.arange(16000) / 5.0))
    with pytest.raises(InputFileError, match="no video stream"):
        capture_video(audio)


def test_capture_of_a_video_without_a_face(tmp_path, capsys):
    video = _noise_video(tmp_path / "noise.mp4")
    with pytest.raises(NoFaceError, match="noise.mp4: no face"):
        capture_video(video)
    output = tmp_path / "m.csv"
    assert main(["capture", str(video), "-o", str(output), "--quiet"]) == 2
    assert "no face" in capsys.readouterr().err and not output.exists()


def test_capture_missing_file_names_it(tmp_path, capsys):
    assert main(["capture", str(tmp_path / "ghost.mp4"), "-o", str(tmp_path / "m.json")]) == 2
    assert "ghost.mp4" in capsys.readouterr().err


def test_faces_in_part_of_the_video_are_captured_and_reported(half_face_video, tmp_path, capsys):
    result = capture_video(half_face_video)
    assert result.frames_read == 75 and result.frames_with_face == 40
    assert len(result.gaps.missing) == 1
    start, end = result.gaps.missing[0]
    assert start == pytest.approx(1.2, abs=0.05) and end == pytest.approx(2.6, abs=0.05)
    assert np.allclose(result.motion.values[50], 0.0, atol=1e-3)  # neutral face where there is none
    assert main(["capture", str(half_face_video), "-o", str(tmp_path / "m.json")]) == 0
    assert "no face: 1.20-2.60 s" in capsys.readouterr().err


def test_capture_asks_for_a_face_the_video_does_not_show(half_face_video, capsys, tmp_path):
    with pytest.raises(OptionError, match="face"):
        capture_video(half_face_video, CaptureOptions(face=2))
    assert main(["capture", str(half_face_video), "-o", str(tmp_path / "m.json"), "--face", "0"]) == 2


@pytest.mark.parametrize("kwargs, name", [({"start_s": -1.0}, "start"), ({"start_s": 2.0, "end_s": 1.0}, "end"),
                                          ({"face": -1}, "face"), ({"smoothing": float("nan")}, "smoothing"),
                                          ({"max_gap_s": float("inf")}, "max_gap_s")])
def test_capture_option_validation(kwargs, name):
    with pytest.raises(OptionError, match=name):
        CaptureOptions(**kwargs)


def test_capture_start_beyond_the_end(half_face_video):
    with pytest.raises(OptionError, match="no frames"):
        capture_video(half_face_video, CaptureOptions(start_s=30.0))


@pytest.mark.parametrize("kwargs, name", [({"regions": ("hair",)}, "regions"), ({"regions": ()}, "regions"),
                                          ({"strength": 3.0}, "drive_strength"),
                                          ({"strength": float("nan")}, "drive_strength")])
def test_drive_option_validation(kwargs, name):
    with pytest.raises(OptionError, match=name):
        DriveOptions(**kwargs)


def test_render_drive_output_equal_to_the_driving_video_is_refused(portrait_path, half_face_video, capsys):
    before = half_face_video.read_bytes()
    code = main(["render", str(portrait_path), "--drive", str(half_face_video), "-o", str(half_face_video)])
    assert code == 2 and half_face_video.read_bytes() == before
    assert "half.mp4" in capsys.readouterr().err


def test_render_without_audio_or_drive(portrait_path, tmp_path, capsys):
    assert main(["render", str(portrait_path), "-o", str(tmp_path / "o.mp4")]) == 2
    assert "AUDIO" in capsys.readouterr().err


def test_render_drive_with_unknown_region(portrait_path, half_face_video, tmp_path, capsys):
    code = main(["render", str(portrait_path), "--drive", str(half_face_video), "--regions", "head,hair",
                 "-o", str(tmp_path / "o.mp4")])
    assert code == 2 and "hair" in capsys.readouterr().err


def test_drive_and_motion_file_together_are_refused(avatar, half_face_video, speech_path, tmp_path):
    with pytest.raises(OptionError, match="not both"):
        animate(avatar, speech_path, tmp_path / "o.mp4", AnimateOptions(size=128),
                motion=Motion.neutral(10, 25.0), drive=half_face_video)
    assert not (tmp_path / "o.mp4").exists()


def test_capture_memory_does_not_grow_with_the_video(avatar, tmp_path, monkeypatch):
    """Frames are streamed and landmarks spooled to disk: 4x the frames, about the same peak memory
    (the neutral face is estimated from at most NEUTRAL_SAMPLES frames, made small here)."""
    monkeypatch.setattr("talkingface.mocap.capture.NEUTRAL_SAMPLES", 40)

    def peak(frames: int) -> int:
        video = write_rendered_video(tmp_path / f"long{frames}.mp4", avatar, _nodding(frames), size=160)
        tracemalloc.start()
        capture_video(video)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    short, long = peak(60), peak(240)
    frame_bytes = 160 * 160 * 3
    assert long - short < 30 * frame_bytes, f"peak grew by {(long - short) / 1e6:.1f} MB for 180 more frames"
