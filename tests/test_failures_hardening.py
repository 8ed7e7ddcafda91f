"""Inputs that used to end in a traceback, a hang or unbounded memory: each is now a clear error that
names the file, the field and the problem (CLI exit 2), or simply works."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from talkingface.audio import load_audio
from talkingface.audio.text import MAX_TRANSCRIPT_CHARS
from talkingface.cli import _transcript, main
from talkingface.errors import AudioError, InputFileError, MotionFileError, OptionError, TalkingFaceError
from talkingface.media.structured import Fields, Limits, load_json, nesting_depth, parse_csv, parse_json
from talkingface.motion.controls import Controls, Keyframe, load_keyframes
from talkingface.motion.generate import MotionOptions
from talkingface.motion.io import load_motion
from talkingface.pipeline import AnimateOptions, animate
from talkingface.stream import StreamOptions
from tests.synthetic import write_wav

LONG_TEXT = ("And so, my fellow Americans: ask not what your country can do for you, ask what you can do "
             "for your country. My fellow citizens of the world: ask not what America will do for you, but "
             "what together we can do for the freedom of man. ") * 2


def run(argv: list[str]) -> int:
    """main's exit status, whether it returns it or argparse exits."""
    try:
        return main(argv)
    except SystemExit as exited:
        return exited.code


# ------------------------------------------------------------------------------------- transcripts

def test_long_inline_transcript_is_text_not_a_path(tmp_path, speech_path, capsys):
    assert len(LONG_TEXT.encode()) > 255
    assert _transcript(LONG_TEXT) == LONG_TEXT
    assert _transcript("x" * 5000 + ".txt") == "x" * 5000 + ".txt"  # longer than any path: text
    assert _transcript("first line\nsecond.txt") == "first line\nsecond.txt"
    output = tmp_path / "m.json"
    assert main(["motion", str(speech_path), "-o", str(output), "--transcript", LONG_TEXT]) == 0
    assert output.is_file() and "Traceback" not in capsys.readouterr().err


def test_transcript_file_and_missing_txt_are_told_apart(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("hello there\n", encoding="utf-8")
    assert _transcript(str(words)) == "hello there\n"
    with pytest.raises(FileNotFoundError, match="nothing.txt"):
        _transcript(str(tmp_path / "nothing.txt"))
    assert _transcript("just some words") == "just some words"


def test_huge_transcript_file_is_refused_before_any_work(tmp_path, speech_path, capsys):
    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"word " * 2_400_000)  # 12 MB: used to take 159 s and 11 GB
    started = time.monotonic()
    code = main(["motion", str(speech_path), "-o", str(tmp_path / "m.json"), "--transcript", str(huge)])
    assert code == 2 and time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert "huge.txt" in err and "limit" in err
    assert not (tmp_path / "m.json").exists()


def test_transcript_length_limit_everywhere(tmp_path):
    too_long = "a" * (MAX_TRANSCRIPT_CHARS + 1)
    with pytest.raises(OptionError, match="transcript"):
        AnimateOptions(transcript=too_long)
    with pytest.raises(OptionError, match="transcript"):
        _transcript(too_long)
    file = tmp_path / "long.txt"
    file.write_text("é" * (MAX_TRANSCRIPT_CHARS + 1), encoding="utf-8")  # within the byte cap, too many chars
    with pytest.raises(InputFileError, match="long.txt"):
        _transcript(str(file))
    assert AnimateOptions(transcript="a" * MAX_TRANSCRIPT_CHARS).transcript is not None


# ------------------------------------------------------------------------------------- short audio

