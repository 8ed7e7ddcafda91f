"""Property-based fuzzing of every loader of untrusted bytes: any input either loads or raises the
project's own error (a TalkingFaceError) -- never another exception, never unbounded time (each
example has a deadline) or memory (the JSON/CSV loaders' peak allocation is bounded by the input).

Deterministic in `make test` (profile "ci": derandomized); `TALKINGFACE_FUZZ=deep` runs 20 times
the examples with random seeds. Example counts per property are in EXAMPLES.
"""

from __future__ import annotations

import io
import json
import math
import os
import tracemalloc
import wave
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from talkingface.audio import load_audio
from talkingface.batch.manifest import load_manifest
from talkingface.cli import _transcript
from talkingface.errors import TalkingFaceError
from talkingface.media import load_image
from talkingface.media.structured import Limits, parse_csv, parse_json
from talkingface.motion.controls import load_keyframes
from talkingface.motion.io import load_motion
from talkingface.motion.params import PARAMETER_RANGES, PARAMETERS
from talkingface.server.live import control_changes, live_params, parse_client_message
from talkingface.stream import StreamControls, to_mono_float

SCALE = 20 if os.environ.get("TALKINGFACE_FUZZ") == "deep" else 1
EXAMPLES = {"json": 3000, "keyframes": 2000, "motion_json": 2000, "motion_csv": 2000, "image": 1500,
            "audio": 1000, "live": 3000, "transcript": 1000, "manifest": 1000}


def budget(name: str) -> settings:
    return settings(max_examples=EXAMPLES[name] * SCALE)


# ------------------------------------------------------------------------------------- strategies

JSON_CHARS = '[]{}",:0123456789.eE+-truefalsnNIiy \n\\u'
json_like_text = st.text(alphabet=JSON_CHARS, max_size=300)
finite_or_not = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**30, 10**30)
json_values = st.recursive(
    st.none() | st.booleans() | finite_or_not | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30)


def mutated(seed: bytes) -> st.SearchStrategy[bytes]:
    """``seed`` with a few bytes overwritten, a slice deleted or duplicated, and/or truncated."""
    def mutate(edits: list[tuple[int, int]], cut: tuple[int, int], keep: float) -> bytes:
        data = bytearray(seed)
        for position, value in edits:
            data[position % len(data)] = value
        start, length = cut[0] % len(data), cut[1]
        data = data[:start] + data[start:start + length] * (length % 3) + data[start + length:]
        return bytes(data[: max(1, int(len(data) * keep))])
    return st.builds(mutate, st.lists(st.tuples(st.integers(0, 1 << 30), st.integers(0, 255)), max_size=8),
                     st.tuples(st.integers(0, 1 << 30), st.integers(0, 64)), st.floats(0.0, 1.0))


def _keyframe_doc() -> st.SearchStrategy[object]:
    names = st.sampled_from(PARAMETERS[:8]) | st.text(max_size=8)
    entry = st.fixed_dictionaries({}, optional={
        "start": finite_or_not | json_values, "end": finite_or_not | st.none(), "ease": finite_or_not,
        "set": st.dictionaries(names, finite_or_not | json_values, max_size=4) | json_values,
        "emotion": st.sampled_from(["happy", "sad", "smug"]) | json_values, "intensity": finite_or_not})
    return st.fixed_dictionaries({"keyframes": st.lists(entry, max_size=4) | json_values}) | json_values


def _motion_doc() -> st.SearchStrategy[object]:
    names = st.lists(st.sampled_from(PARAMETERS[:6]) | st.text(max_size=6), max_size=3)
    return st.fixed_dictionaries({"fps": finite_or_not | json_values, "parameters": names | json_values,
                                  "frames": st.lists(st.lists(finite_or_not | json_values, max_size=4), max_size=4)
                                  | json_values}) | json_values


def _dumps(value: object) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


