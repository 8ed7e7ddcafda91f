"""Bounded, typed loading of the structured files talkingface reads: JSON and CSV.

Every JSON or CSV input (keyframes, motion timelines, live messages, batch manifests) goes through
here, so one set of limits protects them all: a size cap checked before reading, a nesting-depth cap
checked without recursion before parsing (no RecursionError), integers of bounded length and finite
numbers of bounded magnitude (no 5000-digit integers, no 1e308, no NaN or Infinity), and errors that
name the file, the field and the problem. Two steps:

    data = load_json(path, limits=Limits(max_bytes=1 << 20), error=MotionFileError)
    fields = Fields(path, MotionFileError)
    entry = fields.object(data, "", required=("keyframes",))
    start = fields.number(entry["start"], "keyframes[0].start", low=0, high=86400)
    # -> MotionFileError("keys.json: keyframes[0].start: must be a number from 0 to 86400, got '0'")

``parse_json`` / ``parse_csv`` take text or bytes already in memory (a message, an upload).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NoReturn

import numpy as np

from talkingface.errors import InputFileError, show
from talkingface.media.paths import check_input_file
from talkingface.validation import number_problem

PathLike = str | os.PathLike[str]
ErrorType = Callable[[str, str], InputFileError]
"""What to raise: ``error(source, problem)``, an InputFileError subclass or any callable making one
(e.g. ``lambda source, problem: ManifestError(source, problem, row=3)``)."""


@dataclass(frozen=True)
class Limits:
    """Bounds on one structured document.

    max_bytes: largest file or text, bytes (checked before reading); max_depth: deepest nesting of
    JSON arrays/objects; max_int_digits: longest JSON integer; max_abs: largest magnitude of any
    number (numbers are always finite: 1e999, NaN, Infinity are refused; ranges of single fields
    belong in ``Fields.number``, which names the field); max_rows, max_columns, max_cell_chars: CSV table bounds.
    """

    max_bytes: int = 1 << 20
    max_depth: int = 32
    max_int_digits: int = 20
    max_abs: float = math.inf
    max_rows: int = 1_000_000
    max_columns: int = 1000
    max_cell_chars: int = 10_000


class _Refused(Exception):
    """Raised inside the JSON parser's number hooks; turned into the caller's error type."""


# a JSON string literal, unrolled so the regex runs in linear time
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPEN = np.zeros(256, np.int8)
_OPEN[[ord("["), ord("{")]] = 1
_OPEN[[ord("]"), ord("}")]] = -1


def nesting_depth(data: bytes, *, chunk: int = 1 << 20) -> int:
    """Deepest nesting of [ ] / { } outside JSON string literals, computed without recursion (in
    chunks, so memory stays a few MiB whatever the size). An unterminated string counts its brackets
    (the document is invalid anyway)."""
    outside = _JSON_STRING.sub(b'""', data)
    deepest = level = 0
    for start in range(0, len(outside), chunk):
        steps = _OPEN[np.frombuffer(outside, np.uint8, count=min(chunk, len(outside) - start), offset=start)]
        levels = np.cumsum(steps, dtype=np.int64) + level
        deepest = max(deepest, int(levels.max()))
        level = int(levels[-1])
    return deepest


def read_bounded(path: PathLike, *, limits: Limits = Limits(), error: ErrorType = InputFileError,
                 kind: str = "a text file") -> bytes:
    """The bytes of a regular file of at most ``limits.max_bytes`` (checked before reading)."""
    checked = check_input_file(path, kind)
    name = os.fspath(path)
    too_large = error(name, f"is larger than the limit of {limits.max_bytes} bytes for {kind}")
    try:
        with open(checked, "rb") as handle:
            if os.fstat(handle.fileno()).st_size > limits.max_bytes:
                raise too_large
            chunks, size = [], 0
            while chunk := handle.read(1 << 16):  # never a buffer of max_bytes for a small file
                chunks.append(chunk)
                size += len(chunk)
                if size > limits.max_bytes:
                    raise too_large
    except OSError as exc:
        raise error(name, f"cannot be read ({exc.strerror or exc})") from exc
    return b"".join(chunks)


def _text(data: str | bytes, source: str, limits: Limits, error: ErrorType) -> str:
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise error(source, f"is larger than the limit of {limits.max_bytes} bytes")
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(source, f"is not UTF-8 text (bad byte at offset {exc.start})") from None


def load_json(path: PathLike, *, limits: Limits = Limits(), error: ErrorType = InputFileError,
              kind: str = "a JSON file") -> object:
    """Parse a JSON file within ``limits``; ``error(path, problem)`` for anything else."""
    return parse_json(read_bounded(path, limits=limits, error=error, kind=kind), source=os.fspath(path),
                      limits=limits, error=error)


def signed_document(fmt: str, version: int, body: dict) -> dict:
    """A JSON document of a committed table: its format and version, the body's fields and a SHA-256
    of the body (sorted-key JSON), which ``checked_document`` verifies."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return {"format": fmt, "version": version, **body, "sha256": digest}


