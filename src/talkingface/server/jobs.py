"""Jobs: a bounded queue in front of a thread pool running renders (``talkingface.animate``) and
dubs (``talkingface.dub_video``).

Each job owns one folder ``<root>/<uuid hex>/`` holding its uploads and, when done, ``video.mp4``.
Job ids are validated as 32 lowercase hex digits before any path is built from them, and the
folder is removed when the job is deleted, evicted (too many kept, or older than the TTL) or when
the manager shuts down.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from talkingface.dub import DubOptions, dub_video
from talkingface.errors import TalkingFaceError
from talkingface.face.avatar import Avatar
from talkingface.pipeline import AnimateOptions, animate

JOB_ID = re.compile(r"^[0-9a-f]{32}$")
Render = Callable[[Avatar, Path | None, Path, AnimateOptions, Callable[[int, int], None], Path | None], float]
"""(avatar, audio, output, options, progress, driving video) -> duration of the video written, s."""
STATES = ("queued", "running", "done", "failed", "cancelled")
VIDEO_NAME = "video.mp4"
Work = Callable[[Path, Callable[[int, int], None]], float]
"""What a job runs: (output, progress) -> duration of the video written, s."""


class QueueFullError(TalkingFaceError, RuntimeError):
    """Too many jobs are queued or running; try again later."""


class JobCancelled(TalkingFaceError, RuntimeError):
    """Raised inside a running render when its job is cancelled."""


class InvalidJobId(TalkingFaceError, ValueError):
    """A job id that is not 32 lowercase hex digits (never turned into a path)."""


class UnknownJob(TalkingFaceError, KeyError):
    """No job has this id."""


@dataclass(frozen=True)
class JobInfo:
    """A snapshot of a job: id; state (one of STATES); done/total frames; progress in [0, 1];
    error (message, for failed jobs); created/started/finished (Unix times, s); duration_s of the
    video; options (the request's options)."""

    id: str
    state: str
    done: int
    total: int
    progress: float
    error: str | None
    created: float
    started: float | None
    finished: float | None
    duration_s: float | None
    options: dict


@dataclass
class _Job:
    id: str
    folder: Path
    summary: dict
    state: str = "queued"
    done: int = 0
    total: int = 0
    error: str | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    duration_s: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    def snapshot(self) -> JobInfo:
        progress = 1.0 if self.state == "done" else (self.done / self.total if self.total else 0.0)
        return JobInfo(id=self.id, state=self.state, done=self.done, total=self.total,
                       progress=round(progress, 4), error=self.error, created=self.created,
                       started=self.started, finished=self.finished, duration_s=self.duration_s,
                       options=dict(self.summary))


def check_job_id(job_id: str) -> str:
    """The id itself if it is 32 lowercase hex digits; InvalidJobId otherwise."""
    if not isinstance(job_id, str) or not JOB_ID.match(job_id):
        raise InvalidJobId(f"invalid job id {job_id[:80]!r}: must be 32 lowercase hex digits")
    return job_id


def dub_here(video: Path, audio: Path, output: Path, options: DubOptions, progress: Callable[[int, int], None]
             ) -> float:
    """A dub job: in this process."""
    return dub_video(video, audio, output, options, progress=progress).duration_s


def render_here(avatar: Avatar, audio: Path | None, output: Path, options: AnimateOptions,
                progress: Callable[[int, int], None], drive: Path | None = None) -> float:
    """The default Render: in this process (talkingface.batch.remote.RayRenderer renders on Ray)."""
    return animate(avatar, audio, output, options, drive=drive, progress=progress).duration_s


class JobManager:
    """Queue, run, report, cancel and clean up render jobs.

    root: folder of the job folders (created); workers: renders at once; max_queued: jobs waiting
    beyond those running; max_kept: finished jobs kept; ttl_s: how long a finished job is kept;
    render: what runs one job (default: in this process).
    """

    def __init__(self, root: Path, *, workers: int, max_queued: int, max_kept: int, ttl_s: float,
                 render: Render = render_here) -> None:
        self.root = Path(root)
        self._render = render
        self.root.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="talkingface-job")
        self._capacity = workers + max_queued
        self._max_kept = max_kept
        self._ttl_s = ttl_s
        self._jobs: OrderedDict[str, _Job] = OrderedDict()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------ folders

    def new_folder(self) -> tuple[str, Path]:
        """A fresh job id and its (created) folder, for the request to save its uploads into."""
        job_id = uuid.uuid4().hex
        folder = self._folder(job_id)
        folder.mkdir()
        return job_id, folder

    def _folder(self, job_id: str) -> Path:
        folder = (self.root / check_job_id(job_id)).resolve()
        if folder.parent != self.root.resolve():  # belt and braces: never outside the root
            raise InvalidJobId(f"invalid job id {job_id!r}")
        return folder

    def discard_folder(self, job_id: str) -> None:
        shutil.rmtree(self._folder(job_id), ignore_errors=True)

    # ------------------------------------------------------------------------------ jobs

    def check_capacity(self) -> None:
        """Raise QueueFullError when no job can be accepted now."""
        with self._lock:
            self._evict()
            busy = sum(job.state in ("queued", "running") for job in self._jobs.values())
        if busy >= self._capacity:
            raise QueueFullError(f"the render queue is full ({busy} jobs queued or running); "
                                 "try again later")

    def submit(self, job_id: str, avatar: Avatar, audio: Path | None, options: AnimateOptions,
               summary: dict, drive: Path | None = None) -> JobInfo:
        """Queue a render of ``avatar`` speaking ``audio`` (a file in the job's folder), or performing
        the driving video ``drive`` (also in the job's folder; its soundtrack when audio is None)."""
        def work(output: Path, progress: Callable[[int, int], None]) -> float:
            return self._render(avatar, audio, output, options, progress, drive)

        return self._submit(job_id, work, summary, [p for p in (audio, drive) if p is not None])

    def submit_dub(self, job_id: str, video: Path, audio: Path, options: DubOptions, summary: dict) -> JobInfo:
        """Queue a dub of ``video`` to the speech ``audio`` (both files in the job's folder)."""
        return self._submit(job_id, lambda output, progress: dub_here(video, audio, output, options, progress),
                            summary, [video, audio])

    def _submit(self, job_id: str, work: Work, summary: dict, uploads: list[Path]) -> JobInfo:
        self.check_capacity()
        job = _Job(id=job_id, folder=self._folder(job_id), summary=summary)
        with self._lock:
            self._jobs[job_id] = job
        self._pool.submit(self._run, job, work, uploads)
        return job.snapshot()

    def get(self, job_id: str) -> JobInfo:
        return self._job(job_id).snapshot()

    def list(self) -> list[JobInfo]:
        with self._lock:
            self._evict()
            return [job.snapshot() for job in reversed(self._jobs.values())]

    def video(self, job_id: str) -> Path | None:
        """Path of a finished job's MP4, None while it is not done."""
        job = self._job(job_id)
        return job.folder / VIDEO_NAME if job.state == "done" else None

    def cancel(self, job_id: str) -> JobInfo:
        """Stop a queued or running job (a running render stops at its next frame)."""
        job = self._job(job_id)
        with self._lock:
            if job.state in ("queued", "running"):
                job.cancel.set()
                if job.state == "queued":  # never started: nothing else will clean up
                    self._finish(job, "cancelled")
                    shutil.rmtree(job.folder, ignore_errors=True)
        return job.snapshot()

    def delete(self, job_id: str) -> None:
        """Cancel a job and remove it and its files."""
        job = self._job(job_id)
        job.cancel.set()
        with self._lock:
            self._jobs.pop(job_id, None)
        if job.state != "running":  # a running job removes its folder when it stops
            shutil.rmtree(job.folder, ignore_errors=True)

    def shutdown(self) -> None:
        """Cancel everything, wait for running renders to stop, remove every job folder."""
        with self._lock:
            jobs = list(self._jobs.values())
            self._jobs.clear()
        for job in jobs:
            job.cancel.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        for job in jobs:
            shutil.rmtree(job.folder, ignore_errors=True)

    # ------------------------------------------------------------------------------ internals

    def _job(self, job_id: str) -> _Job:
        check_job_id(job_id)
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise UnknownJob(f"no job {job_id}")
        return job

    def _finish(self, job: _Job, state: str, error: str | None = None) -> None:
        job.state, job.error, job.finished = state, error, time.time()

    def _evict(self) -> None:
        """Drop finished jobs beyond max_kept or past the TTL (call with the lock held)."""
        now = time.time()
        finished = [job for job in self._jobs.values() if job.finished is not None]
        excess = len(finished) - self._max_kept
        for job in finished:
            if excess > 0 or now - job.finished > self._ttl_s:
                self._jobs.pop(job.id, None)
                shutil.rmtree(job.folder, ignore_errors=True)
                excess -= 1

    def _run(self, job: _Job, work: Work, uploads: list[Path]) -> None:
        with self._lock:
            if job.cancel.is_set() or job.state != "queued":
                shutil.rmtree(job.folder, ignore_errors=True)
                return
            job.state, job.started = "running", time.time()

        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total
            if job.cancel.is_set():
                raise JobCancelled(f"job {job.id} cancelled")

        try:
            duration_s = work(job.folder / VIDEO_NAME, progress)
        except JobCancelled:
            self._finish(job, "cancelled")
        except Exception as error:  # noqa: BLE001 - any failure is reported on the job, not raised
            self._finish(job, "failed", f"{type(error).__name__}: {error}")
        else:
            job.duration_s = duration_s
            self._finish(job, "done")
        finally:
            for upload in uploads:
                upload.unlink(missing_ok=True)
            with self._lock:
                removed = job.id not in self._jobs
            if removed or job.state == "cancelled":
                shutil.rmtree(job.folder, ignore_errors=True)
