"""Read and validate a batch manifest: CSV or JSON Lines, one job per row.

    jobs = load_manifest("jobs.csv")     # list[JobSpec]; ManifestError before anything is rendered

Columns: the kind's input files (``portrait``, ``audio`` and/or ``drive`` for a render), an optional ``output`` name
(relative to the output folder), and options by their ``talkingface render`` long names (``seed``,
``emotion``, ``full-frame``, ...; ``_`` may stand for ``-``). Input paths are relative to the
manifest's folder unless absolute. Reading is bounded (file size, rows, columns, cell length) and JSON
values must be scalars (a list of numbers is allowed, e.g. ``"gaze": [0.3, 0]``).

Problems with the manifest itself (unknown column, bad value, duplicate output) raise ManifestError
naming the row and column; problems with a row's side files (a missing transcript file, a malformed
keyframe file) do not stop the batch: that job gets a ``problem`` and is reported as failed.
"""

from __future__ import annotations

import csv
import difflib
import io
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from talkingface.batch.kinds import KINDS, PLANNED_KINDS, JobKind, RowValueError
from talkingface.errors import InputFileError, InputNotFoundError, OptionError, TalkingFaceError
from talkingface.media.structured import Limits, parse_json, read_bounded
from talkingface.media.writer import VIDEO_SUFFIXES

MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_ROWS = 100_000
MAX_COLUMNS = 64
MAX_CELL_CHARS = 65_536
MAX_LIST_ITEMS = 16
JSON_ROW_LIMITS = Limits(max_bytes=MAX_COLUMNS * (MAX_CELL_CHARS + 100), max_depth=3)
"""One JSON Lines job: an object of scalars or short lists (media.structured bounds the parse)."""
SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
OUTPUT_COLUMN = "output"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class ManifestError(InputFileError):
    """The manifest cannot be used; names the file, and the row (line) and column where it can.

    An InputFileError taking (path, problem) like the others, so any loader can raise it."""

    def __init__(self, path: str | os.PathLike[str], problem: str, *, row: int | None = None,
                 line: int | None = None, column: str | None = None) -> None:
        super().__init__(path, problem)
        self.row, self.line, self.column = row, line, column
        where = [f"row {row}" + (f" (line {line})" if line else "")] if row else ([f"line {line}"] if line else [])
        where += [f"column {column!r}"] if column else []
        self.args = (": ".join([self.path, *([", ".join(where)] if where else []), problem]),)


@dataclass(frozen=True)
class JobSpec:
    """One validated job of a manifest.

    row: 1-based job number; line: the manifest line it ends on; kind: a key of KINDS;
    inputs: input column -> absolute path; output: path relative to the output folder;
    request: the kind's validated options (AnimateOptions etc., see kinds.py);
    problem: set when a side file of the row is unusable (the job fails without running).
    """

    row: int
    line: int
    kind: str
    inputs: dict[str, Path]
    output: PurePosixPath
    request: Any
    problem: str | None = None


def load_manifest(path: str | os.PathLike[str]) -> list[JobSpec]:
    """Read, bound and validate a manifest (.csv, .jsonl or .ndjson) -> its jobs, in file order.

    Raises InputNotFoundError (no such file), ManifestError (anything wrong inside it).
    """
    path = Path(path).expanduser()
    rows = read_rows(path)
    base = path.resolve().parent
    jobs = [_job(path, base, row, line, values) for row, (line, values) in enumerate(rows, start=1)]
    _check_unique_outputs(path, jobs)
    return jobs


