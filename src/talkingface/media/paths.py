"""Output-path checks and atomic writes.

Nothing half-written ever appears at an output path: writers fill a hidden temporary file in the
same folder and rename it into place only when they finish.
"""

from __future__ import annotations

import os
import re
import secrets
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from talkingface.errors import InputNotFoundError, OutputPathError

PathLike = str | os.PathLike[str]


def check_input_file(path: PathLike, kind: str) -> Path:
    """``path`` as a Path if it is an existing regular file; InputNotFoundError naming it otherwise.

    kind: what the file should be, for the message, e.g. "an image file".
    """
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(path, "no such file")
    if path.is_dir():
        raise InputNotFoundError(path, f"is a directory, not {kind}")
    if not path.is_file():
        raise InputNotFoundError(path, "is not a regular file")
    return path


def check_output_path(
    output: PathLike,
    *,
    inputs: Sequence[PathLike] = (),
    suffixes: Sequence[str] | None = (".mp4",),
) -> Path:
    """Check that ``output`` can be written and return it resolved.

    Parameters
    ----------
    output : path
        The file to write (``~`` is expanded).
    inputs : sequence of paths, keyword-only
        Input files that must not be overwritten (compared by resolved path and by
        ``os.path.samefile``, so hard links and symlinks count).
    suffixes : sequence of str or None, keyword-only
        Allowed suffixes (case-insensitive); ``None`` allows any.

    Raises
    ------
    OutputPathError
        The output is one of the inputs, is a directory, its folder is missing, not a folder or not
        writable, or its suffix is not allowed.
    """
    path = Path(output).expanduser().resolve()
    for inp in inputs:
        if _same_file(path, Path(inp).expanduser()):
            raise OutputPathError(path, f"is also an input ({os.fspath(inp)}); choose another output file")
    if path.is_dir():
        raise OutputPathError(path, "is a directory; give a file name")
    parent = path.parent
    if not parent.exists():
        raise OutputPathError(path, f"folder {parent} does not exist")
    if not parent.is_dir():
        raise OutputPathError(path, f"{parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(path, f"folder {parent} is not writable")
    if suffixes is not None and path.suffix.lower() not in {s.lower() for s in suffixes}:
        allowed = ", ".join(suffixes)
        raise OutputPathError(path, f"has suffix {path.suffix or '(none)'!r}; expected {allowed}")
    return path


def _same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` name the same file (resolved path or same inode)."""
    if a == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


class AtomicFile:
    """A hidden temporary file next to ``path``, renamed onto ``path`` by :meth:`commit`.

    The temporary name keeps the suffix (``.out.mp4.tmp-1a2b3c4d.mp4``) so that muxers that guess
    the format from the name still pick the right one. The file is created with the usual
    permissions (``0o666`` less the umask), as a plain ``open`` would.
    """

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        self.temp = self._create_temp()
        self._done = False
        # a file never committed nor discarded (its owner vanished) is deleted when collected or at exit
        self._finalizer = weakref.finalize(self, _remove, self.temp)

    @staticmethod
    def _temp_name(path: Path, tag: str) -> Path:
        return path.with_name(f".{path.name}.tmp-{tag}{path.suffix}")

    @classmethod
    def leftovers(cls, path: PathLike) -> list[Path]:
        """Temporary files of ``path`` left by writers that were killed before they could clean up."""
        path = Path(path)
        pattern = re.compile(re.escape(cls._temp_name(path, "TAG").name).replace("TAG", "[0-9a-f]{8}"))
        try:
            return sorted(p for p in path.parent.iterdir() if pattern.fullmatch(p.name))
        except OSError:  # the folder is missing or unreadable: nothing of ours is there
            return []

    def _create_temp(self) -> Path:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        for _ in range(100):
            temp = self._temp_name(self.path, secrets.token_hex(4))
            try:
                os.close(os.open(temp, flags, 0o666))
            except FileExistsError:
                continue
            except OSError as err:
                raise OutputPathError(self.path, f"cannot create a file in its folder: {err.strerror}") from err
            return temp
        raise OutputPathError(self.path, "cannot find a free temporary name in its folder")

    def commit(self) -> None:
        """Rename the temporary file onto ``path`` (atomic on one file system)."""
        if self._done:
            return
        try:
            os.replace(self.temp, self.path)
        except OSError as err:
            self.discard()
            raise OutputPathError(self.path, f"cannot be written: {err.strerror}") from err
        self._done = True
        self._finalizer.detach()

    def discard(self) -> None:
        """Delete the temporary file; ``path`` is left untouched."""
        self._done = True
        self._finalizer.detach()
        _remove(self.temp)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


@contextmanager
def atomic_output(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is deleted and the exception re-raised, so nothing
    half-written is ever left at ``path`` (an existing file there stays as it was).

    Examples
    --------
    >>> with atomic_output("out.png") as tmp:  # doctest: +SKIP
    ...     image.save(tmp)
    """
    atomic = AtomicFile(path)
    try:
        yield atomic.temp
    except BaseException:
        atomic.discard()
        raise
    atomic.commit()
