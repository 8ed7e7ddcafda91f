"""Server settings: one frozen, validated dataclass holding every limit that protects the machine."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from talkingface.errors import OptionError


def default_examples_dir() -> Path | None:
    """The repository's ``examples/`` folder (bundled example portrait), if this is a source checkout."""
    candidate = Path(__file__).resolve().parents[3] / "examples"
    return candidate if (candidate / "astronaut.jpg").is_file() else None


def _positive_int(name: str, value: object, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise OptionError(name, value, f"must be a whole number from 1 to {high}")


def _positive(name: str, value: object) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value <= 0:  # type: ignore[operator]
        raise OptionError(name, value, "must be a positive number")


@dataclass(frozen=True)
class ServerSettings:
    """Settings of ``talkingface serve``.

    host, port: where to listen (127.0.0.1 by default: only this machine can connect).
    data_dir: folder for uploads and rendered videos (None: a temporary folder removed at exit).
    examples_dir: folder with example portraits offered by the page (None: no examples).
    max_upload_bytes: largest request body (portrait + audio), bytes -> 413 above.
    max_image_pixels: largest portrait (width x height) -> 400 above.
    max_audio_s: longest audio of a render job, seconds -> 400 above.
    max_render_size: largest ``size`` of a render job, px.
    job_workers: render jobs run at once (threads); max_queued_jobs: jobs waiting -> 503 above.
    max_jobs_kept: finished jobs kept (the oldest are deleted with their files); job_ttl_s: a
    finished job's files are deleted this long after it ended.
    max_portraits: analysed portraits kept in memory (least recently used dropped).
    max_sessions: live WebSocket sessions at once -> closed with 1013 above.
    session_idle_s: a live session with no message for this long is closed (4408).
    max_message_bytes: largest WebSocket message the server handles (larger -> error message).
    max_live_size: largest frame size of a live session, px.
    ray_address: render jobs on this Ray cluster ("auto" or HOST:PORT; needs the ``ray`` extra)
    instead of in this process; None: here.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path | None = None
    examples_dir: Path | None = field(default_factory=default_examples_dir)
    max_upload_bytes: int = 32 * 1024 * 1024
    max_image_pixels: int = 16_000_000
    max_audio_s: float = 300.0
    max_render_size: int = 1024
    job_workers: int = 1
    max_queued_jobs: int = 8
    max_jobs_kept: int = 50
    job_ttl_s: float = 3600.0
    max_portraits: int = 16
    max_sessions: int = 2
    session_idle_s: float = 30.0
    max_message_bytes: int = 256 * 1024
    max_live_size: int = 512
    ray_address: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host:
            raise OptionError("host", self.host, "must be a host name or address")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise OptionError("port", self.port, "must be a port number from 0 to 65535")
        for name in ("data_dir", "examples_dir"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value))
        _positive_int("max_upload_bytes", self.max_upload_bytes, 2 ** 40)
        _positive_int("max_image_pixels", self.max_image_pixels, 400_000_000)
        _positive("max_audio_s", self.max_audio_s)
        _positive_int("max_render_size", self.max_render_size, 4096)
        _positive_int("job_workers", self.job_workers, 64)
        _positive_int("max_queued_jobs", self.max_queued_jobs, 10_000)
        _positive_int("max_jobs_kept", self.max_jobs_kept, 100_000)
        _positive("job_ttl_s", self.job_ttl_s)
        _positive_int("max_portraits", self.max_portraits, 10_000)
        _positive_int("max_sessions", self.max_sessions, 1000)
        _positive("session_idle_s", self.session_idle_s)
        _positive_int("max_message_bytes", self.max_message_bytes, 64 * 1024 * 1024)
        _positive_int("max_live_size", self.max_live_size, 4096)
        if self.ray_address is not None and (not isinstance(self.ray_address, str) or not self.ray_address.strip()):
            raise OptionError("ray_address", self.ray_address, 'must be "auto" or HOST:PORT')
