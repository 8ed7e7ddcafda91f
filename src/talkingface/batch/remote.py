"""Render single jobs on a Ray cluster from a long-running process (``talkingface serve --ray-address``)."""

from __future__ import annotations

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
    called every POLL_S with (0, 0) (no frame counts cross); when it raises (a cancelled job) the
    task is cancelled and the exception re-raised. Input errors are re-raised as themselves.
    """

    def __init__(self, address: str, *, threads: int = 1, retries: int = 1) -> None:
        self._ray, self._connected = connect_ray(address)
        environment = {"env_vars": worker.thread_environment(threads)}
        self._task = self._ray.remote(worker.render_to_bytes).options(
            num_cpus=threads, max_retries=retries, runtime_env=environment)
        self._threads = threads

    def __call__(self, avatar: Any, audio: Path | None, output: Path, options: Any,
                 progress: Callable[[int, int], None], drive: Path | None = None) -> float:
        from talkingface.media import atomic_output

        ray = self._ray
        files = {role: (Path(path).name, Path(path).read_bytes())
                 for role, path in (("audio", audio), ("drive", drive)) if path is not None}
        ref = self._task.remote(avatar, files, options, self._threads)
        try:
            while not ray.wait([ref], timeout=POLL_S)[0]:
                progress(0, 0)
            data, duration_s = ray.get(ref)
        except ray.exceptions.RayTaskError as error:
            if isinstance(error.cause, TalkingFaceError):
                raise error.cause from None
            raise
        except BaseException:
            ray.cancel(ref)
            raise
        with atomic_output(output) as temporary:
            Path(temporary).write_bytes(data)
        return duration_s

    def close(self) -> None:
        """Disconnect from the cluster if this renderer connected (a connection it found is kept)."""
        if self._connected:
            self._ray.shutdown()
            self._connected = False
