"""Render single jobs on a Ray cluster from a long-running process (``talkingface serve --ray-address``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from talkingface.batch import worker
from talkingface.batch.runner import connect_ray
from talkingface.errors import TalkingFaceError

POLL_S = 0.25


class RayRenderer:
    """``renderer(avatar, audio_path, output_path, options, progress, drive_path) -> duration_s`` on Ray
    (the signature of talkingface.server.jobs.Render).

    The audio (and driving video) go to the worker as bytes and the MP4 comes back as bytes (written atomically to
    ``output_path``), so the cluster needs no file system shared with this process. ``progress`` is
    called every POLL_S with the frames the worker last reported (through a ProgressBoard actor);
    when it raises (a cancelled job) the task is cancelled and the exception re-raised. Input errors
    are re-raised as themselves.
    """

    def __init__(self, address: str, *, threads: int = 1, retries: int = 1) -> None:
        self._ray, self._connected = connect_ray(address)
        environment = {"env_vars": worker.thread_environment(threads)}
        self._task = self._ray.remote(worker.render_to_bytes).options(
            num_cpus=threads, max_retries=retries, runtime_env=environment)
        self._threads = threads
        self._board = worker.progress_board(self._ray)

    def __call__(self, avatar: Any, audio: Path | None, output: Path, options: Any,
                 progress: Callable[[int, int], None], drive: Path | None = None) -> float:
        from talkingface.media import atomic_output

        ray = self._ray
        files = {role: (Path(path).name, Path(path).read_bytes())
                 for role, path in (("audio", audio), ("drive", drive)) if path is not None}
        key = uuid.uuid4().hex
        ref = self._task.remote(avatar, files, options, self._threads, self._board, key)
        try:
            while not ray.wait([ref], timeout=POLL_S)[0]:
                progress(*self._frames(key))
            data, duration_s = ray.get(ref)
            progress(*self._frames(key))
        except ray.exceptions.RayTaskError as error:
            if isinstance(error.cause, TalkingFaceError):
                raise error.cause from None
            raise
        except BaseException:
            ray.cancel(ref)
            raise
        finally:
            self._board.forget.remote(key)
        with atomic_output(output) as temporary:
            Path(temporary).write_bytes(data)
        return duration_s

    def _frames(self, key: str) -> tuple[int, int]:
        """(done, total) frames the job last reported; (0, 0) before its first report."""
        try:
            return self._ray.get(self._board.frames.remote(), timeout=5).get(key, (0, 0))
        except (self._ray.exceptions.RayError, TimeoutError):
            return 0, 0

    def close(self) -> None:
        """Disconnect from the cluster if this renderer connected (a connection it found is kept)."""
        if self._connected:
            self._ray.shutdown()
            self._connected = False
