"""Motion timelines as files: JSON and CSV with ARKit parameter names, for 3D rigs and back.

JSON: {"format": "talkingface.motion", "version": 1, "fps": 25.0, "parameters": [names...],
"frames": [[v, ...], ...]}. CSV: a header "time,<names...>" then one row per frame, time in seconds.
Files with only some parameters load with the others at 0; ARKit blendshapes talkingface does not
model are ignored on import; any other name is an error.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np

from talkingface.errors import MotionFileError, OptionError, show
from talkingface.media import atomic_output, check_input_file
from talkingface.media.structured import Fields, Limits, load_csv, load_json
from talkingface.motion.params import PARAMETER_INDEX, PARAMETER_RANGES, PARAMETERS, Motion

FORMAT = "talkingface.motion"
SUFFIXES = (".json", ".csv")
MAX_TIME_S = 86_400.0
MOTION_LIMITS = Limits(max_bytes=32 << 20, max_depth=4, max_columns=4 * len(PARAMETERS) + 1, max_cell_chars=100)
"""Bounds of a motion file: 32 MiB (about 40 minutes at 25 fps with every parameter), rows of numbers."""
# ARKit blendshapes with no counterpart in the rig: accepted on import, ignored
ARKIT_UNMODELLED = frozenset({
    "eyeSquintLeft", "eyeSquintRight", "jawForward", "jawLeft", "jawRight", "mouthLeft", "mouthRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "cheekPuff", "noseSneerLeft", "noseSneerRight", "tongueOut",
})


def save_motion(motion: Motion, path: str | os.PathLike[str]) -> Path:
    """Write motion as .json or .csv (by suffix), atomically. Returns the path."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise OptionError("output", str(path), f"motion files must end in one of {SUFFIXES}")
    text = _to_json(motion) if path.suffix.lower() == ".json" else _to_csv(motion)
    with atomic_output(path) as temporary:
        Path(temporary).write_text(text, encoding="utf-8")
    return path


def motion_document(motion: Motion) -> dict:
    """The JSON form of a motion timeline, as a dict (what .json motion files hold)."""
    frames = np.round(motion.values.astype(np.float64), 6).tolist()
    return {"format": FORMAT, "version": 1, "fps": motion.fps, "parameters": list(PARAMETERS), "frames": frames}


def _to_json(motion: Motion) -> str:
    return json.dumps(motion_document(motion), separators=(",", ":"))


def _to_csv(motion: Motion) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["time", *PARAMETERS])
    for t, row in enumerate(motion.values):
        writer.writerow([f"{t / motion.fps:.6f}", *(f"{v:.6f}" for v in row)])
    return buffer.getvalue()


def load_motion(path: str | os.PathLike[str]) -> Motion:
    """Read a .json or .csv motion file (at most 32 MiB); MotionFileError names the file, the field
    and the problem."""
    path = os.fspath(check_input_file(path, "a motion file"))
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise MotionFileError(path, f"motion files must end in one of {SUFFIXES}")
    fields = Fields(path, MotionFileError)
    if suffix == ".json":
        fps, names, rows = _parse_json(fields, load_json(path, limits=MOTION_LIMITS, error=MotionFileError,
                                                         kind="a motion file"))
    else:
        fps, names, rows = _parse_csv(fields, load_csv(path, limits=MOTION_LIMITS, error=MotionFileError,
                                                       kind="a motion file"))
    return _build(fps, names, rows)


def _parse_json(fields: Fields, document: object) -> tuple[float, list[str], np.ndarray]:
    document = fields.object(document, "", required=("fps", "parameters", "frames"))
    fps = fields.number(document["fps"], "fps", low=1.0, high=240.0)
    names = _names(fields, document["parameters"], "parameters")
    return fps, names, _frames(fields, document["frames"], "frames", names, text=False)


def _parse_csv(fields: Fields, rows: list[list[str]]) -> tuple[float, list[str], np.ndarray]:
    if len(rows) < 2 or rows[0][0].strip() != "time":
        fields.fail("", 'must have a header row starting with "time" and at least one frame')
    names = _names(fields, [name.strip() for name in rows[0][1:]], "header")
    table = _frames(fields, rows[1:], "frames", ["time", *names], text=True)
    steps = np.diff(table[:, 0])
    if len(table) > 1 and (steps <= 0).any():
        fields.fail("time", f"must increase from row to row (row {int(np.argmax(steps <= 0)) + 2})")
    fps = 1.0 / float(np.median(steps)) if len(table) > 1 else 25.0
    if not 1.0 <= fps <= 240.0:
        fields.fail("time", f"steps give {fps:g} frames per second; expected 1 to 240")
    return round(fps, 6), names, table[:, 1:]


def _names(fields: Fields, names: object, where: str) -> list[str]:
    names = fields.array(names, where, max_items=4 * len(PARAMETERS))
    for index, name in enumerate(names):
        fields.string(name, fields.child(where, index), max_chars=64)
    unknown = [n for n in names if n not in PARAMETER_INDEX and n not in ARKIT_UNMODELLED]
    if unknown:
        fields.fail(where, f"unknown motion parameters {show(unknown)}; see talkingface.PARAMETERS")
    if len(set(names)) != len(names):
        fields.fail(where, f"names a parameter twice: {show(sorted({n for n in names if names.count(n) > 1}))}")
    return names


def _frames(fields: Fields, rows: object, where: str, names: list[str], *, text: bool) -> np.ndarray:
    bounds = [(0.0, MAX_TIME_S) if name == "time" else PARAMETER_RANGES.get(name, (-1e6, 1e6)) for name in names]
    return fields.table(rows, where, columns=len(names), text=text,
                        low=[b[0] for b in bounds], high=[b[1] for b in bounds])


def _build(fps: float, names: list[str], table: np.ndarray) -> Motion:
    values = np.zeros((len(table), len(PARAMETERS)), np.float32)
    for column, name in enumerate(names):
        if name in PARAMETER_INDEX:
            values[:, PARAMETER_INDEX[name]] = table[:, column]
    return Motion(fps=float(fps), values=values)
