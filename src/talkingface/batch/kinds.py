"""Kinds of batch job: which manifest columns select and feed each, and the functions that run it.

The runner knows nothing about renders: for every job it calls its kind's functions,

    request = kind.parse(option_values, manifest_folder)        # on the driver, validates
    shared  = kind.prepare(path, request)                       # once per shared input (e.g. portrait)
    summary = kind.run(request, inputs, shared, output_path, progress)  # in a Ray worker, writes the output
    done    = kind.is_complete(request, inputs, output_path)    # resume: skip finished outputs

Two kinds: renders (``portrait`` + ``audio`` and/or ``drive``, the default) and dubs (``video`` +
``audio``, selected by the ``video`` column: ``talkingface dub``). A new kind is one more JobKind in
KINDS, selected by its marker column; until its API exists its column is listed in PLANNED_KINDS, and a
manifest that uses it is rejected with "not supported yet". (Video-driven renders are render jobs
with a ``drive`` column.)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from talkingface.errors import TalkingFaceError

PLANNED_KINDS: dict[str, str] = {}
"""Marker columns of kinds being built elsewhere -> what they are, for the "not supported yet" error."""


class RowValueError(TalkingFaceError, ValueError):
    """A manifest value that its option does not accept (column None: the row as a whole)."""

    def __init__(self, column: str | None, problem: str) -> None:
        self.column, self.problem = column, problem
        super().__init__(f"{column}: {problem}" if column else problem)


class _RowParser(argparse.ArgumentParser):
    """argparse that raises RowValueError instead of exiting, and records its options by long name."""

    def __init__(self) -> None:
        super().__init__(prog="manifest", add_help=False, allow_abbrev=False)
        self.columns: dict[str, argparse.Action] = {}

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        for option in action.option_strings:
            if option.startswith("--"):
                self.columns[option[2:]] = action
        return action

    def error(self, message: str):  # type: ignore[override]
        raise RowValueError(None, message)


@dataclass(frozen=True)
class JobKind:
    """One kind of job.

    name: shown in messages and the report; marker: the column whose value selects this kind (None:
    the default kind); inputs: the file columns the kind reads (paths relative to the manifest);
    required: groups of input columns of which each row needs at least one; add_arguments: adds the
    kind's options to an argparse parser (the other manifest columns are their long names); parse:
    (option values, manifest folder) -> validated request; default_output: inputs -> output name;
    share: (request, inputs) -> (key, input column) of what is prepared once and shared by every job
    with the same key, or None; prepare: (path, request) -> the shared object; run: (request,
    inputs, shared, output, progress(done, total)) -> summary dict (frames, duration_s, ...); is_complete: (request,
    inputs, output) -> whether an existing output is finished and valid.
    """

    name: str
    marker: str | None
    inputs: tuple[str, ...]
    required: tuple[tuple[str, ...], ...]
    add_arguments: Callable[[argparse.ArgumentParser], None]
    parse: Callable[[dict[str, str], Path], Any]
    default_output: Callable[[dict[str, Path]], str]
    share: Callable[[Any, dict[str, Path]], tuple[Hashable, str] | None]
    prepare: Callable[[Path, Any], Any]
    run: Callable[[Any, dict[str, Path], Any, Path, Callable[[int, int], None]], dict]
    is_complete: Callable[[Any, dict[str, Path], Path], bool]

    def parser(self) -> _RowParser:
        return _row_parser(self.add_arguments)

    def option_columns(self) -> frozenset[str]:
        return frozenset(self.parser().columns) - set(self.inputs)

    def flag_columns(self) -> frozenset[str]:
        """Option columns that are on/off switches (argparse store_true)."""
        return frozenset(c for c, action in self.parser().columns.items() if action.nargs == 0) - set(self.inputs)


@cache
def _row_parser(add_arguments: Callable[[argparse.ArgumentParser], None]) -> _RowParser:
    parser = _RowParser()
    add_arguments(parser)
    return parser


def parse_options(parser: _RowParser, values: dict[str, str]) -> argparse.Namespace:
    """Option values (flags already 'true'/'false') -> the namespace the command line would build."""
    namespace = parser.parse_args([])
    for column, value in values.items():
        if parser.columns[column].nargs == 0:
            argv = [f"--{column}"] if value == "true" else []
        else:
            argv = [f"--{column}={value}"]
        try:
            parser.parse_args(argv, namespace=namespace)
        except RowValueError as error:
            raise RowValueError(column, error.problem) from error
    return namespace


# ------------------------------------------------------------------------------------------ render

PATH_OPTIONS = ("keyframes", "motion")


@dataclass(frozen=True)
class RenderRequest:
    """A validated render job: AnimateOptions (transcript and keyframes read) and an optional motion file."""

    options: Any  # talkingface.pipeline.AnimateOptions
    motion: Path | None = None


def _add_render_arguments(parser: argparse.ArgumentParser) -> None:
    from talkingface.cli import add_render_arguments

    add_render_arguments(parser)


def _parse_render(values: dict[str, str], base: Path) -> RenderRequest:
    from talkingface.cli import render_options

    values = dict(values)
    for column in PATH_OPTIONS:
        if column in values:
            values[column] = str(_relative_to(base, values[column]))
    if "transcript" in values and _is_transcript_file(base, values["transcript"]):
        values["transcript"] = str(_relative_to(base, values["transcript"]))
    args = parse_options(_row_parser(_add_render_arguments), values)
    return RenderRequest(options=render_options(args), motion=Path(args.motion) if args.motion else None)


def _relative_to(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _is_transcript_file(base: Path, value: str) -> bool:
    """The rule of `talkingface render --transcript`: a value that could be a path (decided without the
    file system) and is a .txt/.lab name or an existing file is a file."""
    from talkingface.cli import TRANSCRIPT_SUFFIXES, could_be_path

    if not could_be_path(value):
        return False
    try:
        return Path(value).suffix.lower() in TRANSCRIPT_SUFFIXES or _relative_to(base, value).is_file()
    except OSError:
        return False


def _render_output(inputs: dict[str, Path]) -> str:
    return f"{inputs['portrait'].stem}-{inputs.get('audio', inputs.get('drive')).stem}.mp4"


def _share_portrait(request: RenderRequest, inputs: dict[str, Path]) -> tuple[Hashable, str]:
    return ("portrait", str(inputs["portrait"]), request.options.max_image_pixels), "portrait"


def _prepare_portrait(path: Path, request: RenderRequest) -> Any:
    from talkingface.pipeline import prepare_avatar

    return prepare_avatar(path, max_image_pixels=request.options.max_image_pixels)


def _run_render(request: RenderRequest, inputs: dict[str, Path], avatar: Any, output: Path,
                progress: Callable[[int, int], None]) -> dict:
    from talkingface.motion.io import load_motion
    from talkingface.pipeline import animate

    motion = load_motion(request.motion) if request.motion is not None else None
    result = animate(avatar, inputs.get("audio"), output, request.options, motion=motion, drive=inputs.get("drive"),
                     progress=progress)
    return {"frames": result.frames, "duration_s": round(result.duration_s, 3),
            "size": [result.width, result.height]}


def _render_complete(request: RenderRequest, inputs: dict[str, Path], output: Path) -> bool:
    from talkingface.batch.outputs import video_is_complete

    options = request.options
    size = (options.size, options.size) if options.framing == "crop" else None
    return video_is_complete(output, audio=inputs.get("audio"), drive=inputs.get("drive"), fps=options.fps, size=size,
                             inputs=[*inputs.values(), *([request.motion] if request.motion else [])],
                             max_audio_s=options.max_audio_s)


RENDER = JobKind(name="render", marker=None, inputs=("portrait", "audio", "drive"),
                 required=(("portrait",), ("audio", "drive")), add_arguments=_add_render_arguments,
                 parse=_parse_render, default_output=_render_output, share=_share_portrait,
                 prepare=_prepare_portrait, run=_run_render, is_complete=_render_complete)

# -------------------------------------------------------------------------------------------- dub


def _add_dub_options(parser: argparse.ArgumentParser) -> None:
    from talkingface.cli import add_dub_options

    add_dub_options(parser)


def _parse_dub(values: dict[str, str], base: Path) -> Any:
    """Option values -> DubOptions (a transcript file read, relative to the manifest's folder)."""
    from talkingface.cli import dub_options

    values = dict(values)
    if "transcript" in values and _is_transcript_file(base, values["transcript"]):
        values["transcript"] = str(_relative_to(base, values["transcript"]))
    return dub_options(parse_options(_row_parser(_add_dub_options), values))


def _run_dub(options: Any, inputs: dict[str, Path], _shared: Any, output: Path,
             progress: Callable[[int, int], None]) -> dict:
    from talkingface.dub import dub_video

    result = dub_video(inputs["video"], inputs["audio"], output, options, progress=progress)
    return {"frames": result.frames, "frames_dubbed": result.frames_dubbed, "duration_s": round(result.duration_s, 3),
            "size": [result.width, result.height], "no_face": [list(span) for span in result.no_face]}


def _dub_complete(options: Any, inputs: dict[str, Path], output: Path) -> bool:
    """A finished dub: newer than its inputs, decodable, with sound, as large as the video."""
    from talkingface.media import probe_video

    try:
        made = output.stat().st_mtime
        if any(path.stat().st_mtime > made for path in inputs.values()):
            return False
        info, source = probe_video(output), probe_video(inputs["video"])
        return info.has_audio and (info.width, info.height) == (source.width - source.width % 2,
                                                                source.height - source.height % 2)
    except (OSError, TalkingFaceError):
        return False


DUB = JobKind(name="dub", marker="video", inputs=("video", "audio"), required=(("video",), ("audio",)),
              add_arguments=_add_dub_options, parse=_parse_dub,
              default_output=lambda inputs: f"{inputs['video'].stem}-{inputs['audio'].stem}.mp4",
              share=lambda _options, _inputs: None, prepare=lambda _path, _options: None, run=_run_dub,
              is_complete=_dub_complete)

KINDS: dict[str, JobKind] = {RENDER.name: RENDER, DUB.name: DUB}
"""Every kind a manifest row can be, by name."""