def checked_document(data: str | bytes, fmt: str, version: int, fields: tuple[str, ...], *, source: str,
                     limits: Limits = Limits()) -> dict:
    """The body (``fields``) of a ``signed_document``, after checking its format, version and checksum.
    Raises ValueError saying which check failed (and the parser's errors for malformed JSON)."""
    document = parse_json(data, source=source, limits=limits)
    if not isinstance(document, dict) or document.get("format") != fmt or document.get("version") != version:
        raise ValueError(f"not a {fmt} version {version} document")
    body = {name: document[name] for name in fields}
    if hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest() != document.get("sha256"):
        raise ValueError("its checksum does not match its content")
    return body


def parse_json(data: str | bytes, *, source: str = "<text>", limits: Limits = Limits(),
               error: ErrorType = InputFileError) -> object:
    """Parse JSON text or bytes within ``limits``; ``error(source, problem)`` for anything else.

    Returns plain Python data (dict, list, str, int, float, bool, None); numbers are finite, at most
    ``max_abs`` in magnitude and integers at most ``max_int_digits`` long.
    """
    text = _text(data, source, limits, error)
    depth = nesting_depth(text.encode("utf-8", "surrogatepass"))
    if depth > limits.max_depth:
        raise error(source, f"nests arrays/objects {depth} deep; at most {limits.max_depth} levels are accepted")

    def integer(token: str) -> int:
        if len(token.lstrip("-")) > limits.max_int_digits:
            raise _Refused(f"has an integer of {len(token)} digits (at most {limits.max_int_digits})"
                           f"{_location(text, token)}")
        return _bounded(int(token), token)

    def real(token: str) -> float:
        return _bounded(float(token), token)

    def _bounded(value, token: str):
        if not (math.isfinite(value) and abs(value) <= limits.max_abs):
            bound = "a finite number" if math.isinf(limits.max_abs) else f"at most {limits.max_abs:g} in magnitude"
            raise _Refused(f"has a number out of range: {show(token)}{_location(text, token)} ({bound})")
        return value

    def constant(token: str) -> NoReturn:
        raise _Refused(f"has {token}{_location(text, token)}, which is not a number JSON allows")

    try:
        return json.loads(text, parse_int=integer, parse_float=real, parse_constant=constant)
    except _Refused as exc:
        raise error(source, str(exc)) from None
    except json.JSONDecodeError as exc:
        raise error(source, f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:  # pragma: no cover - prevented by the depth check
        raise error(source, "nests arrays/objects too deeply") from None


def _location(text: str, token: str) -> str:
    """" at line L column C" of the first occurrence of ``token`` in ``text`` (the parser's number
    hooks do not know where they are)."""
    index = text.find(token)
    if index < 0:  # pragma: no cover - the token comes from the text
        return ""
    line = text.count("\n", 0, index) + 1
    return f" at line {line} column {index - (text.rfind(chr(10), 0, index) + 1) + 1}"


def load_csv(path: PathLike, *, limits: Limits = Limits(), error: ErrorType = InputFileError,
             kind: str = "a CSV file") -> list[list[str]]:
    """Read a CSV file within ``limits`` as rows of strings (blank lines skipped)."""
    return parse_csv(read_bounded(path, limits=limits, error=error, kind=kind), source=os.fspath(path),
                     limits=limits, error=error)


def parse_csv(data: str | bytes, *, source: str = "<text>", limits: Limits = Limits(),
              error: ErrorType = InputFileError) -> list[list[str]]:
    """Parse CSV text or bytes within ``limits`` as rows of strings (blank lines skipped)."""
    text = _text(data, source, limits, error)
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            if not row:
                continue
            if len(rows) >= limits.max_rows:
                raise error(source, f"has more than {limits.max_rows} rows")
            if len(row) > limits.max_columns:
                raise error(source, f"row {reader.line_num}: more than {limits.max_columns} columns")
            if any(len(cell) > limits.max_cell_chars for cell in row):
                raise error(source, f"row {reader.line_num}: a cell longer than {limits.max_cell_chars} characters")
            rows.append(row)
    except csv.Error as exc:
        raise error(source, f"is not valid CSV: line {reader.line_num}: {exc}") from None
    return rows


def _where(field: str, key: str | int) -> str:
    """Path of a child field: ("keyframes", 2) -> "keyframes[2]", ("", "set") -> "set"."""
    if isinstance(key, int):
        return f"{field}[{key}]"
    return f"{field}.{key}" if field else key


class Fields:
    """Validators for the values of one structured document.

    Each returns the value (typed) or raises ``error(source, "<field>: <problem>")``; ``field`` is
    the value's path in the document ("keyframes[2].set.jawOpen", "" for the document itself).
    """

    def __init__(self, source: PathLike, error: ErrorType = InputFileError) -> None:
        self.source = os.fspath(source)
        self.error = error

    def fail(self, field: str, problem: str) -> NoReturn:
        raise self.error(self.source, f"{field}: {problem}" if field else problem)

    def child(self, field: str, key: str | int) -> str:
        return _where(field, key)

    def object(self, value: object, field: str, *, required: Iterable[str] = (),
               optional: Iterable[str] | None = None, max_items: int = 10_000) -> dict:
        """A JSON object (dict) with string keys; ``optional`` None allows any further keys."""
        required = tuple(required)
        if not isinstance(value, dict):
            keys = f' with {", ".join(map(repr, required))}' if required else ""
            self.fail(field, f"must be an object{keys}, got {_kind(value)}")
        missing = [key for key in required if key not in value]
        if missing:
            self.fail(field, f"must have {', '.join(map(repr, missing))}")
        if optional is not None:
            unknown = sorted(set(value) - set(required) - set(optional))
            if unknown:
                known = ", ".join(sorted({*required, *optional}))
                known = known if len(known) <= 160 else known[:150].rsplit(", ", 1)[0] + ", ..."
                self.fail(field, f"unknown keys {show(unknown)}; known: {known}")
        if len(value) > max_items:
            self.fail(field, f"has {len(value)} entries; at most {max_items}")
        return value

    def array(self, value: object, field: str, *, min_items: int = 0, max_items: int = 1_000_000) -> list:
        """A JSON array (list) of ``min_items`` to ``max_items`` entries."""
        if not isinstance(value, list):
            self.fail(field, f"must be a list, got {_kind(value)}")
        if len(value) < min_items:
            self.fail(field, f"must have at least {min_items} {'entry' if min_items == 1 else 'entries'}, "
                             f"has {len(value)}")
        if len(value) > max_items:
            self.fail(field, f"must have at most {max_items} entries, has {len(value)}")
        return value

    def number(self, value: object, field: str, *, low: float = -math.inf, high: float = math.inf,
               integer: bool = False, text: bool = False) -> float:
        """A finite number in [low, high] (``integer``: a whole number); ``text``: parse a string
        such as a CSV cell first."""
        if text and isinstance(value, str):
            value = _parse_number(value, integer)
        problem = number_problem(value, low=low, high=high, integer=integer)
        if problem is not None:
            self.fail(field, f"{problem}, got {show(value)}")
        return value  # type: ignore[return-value]

    def string(self, value: object, field: str, *, choices: Iterable[str] | None = None,
               max_chars: int = 1000, pattern: re.Pattern[str] | None = None) -> str:
        """A string of at most ``max_chars`` characters, one of ``choices`` or matching ``pattern``."""
        if not isinstance(value, str):
            self.fail(field, f"must be a string, got {_kind(value)}")
        if len(value) > max_chars:
            self.fail(field, f"must be at most {max_chars} characters, has {len(value)}")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            self.fail(field, "is not valid text (lone surrogate escape)")
        if choices is not None:
            options = tuple(choices)
            if value not in options:
                self.fail(field, f"must be one of {', '.join(options)}; got {show(value)}")
        if pattern is not None and not pattern.fullmatch(value):
            self.fail(field, f"{show(value)} does not match {pattern.pattern}")
        return value

    def boolean(self, value: object, field: str) -> bool:
        if not isinstance(value, bool):
            self.fail(field, f"must be true or false, got {_kind(value)}")
        return value

    def table(self, rows: object, field: str, *, columns: int, low: Sequence[float] | float = -math.inf,
              high: Sequence[float] | float = math.inf, text: bool = False, min_rows: int = 1) -> np.ndarray:
        """(R, columns) float64 array from a list of rows of numbers (``text``: of number strings,
        e.g. CSV cells); every value finite and within ``low``/``high`` (scalars or per column).
        The first bad cell is named: "frames[12][3]: must be a number from 0 to 1, got 7.0"."""
        rows = self.array(rows, field, min_items=min_rows)
        table = np.empty((len(rows), columns), np.float64)
        for index, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != columns:
                self.fail(_where(field, index), f"must be a row of {columns} numbers, got {_kind(row)}")
            try:
                table[index] = [_table_cell(v, text) for v in row]
            except (TypeError, ValueError):
                for column, cell in enumerate(row):
                    self.number(cell, _where(_where(field, index), column), text=text)
                self.fail(_where(field, index), "must hold only numbers")  # pragma: no cover
        low_bound = np.broadcast_to(np.asarray(low, np.float64), (columns,))
        high_bound = np.broadcast_to(np.asarray(high, np.float64), (columns,))
        bad = ~(np.isfinite(table) & (table >= low_bound) & (table <= high_bound))
        if bad.any():
            index, column = (int(i) for i in np.argwhere(bad)[0])
            self.number(float(table[index, column]), _where(_where(field, index), column),
                        low=float(low_bound[column]), high=float(high_bound[column]))
        return table


def _table_cell(value: object, text: bool) -> float:
    if text and isinstance(value, str):
        value = _parse_number(value, integer=False)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("not a number")
    return float(value)


_DECIMAL = re.compile(r"[ \t]*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d{1,4})?[ \t]*", re.ASCII)
_WHOLE = re.compile(r"[ \t]*[-+]?\d+[ \t]*", re.ASCII)


def _parse_number(text: str, integer: bool) -> object:
    """The number written in ``text`` (plain decimal notation, at most 100 characters), or ``text``
    itself when it is not one (so that the caller names it)."""
    if len(text) > 100 or not _DECIMAL.fullmatch(text):
        return text
    return int(text) if integer and _WHOLE.fullmatch(text) else float(text)


def _kind(value: object) -> str:
    """What a JSON value is, for messages: "a string '0'", "a list", "an object", "true"."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, str):
        return f"a string {show(value)}"
    return show(value)
