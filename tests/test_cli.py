"""The console script: renders, reports errors with the file named and a non-zero exit."""

from __future__ import annotations

import subprocess
import sys

from talkingface.cli import main
from talkingface.media import probe_video


def test_cli_renders_with_transcript_file(tmp_path, portrait_path, speech_path, capsys):
    output = tmp_path / "out.mp4"
    transcript = portrait_path.parent / "speech.txt"
    code = main(["render", str(portrait_path), str(speech_path), "-o", str(output), "--size", "128",
                 "--transcript", str(transcript), "--fps", "20", "--seed", "1"])
    assert code == 0
    info = probe_video(output)
    assert info.fps == 20 and info.width == 128
    assert '"transcript": "given"' in capsys.readouterr().err


def test_cli_missing_portrait_names_file(tmp_path, speech_path, capsys):
    output = tmp_path / "out.mp4"
    code = main(["render", str(tmp_path / "nobody.jpg"), str(speech_path), "-o", str(output), "--quiet"])
    assert code != 0
    assert "nobody.jpg" in capsys.readouterr().err
    assert not output.exists()


def test_cli_bad_option_value(tmp_path, portrait_path, speech_path, capsys):
    code = main(["render", str(portrait_path), str(speech_path), "-o", str(tmp_path / "o.mp4"), "--fps", "0"])
    assert code != 0
    assert "fps" in capsys.readouterr().err


def test_console_script_entry_point_runs():
    completed = subprocess.run([sys.executable, "-m", "talkingface.cli", "render", "--help"],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0 and "--transcript" in completed.stdout


def test_cli_full_frame_keeps_portrait_size(tmp_path, portrait_path, speech_path):
    from talkingface.media import load_image

    output = tmp_path / "full.mp4"
    code = main(["render", str(portrait_path), str(speech_path), "-o", str(output), "--full-frame",
                 "--work-size", "192", "--quiet", "--transcript", str(portrait_path.parent / "speech.txt")])
    assert code == 0
    height, width = load_image(portrait_path).shape[:2]
    info = probe_video(output)
    assert (info.width, info.height) == (width - width % 2, height - height % 2)


def test_cli_bad_work_size_names_option(tmp_path, portrait_path, speech_path, capsys):
    code = main(["render", str(portrait_path), str(speech_path), "-o", str(tmp_path / "o.mp4"),
                 "--full-frame", "--work-size", "10"])
    assert code != 0 and "work_size" in capsys.readouterr().err
