"""The output folder of a batch: which outputs are finished, leftovers of killed writers, one run at a time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from talkingface.errors import TalkingFaceError

LOCK_NAME = ".talkingface-batch.lock"


class OutputFolderBusy(TalkingFaceError, RuntimeError):
    """Another `talkingface batch` run is writing into the same output folder."""


def video_is_complete(output: Path, *, audio: Path | None, drive: Path | None, fps: float,
                      size: tuple[int, int] | None, inputs: Iterable[Path], max_audio_s: float) -> bool:
    """Whether ``output`` is a finished render: newer than every input, decodable headers, the frame
    rate ``fps``, the frame ``size`` (width, height; None: any) and, with ``audio``, an audio track and
    every frame of the audio's length (± 1); without, as many frames (± 1) as the driving video lasts."""
    from talkingface.audio import load_audio
    from talkingface.media import count_video_packets, probe_video
    from talkingface.motion.generate import frame_count

    try:
        made = output.stat().st_mtime
        if any(Path(p).stat().st_mtime > made for p in inputs):
            return False
        info = probe_video(output)
        if abs(info.fps - fps) > 1e-3 or (audio is not None and not info.has_audio):
            return False
        if size is not None and (info.width, info.height) != tuple(s - s % 2 for s in size):
            return False
        seconds = (load_audio(audio, max_seconds=max_audio_s).duration_s if audio is not None
                   else probe_video(drive).duration_s)
        return abs(count_video_packets(output) - frame_count(seconds, fps)) <= 1
    except (OSError, TalkingFaceError):
        return False


def remove_leftovers(outputs: Iterable[Path]) -> int:
    """Delete the temporary files that killed writers left beside ``outputs``; returns how many."""
    from talkingface.media.paths import AtomicFile

    removed = 0
    for output in outputs:
        for leftover in AtomicFile.leftovers(output):
            leftover.unlink(missing_ok=True)
            removed += 1
    return removed


@contextmanager
def output_folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (a lock file in it) so two runs never write the same outputs."""
    try:
        import fcntl
    except ImportError:  # no advisory locks on this system: proceed unlocked
        yield
        return
    handle = open(folder / LOCK_NAME, "a")  # noqa: SIM115 - closed in finally
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise OutputFolderBusy(f"{folder}: another talkingface batch run is writing here; "
                                   "wait for it or choose another output folder") from error
        yield
    finally:
        handle.close()
