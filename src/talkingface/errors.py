"""Errors raised by talkingface.

Every error subclasses the matching builtin (``ValueError``, ``FileNotFoundError``, ...) so callers
can catch either, and every message names the offending file or value and the problem.
"""

from __future__ import annotations

import os
import reprlib

_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 3, 60, 60
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 6


def show(value: object) -> str:
    """A short repr of ``value`` for error messages: strings and containers are cut, huge integers
    described, deep nesting elided, so that a message never grows with a hostile input."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
    try:
        return _SHORT.repr(value)
    except (ValueError, RecursionError):  # e.g. a huge integer inside a list
        return f"a {type(value).__name__}"


class TalkingFaceError(Exception):
    """Base class of every error talkingface raises on purpose."""


class OptionError(TalkingFaceError, ValueError):
    """An option has a value outside its allowed range: ``OptionError("fps", 0, "must be > 0")``."""

    def __init__(self, name: str, value: object, problem: str) -> None:
        self.name, self.value, self.problem = name, value, problem
        super().__init__(f"option {name}={show(value)}: {problem}")


class InputNotFoundError(TalkingFaceError, FileNotFoundError):
    """An input file does not exist or is not a regular file."""

    def __init__(self, path: str | os.PathLike[str], problem: str = "no such file") -> None:
        self.path, self.problem = os.fspath(path), problem
        super().__init__(f"{self.path}: {problem}")

    def __str__(self) -> str:  # FileNotFoundError would otherwise format errno fields
        return f"{self.path}: {self.problem}"


class InputFileError(TalkingFaceError, ValueError):
    """An input file exists but its content cannot be used; names the file and the problem."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path, self.problem = os.fspath(path), problem
        super().__init__(f"{self.path}: {problem}")


class ImageError(InputFileError):
    """The portrait image is unreadable, corrupt, too large or of an unsupported kind."""


class NoFaceError(ImageError):
    """No face was found in the portrait."""


class FaceTooSmallError(ImageError):
    """The face in the portrait is too small to animate."""


class AudioError(InputFileError):
    """The audio is unreadable, corrupt, empty, silent or too long."""


class MotionFileError(InputFileError):
    """A motion timeline file is malformed."""


class OutputPathError(TalkingFaceError, ValueError):
    """The output path cannot be written: it is an input, its folder is missing, or not writable."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path, self.problem = os.fspath(path), problem
        super().__init__(f"{self.path}: {problem}")