def read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """The manifest's rows as (line, {normalised column: text value}), empty values left out."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ManifestError(path, f"unknown manifest type {path.suffix or '(none)'!r}; "
                                  f"expected one of {', '.join(SUFFIXES)}")
    text = _read_text(path)
    rows = _csv_rows(path, text) if kind == "csv" else _jsonl_rows(path, text)
    if not rows:
        raise ManifestError(path, "has no jobs")
    return rows


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise InputNotFoundError(path, "no such manifest file" if not path.exists() else "is not a file")
    data = read_bounded(path, limits=Limits(max_bytes=MAX_MANIFEST_BYTES), error=ManifestError,
                        kind="a manifest; split it")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ManifestError(path, "is not UTF-8 text", line=line) from error


def _column(path: Path, name: object, line: int) -> str:
    """A column name normalised: stripped, lower case, '_' -> '-'."""
    if not isinstance(name, str) or not name.strip():
        raise ManifestError(path, "has an empty column name", line=line)
    return name.strip().lower().replace("_", "-")


def _csv_rows(path: Path, text: str) -> list[tuple[int, dict[str, str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        header = next(reader, None)
        if header is None:
            raise ManifestError(path, "is empty; the first line must name the columns")
        columns = [_column(path, name, 1) for name in header]
        _check_columns(path, columns, line=1)
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(columns):
                raise ManifestError(path, f"has {len(cells)} values but the header names {len(columns)} columns",
                                    row=len(rows) + 1, line=reader.line_num)
            values = {c: cell.strip() for c, cell in zip(columns, cells) if cell.strip()}
            rows.append((reader.line_num, _bounded(path, values, len(rows) + 1, reader.line_num)))
    except csv.Error as error:
        raise ManifestError(path, f"is not valid CSV ({error})", line=reader.line_num) from error
    return rows


def _jsonl_rows(path: Path, text: str) -> list[tuple[int, dict[str, str]]]:
    rows: list[tuple[int, dict[str, str]]] = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        row = len(rows) + 1
        document = parse_json(raw, source=os.fspath(path), limits=JSON_ROW_LIMITS,
                              error=lambda source, problem: ManifestError(source, problem, row=row, line=line))
        if not isinstance(document, dict):
            raise ManifestError(path, "must be a JSON object with one job", row=row, line=line)
        columns = [_column(path, name, line) for name in document]
        _check_columns(path, columns, line=line)
        values = {}
        for column, value in zip(columns, document.values()):
            text_value = _json_value(path, value, row, line, column)
            if text_value:
                values[column] = text_value
        rows.append((line, _bounded(path, values, row, line)))
    return rows


def _json_value(path: Path, value: object, row: int, line: int, column: str) -> str:
    """A JSON scalar (or short list of numbers) as the text a CSV cell would hold; '' for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value).strip()
    if (isinstance(value, list) and len(value) <= MAX_LIST_ITEMS
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        return ",".join(str(v) for v in value)
    raise ManifestError(path, "must be a string, number, true/false or a short list of numbers "
                              f"(got {type(value).__name__})", row=row, line=line, column=column)


def _check_columns(path: Path, columns: list[str], *, line: int) -> None:
    if len(columns) > MAX_COLUMNS:
        raise ManifestError(path, f"has {len(columns)} columns; at most {MAX_COLUMNS}", line=line)
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise ManifestError(path, "appears twice", line=line, column=column)
        seen.add(column)
        if column not in known_columns():
            close = difflib.get_close_matches(column, sorted(known_columns()), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known columns: {', '.join(sorted(known_columns()))}"
            raise ManifestError(path, f"unknown column{hint}", line=line, column=column)


def _bounded(path: Path, values: dict[str, str], row: int, line: int) -> dict[str, str]:
    if row > MAX_ROWS:
        raise ManifestError(path, f"has more than {MAX_ROWS} jobs; split it", row=row, line=line)
    for column, value in values.items():
        if len(value) > MAX_CELL_CHARS:
            raise ManifestError(path, f"value is longer than {MAX_CELL_CHARS} characters",
                                row=row, line=line, column=column)
    return values


def known_columns() -> set[str]:
    """Every column some job kind accepts (planned kinds' marker columns included, to be rejected clearly)."""
    columns = {OUTPUT_COLUMN, *PLANNED_KINDS}
    for kind in KINDS.values():
        columns |= {*kind.inputs, *kind.option_columns()}
        if kind.marker:
            columns.add(kind.marker)
    return columns


def _kind_of(path: Path, values: dict[str, str], row: int, line: int) -> JobKind:
    for column, what in PLANNED_KINDS.items():
        if column in values:
            raise ManifestError(path, f"{what} are not supported by talkingface batch yet",
                                row=row, line=line, column=column)
    marked = [kind for kind in KINDS.values() if kind.marker and kind.marker in values]
    if len(marked) > 1:
        raise ManifestError(path, f"a row is one job: columns {[k.marker for k in marked]} select different kinds",
                            row=row, line=line)
    if marked:
        return marked[0]
    return next(kind for kind in KINDS.values() if kind.marker is None)


def _job(path: Path, base: Path, row: int, line: int, values: dict[str, str]) -> JobSpec:
    kind = _kind_of(path, values, row, line)
    allowed = {OUTPUT_COLUMN, *kind.inputs, *kind.option_columns(), *([kind.marker] if kind.marker else [])}
    for column in values:
        if column not in allowed:
            raise ManifestError(path, f"is not an option of {kind.name} jobs", row=row, line=line, column=column)
    for group in kind.required:
        if not any(column in values for column in group):
            need = "a value here" if len(group) == 1 else f"a value here or in {', '.join(map(repr, group[1:]))}"
            raise ManifestError(path, f"{kind.name} jobs need {need}", row=row, line=line, column=group[0])
    inputs = {column: _input_path(base, values[column]) for column in kind.inputs if column in values}
    output = _output_name(path, values.get(OUTPUT_COLUMN) or kind.default_output(inputs), row, line)
    options = _flags_checked(path, kind, {c: v for c, v in values.items() if c in kind.option_columns()}, row, line)
    problem = None
    try:
        request = kind.parse(options, base)
    except RowValueError as error:
        raise ManifestError(path, error.problem, row=row, line=line, column=error.column) from error
    except OptionError as error:
        column = error.name.replace("_", "-")
        raise ManifestError(path, str(error), row=row, line=line,
                            column=column if column in options else None) from error
    except TalkingFaceError as error:  # a side file (transcript, keyframes) is unusable: this job fails
        request, problem = None, str(error)
    return JobSpec(row=row, line=line, kind=kind.name, inputs=inputs, output=output, request=request,
                   problem=problem)


def _flags_checked(path: Path, kind: JobKind, options: dict[str, str], row: int, line: int) -> dict[str, str]:
    """Options with on/off flags reduced to 'true'/'false' (ManifestError for other values)."""
    out = dict(options)
    for column in kind.flag_columns() & set(options):
        value = options[column].lower()
        if value not in _TRUE + _FALSE:
            raise ManifestError(path, f"expected true or false, got {options[column]!r}",
                                row=row, line=line, column=column)
        out[column] = "true" if value in _TRUE else "false"
    return out


def _input_path(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _output_name(path: Path, value: str, row: int, line: int) -> PurePosixPath:
    name = PurePosixPath(value.replace("\\", "/"))
    if name.is_absolute() or ".." in name.parts or not name.parts or name.name.startswith("."):
        raise ManifestError(path, f"{value!r} must be a file name inside the output folder",
                            row=row, line=line, column=OUTPUT_COLUMN)
    if name.suffix.lower() not in VIDEO_SUFFIXES:
        raise ManifestError(path, f"{value!r} must end in one of {', '.join(VIDEO_SUFFIXES)}",
                            row=row, line=line, column=OUTPUT_COLUMN)
    return name


def _check_unique_outputs(path: Path, jobs: list[JobSpec]) -> None:
    first: dict[str, JobSpec] = {}
    for job in jobs:
        key = job.output.as_posix().casefold()
        if key in first:
            raise ManifestError(path, f"output {job.output.as_posix()!r} is also the output of row "
                                      f"{first[key].row}; give each job its own output name",
                                row=job.row, line=job.line, column=OUTPUT_COLUMN)
        first[key] = job
