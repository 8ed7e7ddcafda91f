"""What runs inside a Ray worker: thread pinning, preparing shared inputs, running one job, and the
board through which running jobs report their frames.

Plain functions (the runner wraps them with ``ray.remote``), so they run and test without Ray.
Input errors (TalkingFaceError) come back as a failed JobOutcome, never retried; anything else is
raised, and Ray retries it like a crashed worker.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from talkingface.batch.kinds import KINDS
from talkingface.batch.manifest import JobSpec
from talkingface.batch.report import JobOutcome
from talkingface.errors import TalkingFaceError

REPORT_EVERY_S = 0.5
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "NUMBA_NUM_THREADS")


def thread_environment(threads: int) -> dict[str, str]:
    """Environment of a worker process limited to ``threads`` threads (set before numpy/numba load)."""
    return {**{name: str(threads) for name in THREAD_VARIABLES}, "NUMBA_THREADING_LAYER": "workqueue"}


def pin_threads(threads: int) -> None:
    """Limit OpenCV's and numba's thread pools in this process to ``threads``."""
    import cv2
    import numba

    cv2.setNumThreads(threads)
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))


class ProgressBoard:
    """Frames done per running job, as its workers last reported them (a Ray actor, see progress_board)."""

    def __init__(self) -> None:
        self._frames: dict[str, tuple[int, int]] = {}

    def report(self, key: str, done: int, total: int) -> None:
        self._frames[key] = (done, total)

    def forget(self, key: str) -> None:
        self._frames.pop(key, None)

    def frames(self) -> dict[str, tuple[int, int]]:
        return dict(self._frames)


def progress_board(ray: Any) -> Any:
    """A ProgressBoard actor that takes no CPU slot; lives as long as this driver."""
    return ray.remote(ProgressBoard).options(num_cpus=0).remote()


def frame_reporter(board: Any, key: str, *, every_s: float = REPORT_EVERY_S):
    """A progress(done, total) callback that tells ``board`` at most every ``every_s``; the last
    frame is reported synchronously, so the board has it before the job returns."""
    import ray

    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if board is None or (done < total and now - last[0] < every_s):
            return
        last[0] = now
        try:
            call = board.report.remote(key, done, total)
            if done >= total:
                ray.get(call, timeout=10)
        except ray.exceptions.RayError:  # no board any more: the job goes on without reporting
            pass

    return progress


def prepare_shared(kind: str, path: Path, request: Any, threads: int) -> tuple[str | None, Any]:
    """(None, the prepared object) or (the error naming the file, None), e.g. an analysed portrait."""
    pin_threads(threads)
    try:
        return None, KINDS[kind].prepare(path, request)
    except TalkingFaceError as error:
        return str(error), None


def run_job(job: JobSpec, outdir: Path, shared_error: str | None, shared: Any, threads: int,
            board: Any = None) -> JobOutcome:
    """Run one job into ``outdir / job.output`` (written atomically by the kind's writer), reporting
    its frames to ``board`` under the job's row number."""
    pin_threads(threads)
    start = time.perf_counter()
    output = outdir / job.output
    outcome = {"row": job.row, "kind": job.kind, "output": str(output)}
    if shared_error is not None:
        return JobOutcome(**outcome, status="failed", error=shared_error)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        details = KINDS[job.kind].run(job.request, job.inputs, shared, output, frame_reporter(board, str(job.row)))
    except TalkingFaceError as error:
        return JobOutcome(**outcome, status="failed", seconds=time.perf_counter() - start, error=str(error))
    return JobOutcome(**outcome, status="ok", seconds=time.perf_counter() - start,
                      details={**details, "threads": _threads_in_use()})


def _threads_in_use() -> int:
    """The largest thread pool this process would use (OpenCV, numba), to show the pinning in the report."""
    import cv2
    import numba

    return max(cv2.getNumThreads(), numba.get_num_threads())


def render_to_bytes(avatar: Any, files: dict[str, tuple[str, bytes]], options: Any, threads: int,
                    board: Any = None, key: str = "") -> tuple[bytes, float]:
    """Render ``avatar`` with ``files`` ({"audio" and/or "drive": (file name, bytes)}) -> (MP4 bytes,
    duration in s), reporting frames to ``board`` under ``key``.

    For callers on other machines (the server): nothing but bytes crosses, so no shared file system
    is needed. The file names are only names (errors name them).
    """
    import tempfile

    from talkingface.pipeline import animate

    pin_threads(threads)
    with tempfile.TemporaryDirectory(prefix="talkingface-job-") as folder:
        paths = {}
        for role, (name, data) in files.items():
            paths[role] = Path(folder) / role / Path(name).name
            paths[role].parent.mkdir()
            paths[role].write_bytes(data)
        result = animate(avatar, paths.get("audio"), Path(folder) / "video.mp4", options, drive=paths.get("drive"),
                         progress=frame_reporter(board, key))
        return result.output.read_bytes(), result.duration_s
