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
import math
import os
from pathlib import Path

import numpy as np

from talkingface.errors import MotionFileError, OptionError
from talkingface.media import atomic_output, check_input_file
from talkingface.motion.params import PARAMETER_INDEX, PARAMETERS, Motion

FORMAT = "talkingface.motion"
SUFFIXES = (".json", ".csv")
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
    """Read a .json or .csv motion file; MotionFileError names the file and the problem."""
    path = os.fspath(check_input_file(path, "a motion file"))
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise MotionFileError(path, f"motion files must end in one of {SUFFIXES}")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise MotionFileError(path, f"cannot be read ({error})") from error
    fps, names, rows = _parse_json(path, text) if suffix == ".json" else _parse_csv(path, text)
    return _build(path, fps, names, rows)


def _parse_json(path: str, text: str) -> tuple[float, list[str], list[list[float]]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise MotionFileError(path, f"is not valid JSON ({error})") from error
    if not isinstance(document, dict) or not {"fps", "parameters", "frames"} <= set(document):
        raise MotionFileError(path, 'must be a JSON object with "fps", "parameters" and "frames"')
    return document["fps"], document["parameters"], document["frames"]


def _parse_csv(path: str, text: str) -> tuple[float, list[str], list[list[float]]]:
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) < 2 or not rows[0] or rows[0][0] != "time":
        raise MotionFileError(path, 'must have a header row starting with "time" and at least one frame')
    try:
        table = np.asarray([[float(v) for v in row] for row in rows[1:] if row], dtype=np.float64)
    except ValueError as error:
        raise MotionFileError(path, f"has a value that is not a number ({error})") from error
    if table.ndim != 2 or table.shape[1] != len(rows[0]):
        raise MotionFileError(path, "rows must have as many columns as the header")
    steps = np.diff(table[:, 0])
    if len(table) > 1 and (steps <= 0).any():
        raise MotionFileError(path, "time must increase from row to row")
    fps = 1.0 / float(np.median(steps)) if len(table) > 1 else 25.0
    return round(fps, 6), rows[0][1:], table[:, 1:].tolist()


def _build(path: str, fps: object, names: object, rows: object) -> Motion:
    if not isinstance(fps, (int, float)) or not math.isfinite(fps) or not 1 <= fps <= 240:
        raise MotionFileError(path, f"fps {fps!r} must be a number between 1 and 240")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise MotionFileError(path, "parameters must be a list of names")
    unknown = [n for n in names if n not in PARAMETER_INDEX and n not in ARKIT_UNMODELLED]
    if unknown:
        raise MotionFileError(path, f"unknown motion parameters {unknown[:5]}; see talkingface.PARAMETERS")
    try:
        table = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise MotionFileError(path, f"frames must be rows of numbers ({error})") from error
    if table.ndim != 2 or table.shape[0] == 0 or table.shape[1] != len(names):
        raise MotionFileError(path, f"frames must be a non-empty list of rows of {len(names)} numbers")
    if not np.isfinite(table).all():
        raise MotionFileError(path, "frames contain NaN or infinite values")
    values = np.zeros((len(table), len(PARAMETERS)), np.float32)
    for column, name in enumerate(names):
        if name in PARAMETER_INDEX:
            values[:, PARAMETER_INDEX[name]] = table[:, column]
    return Motion(fps=float(fps), values=values)
