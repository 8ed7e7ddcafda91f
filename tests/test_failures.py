"""Bad input through the whole pipeline: a clear error naming the file, and nothing written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from talkingface.cli import main
from talkingface.errors import (AudioError, ImageError, InputNotFoundError, NoFaceError, OptionError,
                                OutputPathError)
from talkingface.pipeline import AnimateOptions, animate
from tests.synthetic import write_wav as wav

RATE = 16000


@pytest.fixture
def tone(tmp_path) -> Path:
    t = np.arange(RATE) / RATE
    return wav(tmp_path / "tone.wav", 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2)


def assert_nothing_written(folder: Path, before: set[str]) -> None:
    assert {p.name for p in folder.iterdir()} == before


def check(error_type, match: str, portrait, audio, output, **options) -> None:
    folder = Path(output).parent
    before = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    with pytest.raises(error_type, match=match):
        animate(portrait, audio, output, AnimateOptions(size=128, **options))
    if folder.is_dir():
        assert_nothing_written(folder, before)


def test_output_that_is_an_input_is_refused_and_input_kept(tmp_path, portrait_path, tone):
    portrait = tmp_path / "me.jpg"
    portrait.write_bytes(portrait_path.read_bytes())
    original = portrait.read_bytes()
    with pytest.raises(OutputPathError, match="me.jpg"):
        animate(portrait, tone, portrait)
    with pytest.raises(OutputPathError, match="tone.wav"):
        animate(portrait, tone, tone)
    assert portrait.read_bytes() == original


def test_output_in_missing_folder(tmp_path, portrait_path, tone):
    check(OutputPathError, "missing", portrait_path, tone, tmp_path / "missing" / "out.mp4")


def test_missing_portrait(tmp_path, tone):
    check(InputNotFoundError, "absent.png", tmp_path / "absent.png", tone, tmp_path / "out.mp4")


def test_missing_audio(tmp_path, portrait_path):
    check(InputNotFoundError, "absent.wav", portrait_path, tmp_path / "absent.wav", tmp_path / "out.mp4")


def test_not_an_image(tmp_path, tone):
    fake = tmp_path / "fake.jpg"
    fake.write_text("this is not a picture")
    check(ImageError, "fake.jpg", fake, tone, tmp_path / "out.mp4")


def test_portrait_without_face(tmp_path, tone):
    path = tmp_path / "wall.png"
    Image.fromarray(np.full((300, 300, 3), 180, np.uint8)).save(path)
    check(NoFaceError, "wall.png", path, tone, tmp_path / "out.mp4")


def test_corrupt_audio(tmp_path, portrait_path):
    bad = tmp_path / "broken.mp3"
    bad.write_bytes(b"ID3" + bytes(range(256)) * 20)
    check(AudioError, "broken.mp3", portrait_path, bad, tmp_path / "out.mp4")


def test_empty_audio(tmp_path, portrait_path):
    check(AudioError, "empty.wav", portrait_path, wav(tmp_path / "empty.wav", np.zeros(0)), tmp_path / "out.mp4")


def test_silent_audio(tmp_path, portrait_path):
    silent = wav(tmp_path / "silent.wav", np.zeros(RATE * 2))
    check(AudioError, "silent.wav", portrait_path, silent, tmp_path / "out.mp4")


def test_audio_longer_than_limit(tmp_path, portrait_path, tone):
    check(AudioError, "tone.wav", portrait_path, tone, tmp_path / "out.mp4", max_audio_s=0.25)


def test_bad_options_are_named():
    for field, value in (("fps", 0), ("size", 10), ("framing", "wide"), ("seed", -1), ("articulation", 5)):
        with pytest.raises(OptionError, match=field):
            AnimateOptions(**{field: value})


def test_cli_exit_code_and_message_for_bad_audio(tmp_path, portrait_path, capsys):
    silent = wav(tmp_path / "quiet.wav", np.zeros(RATE))
    code = main(["render", str(portrait_path), str(silent), "-o", str(tmp_path / "o.mp4"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "quiet.wav" in err and "error" in err
    assert not (tmp_path / "o.mp4").exists()