# ------------------------------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def loads_or_refuses(load, *args):
    """Run a loader; None when it refuses with the project's error (anything else propagates)."""
    try:
        result = load(*args)
    except TalkingFaceError as error:
        event(f"refused: {type(error).__name__}")
        return None
    event("loaded")
    return result


def bounded_memory(load, data: bytes, *args):
    """Run a pure-Python loader under tracemalloc: its peak allocation stays within a multiple of
    the input's size."""
    tracemalloc.start()
    try:
        result = loads_or_refuses(load, *args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000 + 200 * len(data), f"{peak} bytes for {len(data)} bytes of input"
    return result


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (40, 40, 3), np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


def _wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        t = np.arange(3200) / 16000
        handle.writeframes((0.3 * np.sin(2 * np.pi * 200 * t) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


KEYFRAMES = _dumps({"keyframes": [{"start": 0.5, "end": 1.0, "set": {"jawOpen": 0.4}},
                                  {"start": 1.2, "emotion": "happy", "intensity": 0.5}]})
MOTION_JSON = _dumps({"format": "talkingface.motion", "version": 1, "fps": 25, "parameters": ["jawOpen", "headYaw"],
                      "frames": [[0.1, 1.0], [0.2, -2.0], [0.0, 0.5]]})
MOTION_CSV = b"time,jawOpen,headYaw\n0.00,0.1,1.0\n0.04,0.2,-2.0\n0.08,0.0,0.5\n"


# ------------------------------------------------------------------------------------- structured

@budget("json")
@given(st.binary(max_size=400) | json_like_text.map(str.encode) | json_values.map(_dumps))
@example(b"[" * 5000)
@example(b'{"a": ' + b"9" * 5000 + b"}")
@example(b"[1e999, NaN, -Infinity]")
def test_fuzz_json_and_csv_parsers(data):
    limits = Limits(max_bytes=4096, max_depth=8)
    parsed = bounded_memory(lambda d: parse_json(d, limits=limits), data, data)
    if parsed is not None:
        json.dumps(parsed, allow_nan=False)  # whatever loads is plain, finite JSON data
    rows = bounded_memory(lambda d: parse_csv(d, limits=limits), data, data)
    assert rows is None or all(isinstance(cell, str) for row in rows for cell in row)
    small = loads_or_refuses(lambda: parse_json(data, source="<fuzz>", limits=limits))
    assert small is None or len(data) <= 4096


@budget("keyframes")
@given(_keyframe_doc().map(_dumps) | mutated(KEYFRAMES) | json_like_text.map(str.encode))
def test_fuzz_keyframe_files(scratch, data):
    keyframes = bounded_memory(load_keyframes, data, _write(scratch, "keys.json", data))
    for keyframe in keyframes or ():
        assert math.isfinite(keyframe.start_s) and 0 <= keyframe.ease_s <= 5
        for name, value in keyframe.values.items():
            low, high = PARAMETER_RANGES[name]
            assert low <= value <= high


def _check_motion(motion) -> None:
    if motion is not None:
        assert np.isfinite(motion.values).all() and 1 <= motion.fps <= 240
        assert motion.values.shape == (motion.frames, len(PARAMETERS))


@budget("motion_json")
@given(_motion_doc().map(_dumps) | mutated(MOTION_JSON) | st.binary(max_size=300))
def test_fuzz_motion_json_files(scratch, data):
    _check_motion(bounded_memory(load_motion, data, _write(scratch, "motion.json", data)))


@budget("motion_csv")
@given(mutated(MOTION_CSV) | st.text(alphabet="time,jawOpenheadYaw0123456789.-e\n\r\"' nai", max_size=300).map(str.encode)
       | st.binary(max_size=300))
@example(b"time,jawOpen\n0.0\x1c,0.1\n")  # found: a cell the number pattern took but float() refused
def test_fuzz_motion_csv_files(scratch, data):
    _check_motion(bounded_memory(load_motion, data, _write(scratch, "motion.csv", data)))


MANIFEST_CSV = b"portrait,audio,output,seed,emotion,gaze,full-frame\np.png,a.wav,x.mp4,1,happy:0.4,\"0.2,0\",false\n"
MANIFEST_JSONL = _dumps({"portrait": "p.png", "audio": "a.wav", "output": "x.mp4", "seed": 1, "gaze": [0.2, 0]})
manifest_rows = st.dictionaries(st.sampled_from(["portrait", "audio", "drive", "output", "seed", "fps", "emotion",
                                                 "gaze", "full-frame", "transcript"]) | st.text(max_size=8),
                                finite_or_not | json_values, max_size=6)


@budget("manifest")
@given(st.lists(manifest_rows, max_size=3).map(lambda rows: b"\n".join(map(_dumps, rows))) | mutated(MANIFEST_JSONL)
       | st.binary(max_size=300), mutated(MANIFEST_CSV) | st.text(alphabet='portaudioxy,.\n"=:-0123456789', max_size=200)
       .map(str.encode))
def test_fuzz_batch_manifests(scratch, jsonl, csv_data):
    for name, data in (("jobs.jsonl", jsonl), ("jobs.csv", csv_data)):
        jobs = bounded_memory(load_manifest, data, _write(scratch, name, data))
        assert jobs is None or all(job.row >= 1 and not job.output.is_absolute() for job in jobs)


# ------------------------------------------------------------------------------------- media

@budget("image")
@given(mutated(_png()) | mutated(_jpeg()) | st.binary(max_size=600))
@example(b"")
def test_fuzz_image_files(scratch, data):
    image = loads_or_refuses(load_image, _write(scratch, "portrait.img", data))
    if image is not None:
        assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8


@budget("audio")
@given(mutated(_wav()) | st.binary(max_size=600))
@example(_wav()[:45])
@example(_wav()[:20] + b"\0" + _wav()[21:])  # found: a WAV naming no known format -> AttributeError
@example(_wav()[:27] + b"\x1a" + _wav()[28:])  # found: a 436 MHz sample rate -> 4-10 s of resampling
def test_fuzz_audio_files(scratch, data):
    audio = loads_or_refuses(lambda p: load_audio(p, max_seconds=5.0), _write(scratch, "speech.bin", data))
    if audio is not None:
        assert audio.duration_s >= 0.1 and np.isfinite(audio.samples).all()
        assert np.abs(audio.samples).max() <= 1.0


# ------------------------------------------------------------------------------------- live, CLI

control_messages = st.fixed_dictionaries({"type": st.just("control")}, optional={
    name: finite_or_not | json_values for name in ("emotion", "emotion_intensity", "gaze", "head_motion",
                                                   "articulation", "head_distance", "transition_s")})


@budget("live")
@given(st.text(max_size=300) | json_like_text | json_values.map(json.dumps) | control_messages.map(json.dumps),
       st.binary(max_size=64), st.dictionaries(st.sampled_from(["fps", "size", "seed", "quality", "rate",
                                                                "lookahead_ms", "portrait", "realtime"]),
                                               st.text(max_size=12), max_size=4))
def test_fuzz_live_messages(text, audio, query):
    message = loads_or_refuses(lambda: parse_client_message(text, max_bytes=1024))
    if message is not None and message["type"] == "control":
        loads_or_refuses(control_changes, StreamControls(), message)
    samples = loads_or_refuses(to_mono_float, audio)
    assert samples is None or (np.isfinite(samples).all() and samples.dtype == np.float32)
    loads_or_refuses(lambda: live_params(query, max_size=512))


@budget("transcript")
@given(st.text(max_size=400) | st.text(alphabet="ab/.\n\0 txt", max_size=5000))
def test_fuzz_transcript_argument(text):
    result = loads_or_refuses(_transcript, text)
    assert result is None or isinstance(result, str)
