"""Motion controls (gaze, head distance, emotion, keyframes) and motion files (JSON/CSV)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from talkingface.cli import main
from talkingface.errors import InputNotFoundError, MotionFileError, OptionError
from talkingface.motion.controls import EMOTIONS, Controls, Keyframe, load_keyframes
from talkingface.motion.generate import MotionOptions, generate_motion
from talkingface.motion.io import load_motion, save_motion
from talkingface.motion.params import PARAMETERS, Motion
from tests.synthetic import make_track, syllables


@pytest.fixture(scope="module")
def track():
    segments = syllables(["HH", "AH", "L", "OW", "W", "ER", "L", "D"] * 6, step=0.1)
    return make_track(segments, segments[-1][2])


def changed(base: Motion, other: Motion) -> set[str]:
    diff = np.abs(other.values - base.values).max(axis=0)
    return {name for name, d in zip(PARAMETERS, diff) if d > 1e-5}


def motion_with(track, **controls) -> Motion:
    return generate_motion(track, MotionOptions(seed=2, controls=Controls(**controls)))


def test_gaze_moves_only_eye_look_in_named_direction(track):
    base = motion_with(track)
    right = motion_with(track, gaze=(0.5, 0.0))
    assert changed(base, right) <= {"eyeLookOutLeft", "eyeLookInRight", "eyeLookInLeft", "eyeLookOutRight"}
    assert right["eyeLookOutLeft"].mean() > base["eyeLookOutLeft"].mean() + 0.3
    up = motion_with(track, gaze=(0.0, 0.6))
    assert changed(base, up) <= {"eyeLookUpLeft", "eyeLookUpRight", "eyeLookDownLeft", "eyeLookDownRight"}
    assert up["eyeLookUpLeft"].mean() > base["eyeLookUpLeft"].mean() + 0.4


def test_head_distance_moves_only_scale(track):
    base = motion_with(track)
    closer = motion_with(track, head_distance=1.25)
    assert changed(base, closer) == {"headScale"}
    assert np.allclose(closer["headScale"] - base["headScale"], 0.25)


@pytest.mark.parametrize("emotion", sorted(set(EMOTIONS) - {"neutral"}))
def test_emotion_moves_its_expression(track, emotion):
    base = motion_with(track)
    moved = motion_with(track, emotion=emotion, emotion_intensity=1.0)
    half = motion_with(track, emotion=emotion, emotion_intensity=0.5)
    assert changed(base, moved) <= set(EMOTIONS[emotion])
    for name, value in EMOTIONS[emotion].items():
        if name not in ("jawOpen", "eyeBlinkLeft", "eyeBlinkRight"):  # those saturate with speech/blinks
            shift = float(np.median(moved[name] - base[name]))
            assert np.sign(shift) == np.sign(value)
            assert abs(float(np.median(half[name] - base[name]))) < abs(shift) + 1e-6


def test_smiling_mouth_still_articulates(track):
    happy = motion_with(track, emotion="happy")
    assert happy["mouthSmileLeft"].min() > 0.4
    assert happy["jawOpen"].std() > 0.03


def test_keyframes_hold_and_blend(track):
    keyframe = Keyframe(start_s=1.0, end_s=2.0, values={"eyeLookOutLeft": 0.8, "mouthSmileLeft": 0.7}, ease_s=0.2)
    motion = motion_with(track, keyframes=(keyframe,))
    base = motion_with(track)
    fps = motion.fps
    inside = slice(int(1.0 * fps), int(2.0 * fps) + 1)
    assert np.allclose(motion["eyeLookOutLeft"][inside], 0.8)
    assert np.allclose(motion["mouthSmileLeft"][inside], 0.7)
    before = int(0.7 * fps)
    assert motion["mouthSmileLeft"][before] == pytest.approx(base["mouthSmileLeft"][before])
    ramp = motion["mouthSmileLeft"][int(0.8 * fps):int(1.0 * fps) + 1]
    assert np.all(np.diff(ramp) >= -1e-6)  # eases in smoothly
    assert changed(base, motion) == {"eyeLookOutLeft", "mouthSmileLeft"}


def test_keyframe_file_with_emotion(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keyframes": [
        {"start": 2.0, "end": 3.5, "set": {"eyeLookOutLeft": 0.6}},
        {"start": 4.0, "emotion": "happy", "intensity": 0.5, "ease": 0.3}]}))
    keys = load_keyframes(path)
    assert keys[0].end_s == 3.5 and keys[1].end_s is None
    assert keys[1].values["mouthSmileLeft"] == pytest.approx(0.5 * EMOTIONS["happy"]["mouthSmileLeft"])


@pytest.mark.parametrize("content, problem", [
    ("not json", "JSON"),
    ('{"frames": []}', "keyframes"),
    ('{"keyframes": [{"end": 2}]}', "start"),
    ('{"keyframes": [{"start": 1, "set": {"noseWiggle": 1}}]}', "noseWiggle"),
    ('{"keyframes": [{"start": 3, "end": 2, "set": {}}]}', "end"),
    ('{"keyframes": [{"start": 1, "emotion": "bored"}]}', "bored"),
    ('{"keyframes": [{"start": 1, "set": {"jawOpen": "wide"}}]}', "jawOpen"),
])
def test_bad_keyframe_files(tmp_path, content, problem):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(MotionFileError, match=problem) as error:
        load_keyframes(path)
    assert "bad.json" in str(error.value)


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_motion_file_round_trip(tmp_path, track, suffix):
    motion = motion_with(track, emotion="sad")
    path = save_motion(motion, tmp_path / f"motion{suffix}")
    again = load_motion(path)
    assert again.fps == pytest.approx(motion.fps)
    assert again.values.shape == motion.values.shape
    assert np.allclose(again.values, motion.values, atol=2e-6)
    assert not list(tmp_path.glob(".*"))  # written atomically, no temp left


def test_partial_motion_file_fills_zeros(tmp_path):
    path = tmp_path / "capture.csv"
    path.write_text("time,jawOpen,tongueOut\n0.0,0.1,0.5\n0.04,0.3,0.5\n0.08,0.2,0.5\n")
    motion = load_motion(path)
    assert motion.fps == pytest.approx(25.0)
    assert np.allclose(motion["jawOpen"], [0.1, 0.3, 0.2])
    assert np.abs(motion.values).sum() == pytest.approx(0.6, abs=1e-5)


@pytest.mark.parametrize("name, content, problem", [
    ("m.json", "{", "JSON"),
    ("m.json", '{"fps": 25, "parameters": ["jawOpen"]}', "frames"),
    ("m.json", '{"fps": 0, "parameters": ["jawOpen"], "frames": [[0.1]]}', "fps"),
    ("m.json", '{"fps": 25, "parameters": ["jawOpen"], "frames": [[0.1, 0.2]]}', "row of 1 numbers"),
    ("m.json", '{"fps": 25, "parameters": ["smirk"], "frames": [[0.1]]}', "smirk"),
    ("m.json", '{"fps": 25, "parameters": ["jawOpen"], "frames": []}', "at least 1"),
    ("m.csv", "time,jawOpen\n0.0,0.1\n0.0,0.2\n", "increase"),
    ("m.csv", "jawOpen\n0.1\n", "time"),
    ("m.csv", "time,jawOpen\n0.0,abc\n", "number"),
    ("m.txt", "time,jawOpen\n0.0,0.1\n", "end in"),
    # the bounded loader: depth, digits, types, ranges, cell sizes, each naming the field
    ("m.json", '{"fps": 25, "parameters": ["jawOpen"], "frames": ' + "[" * 100_000 + "]" * 100_000 + "}", "deep"),
    ("m.json", '{"fps": ' + "9" * 5000 + ', "parameters": [], "frames": [[]]}', "digits"),
    ("m.json", '{"fps": 25, "parameters": ["jawOpen"], "frames": [["0.1"]]}', r"frames\[0\]\[0\]: must be a number"),
    ("m.json", '{"fps": 25, "parameters": ["jawOpen"], "frames": [[true]]}', r"frames\[0\]\[0\]"),
    ("m.json", '{"fps": 25, "parameters": ["jawOpen"], "frames": [[0.1], [7]]}', r"frames\[1\]\[0\]: must be a number from 0 to 1"),
    ("m.json", '{"fps": 25, "parameters": [1], "frames": [[0.1]]}', r"parameters\[0\]: must be a string"),
    ("m.json", '{"fps": 25, "parameters": ["jawOpen", "jawOpen"], "frames": [[0.1, 0.1]]}', "twice"),
    ("m.json", '{"fps": Infinity, "parameters": ["jawOpen"], "frames": [[0.1]]}', "Infinity"),
    ("m.csv", "time,jawOpen\n0.0,1e308\n", r"frames\[0\]\[1\]: must be a number from 0 to 1"),
    ("m.csv", "time,jawOpen\n0.0,nan\n", r"frames\[0\]\[1\]"),
    ("m.csv", "time,jawOpen\n0.0," + "1" * 200_000 + "\n", "field larger than"),
    ("m.csv", "time,jawOpen\n0.0,0.1,0.3\n", "row of 2 numbers"),
    ("m.csv", 'time,jawOpen\n"0.0\n', "frames"),
    ("m.csv", "time,jawOpen\n0,0.1\n1000,0.2\n", "frames per second"),
])
def test_bad_motion_files(tmp_path, name, content, problem):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(MotionFileError, match=problem) as error:
        load_motion(path)
    assert str(path) in str(error.value) and len(str(error.value)) < 400


def test_missing_motion_file(tmp_path):
    with pytest.raises(InputNotFoundError, match="nothing.json"):
        load_motion(tmp_path / "nothing.json")
    folder = tmp_path / "folder.json"
    folder.mkdir()
    with pytest.raises(InputNotFoundError, match="is a directory, not a motion file"):
        load_motion(folder)


def test_bad_control_values():
    for kwargs, name in (({"gaze": (2.0, 0.0)}, "gaze"), ({"head_distance": 5.0}, "head_distance"),
                         ({"emotion": "bored"}, "emotion"), ({"emotion_intensity": 1.5}, "emotion_intensity")):
        with pytest.raises(OptionError, match=name):
            Controls(**kwargs)


def test_cli_motion_export_then_render(tmp_path, speech_path, portrait_path, capsys):
    motion_path = tmp_path / "speech.json"
    assert main(["motion", str(speech_path), "-o", str(motion_path), "--emotion", "happy:0.5",
                 "--gaze", "0.3,0", "--fps", "30"]) == 0
    motion = load_motion(motion_path)
    assert motion.fps == 30 and motion["mouthSmileLeft"].min() > 0.2
    video = tmp_path / "from_motion.mp4"
    assert main(["render", str(portrait_path), str(speech_path), "-o", str(video), "--size", "128",
                 "--motion", str(motion_path), "--quiet"]) == 0
    assert video.stat().st_size > 1000
    assert main(["motion", str(speech_path), "-o", str(tmp_path / "m.txt")]) == 2
    assert "m.txt" in capsys.readouterr().err