def test_one_sample_wav_is_a_clear_audio_error(tmp_path, portrait_path, capsys):
    click = write_wav(tmp_path / "click.wav", np.array([0.5]))
    with pytest.raises(AudioError, match="click.wav.*ms long"):
        animate(portrait_path, click, tmp_path / "out.mp4", AnimateOptions(size=64))
    assert main(["render", str(portrait_path), str(click), "-o", str(tmp_path / "o.mp4"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "click.wav" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["click.wav"]


def test_corrupt_wav_headers_are_audio_errors_at_once(tmp_path):
    good = write_wav(tmp_path / "good.wav", 0.3 * np.sin(np.arange(3200) / 5.0)).read_bytes()
    cases = {"format.wav": (good[:20] + b"\0" + good[21:], "format"),  # was an AttributeError
             "rate.wav": (good[:27] + b"\x1a" + good[28:], "sample rate")}  # was seconds of resampling
    for name, (data, problem) in cases.items():
        (tmp_path / name).write_bytes(data)
        started = time.monotonic()
        with pytest.raises(AudioError, match=problem):
            load_audio(tmp_path / name)
        assert time.monotonic() - started < 1


# ------------------------------------------------------------------------------------- keyframes

@pytest.mark.parametrize("content, problem", [
    ('{"keyframes": ' + "[" * 100_000 + "]" * 100_000 + "}", "deep"),
    ('{"keyframes": [{"start": ' + "9" * 5000 + "}]}", "digits"),
    ('{"keyframes": [{"start": "0"}]}', r"keyframes\[0\]\.start: must be a number"),
    ('{"keyframes": [{"start": 0, "set": [1, 2]}]}', r"keyframes\[0\]\.set: must be an object"),
    ('{"keyframes": [{"start": 0, "set": {"jawOpen": 1e308}}]}', r"set\.jawOpen: must be a number from 0 to 1"),
    ('{"keyframes": [{"start": 0, "set": {"jawOpen": 1e999}}]}', "out of range"),
    ('{"keyframes": [{"start": 0, "set": {"jawOpen": NaN}}]}', "NaN"),
    ('{"keyframes": [{"start": 0, "set": {"headYaw": true}}]}', "headYaw: must be a number"),
    ('{"keyframes": [{"start": 0, "end": null, "emotion": ["happy"]}]}', "emotion: must be a string"),
    ('{"keyframes": [{"start": 2, "end": 1}]}', "end: must be a time after start"),
    ('{"keyframes": [{"start": 0, "smile": 1}]}', "unknown keys"),
    ('{"keyframes": [{"start": 0, "set": {"wink": 1}}]}', "unknown keys"),
    ('{"keyframes": {}}', "keyframes: must be a list"),
    ("[1, 2]", "must be an object"),
    ('{"keyframes": []}\x00', "not valid JSON"),
    (b"\xff\xfe garbage", "UTF-8"),
])
def test_bad_keyframe_files_name_the_field(tmp_path, content, problem, capsys):
    path = tmp_path / "keys.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(MotionFileError, match=problem) as error:
        load_keyframes(path)
    assert str(path) in str(error.value) and len(str(error.value)) < 400


def test_bad_keyframes_through_the_cli_exit_2(tmp_path, speech_path, capsys):
    path = tmp_path / "keys.json"
    path.write_text('{"keyframes": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert main(["motion", str(speech_path), "-o", str(tmp_path / "m.json"), "--keyframes", str(path)]) == 2
    err = capsys.readouterr().err
    assert "keys.json" in err and "Traceback" not in err and "RecursionError" not in err


def test_keyframe_file_size_is_capped(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text('{"keyframes": [' + ",".join(['{"start": 1}'] * 200_000) + "]}")
    with pytest.raises(MotionFileError, match="larger than the limit"):
        load_keyframes(path)


def test_keyframe_api_checks_ranges_and_types():
    with pytest.raises(OptionError, match="jawOpen"):
        Keyframe(start_s=0.0, values={"jawOpen": 1e308})
    with pytest.raises(OptionError, match="start"):
        Keyframe(start_s="0", values={})  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="headYaw"):
        Keyframe(start_s=0.0, values={"headYaw": 400.0})
    assert Keyframe(start_s=0.0, values={"headYaw": -30.0, "jawOpen": 1}).values["jawOpen"] == 1


# ------------------------------------------------------------------------------------- motion files

def test_motion_file_round_trip_still_works(tmp_path):
    from talkingface.motion.io import save_motion
    from talkingface.motion.params import Motion

    values = np.random.default_rng(0).uniform(0, 1, (30, 42)).astype(np.float32)
    values[:, :3] *= 20  # head angles in degrees
    for suffix in (".json", ".csv"):
        back = load_motion(save_motion(Motion(fps=25.0, values=values), tmp_path / f"m{suffix}"))
        np.testing.assert_allclose(back.values, values, atol=1e-5)


# ------------------------------------------------------------------------------------- the loader

def test_structured_loader_bounds_and_names(tmp_path):
    assert nesting_depth(b'{"a": "[[[[", "b": [[1]]}') == 3
    assert nesting_depth(b'["\\"[[[["]') == 1
    assert parse_json('{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}
    for text, problem in (("[1e400]", "out of range: '1e400' at line 1 column 2"), ("[-Infinity]", "Infinity"),
                          ("[1" + "0" * 30 + "]", "digits"), ("[[[[1]]]]", "deep"), ('"' + "a" * 100 + '"', "larger"),
                          ("[1e300]", r"at most 1e\+06")):
        with pytest.raises(InputFileError, match=problem):
            parse_json(text, source="doc", limits=Limits(max_bytes=64, max_depth=3, max_abs=1e6))
    fields = Fields("doc.json")
    with pytest.raises(InputFileError, match=r"doc.json: items\[2\]: must be a whole number from 0 to 9, got 1.5"):
        fields.number(1.5, "items[2]", low=0, high=9, integer=True)
    assert fields.number("7", "cell", low=0, high=9, integer=True, text=True) == 7
    with pytest.raises(InputFileError, match="one of a, b"):
        fields.string("c", "kind", choices=("a", "b"))
    assert parse_csv("a,b\n\n1,2\n") == [["a", "b"], ["1", "2"]]
    with pytest.raises(InputFileError, match="columns"):
        parse_csv("," * 50, limits=Limits(max_columns=10))
    missing = tmp_path / "none.json"
    with pytest.raises(FileNotFoundError):
        load_json(missing)
    with pytest.raises(TalkingFaceError):
        load_json(tmp_path)


def test_json_nested_a_million_deep_is_refused_quickly():
    started = time.monotonic()
    with pytest.raises(InputFileError, match="deep"):
        parse_json("[" * 1_000_000 + "]" * 1_000_000, limits=Limits(max_bytes=4 << 20))
    assert time.monotonic() - started < 2


# ------------------------------------------------------------------------------------- numbers

@pytest.mark.parametrize("argv", [
    ["--fps", "nan"], ["--fps", "inf"], ["--head-motion", "nan"], ["--articulation", "-inf"],
    ["--blink-rate", "NaN"], ["--head-distance", "inf"], ["--gaze", "nan,0"], ["--emotion", "happy:nan"],
    ["--max-audio-seconds", "inf"], ["--seed", "9" * 5000],
])
def test_non_finite_cli_numbers_exit_2(argv, tmp_path, portrait_path, speech_path, capsys):
    code = run(["render", str(portrait_path), str(speech_path), "-o", str(tmp_path / "o.mp4"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and argv[0] in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("make", [
    lambda: AnimateOptions(fps=float("nan")), lambda: AnimateOptions(fps="25"),  # type: ignore[arg-type]
    lambda: AnimateOptions(max_audio_s=float("inf")), lambda: AnimateOptions(size=512.5),  # type: ignore[arg-type]
    lambda: AnimateOptions(seed=True), lambda: AnimateOptions(transcript=b"bytes"),  # type: ignore[arg-type]
    lambda: MotionOptions(head_motion=float("nan")), lambda: Controls(gaze=(float("nan"), 0.0)),
    lambda: Controls(head_distance=float("inf")), lambda: Controls(emotion_intensity="1"),  # type: ignore[arg-type]
    lambda: StreamOptions(fps=float("inf")), lambda: AnimateOptions(max_image_pixels=10 ** 5000),
])
def test_options_refuse_non_finite_and_wrong_types(make):
    with pytest.raises(OptionError):
        make()


def test_huge_integers_in_messages_do_not_crash():
    error = OptionError("seed", 10 ** 5000, "must be small")
    assert "digits" in str(error) and len(str(error)) < 200
    error = OptionError("gaze", [[[[[1]]]]] * 1000, "bad")
    assert len(str(error)) < 200


def test_empty_keyframe_list_loads(tmp_path: Path):
    path = tmp_path / "deep.json"
    path.write_text(json.dumps({"keyframes": []}))
    assert load_keyframes(path) == ()
