"""Server settings: one frozen, validated dataclass holding every limit that protects the machine."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

from talkingface.errors import OptionError
from talkingface.validation import check_number


def default_examples_dir() -> Path | None:
    """The repository's ``examples/`` folder (bundled example portrait), if this is a source checkout."""
    candidate = Path(__file__).resolve().parents[3] / "examples"
    return candidate if (candidate / "astronaut.jpg").is_file() else None


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
"""Host names that only this machine can reach; always allowed in the Host header."""
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9._~+-]{16,256}")
"""A bearer token: 16-256 URL-safe characters (``secrets.token_urlsafe(32)`` makes one)."""


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` keeps the server reachable from this machine only."""
    if host.lower() in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _positive_int(name: str, value: object, high: int) -> None:
    check_number(name, value, low=1, high=high, integer=True)


def _positive(name: str, value: object) -> None:
    check_number(name, value, low=1e-6, high=1e9)


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
    token: bearer token required on every /api request and live session (None: none required);
    a host other than loopback needs one unless insecure_no_token.
    allowed_hosts: names the Host (and Origin) header may carry besides the loopback names and the
    listening address (DNS-rebinding protection).
    header_timeout_s: a client must send a request's headers within this time (uvicorn);
    body_timeout_s: a request body must keep arriving (no gap longer than this) and be complete within
    this time plus 1 s per 64 KiB declared -> 408.
    max_connections: open connections at once (uvicorn's limit_concurrency) -> 503 above.
    ssl_certfile, ssl_keyfile: serve HTTPS/WSS with this certificate chain and key (PEM).
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
    token: str | None = field(default=None, repr=False)
    insecure_no_token: bool = False
    allowed_hosts: tuple[str, ...] = ()
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int = 100
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ray_address: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host or len(self.host) > 255:
            raise OptionError("host", self.host, "must be a host name or address")
        check_number("port", self.port, low=0, high=65535, integer=True)
        for name in ("data_dir", "examples_dir", "ssl_certfile", "ssl_keyfile"):
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
        _positive("header_timeout_s", self.header_timeout_s)
        _positive("body_timeout_s", self.body_timeout_s)
        _positive_int("max_connections", self.max_connections, 100_000)
        if self.ray_address is not None and (not isinstance(self.ray_address, str) or not self.ray_address.strip()):
            raise OptionError("ray_address", self.ray_address, 'must be "auto" or HOST:PORT')
        self._check_network()

    def _check_network(self) -> None:
        if self.token is not None and not (isinstance(self.token, str) and TOKEN_PATTERN.fullmatch(self.token)):
            raise OptionError("token", "<hidden>", "must be 16-256 characters from A-Z a-z 0-9 . _ ~ + - "
                              "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')")
        if not isinstance(self.insecure_no_token, bool):
            raise OptionError("insecure_no_token", self.insecure_no_token, "must be True or False")
        if self.token is None and not self.insecure_no_token and not is_loopback(self.host):
            raise OptionError("host", self.host, "listening beyond this machine needs a token (--token or "
                              "TALKINGFACE_TOKEN); --insecure-no-token to serve without one")
        hosts = (self.allowed_hosts,) if isinstance(self.allowed_hosts, str) else self.allowed_hosts
        cleaned = []
        for name in hosts:
            if not isinstance(name, str) or not HOST_NAME.fullmatch(name.strip("[]")):
                raise OptionError("allowed_hosts", name, "must be host names or addresses, without port")
            cleaned.append(name.strip("[]").lower())
        object.__setattr__(self, "allowed_hosts", tuple(cleaned))
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise OptionError("ssl_keyfile" if self.ssl_keyfile is None else "ssl_certfile", None,
                              "HTTPS needs both a certificate file and a key file")

    @property
    def host_allowlist(self) -> frozenset[str]:
        """Every name the Host header may carry: loopback names, allowed_hosts and the address
        listened on (unless it is a wildcard such as 0.0.0.0)."""
        names = {*LOOPBACK_HOSTS, *self.allowed_hosts}
        if self.host not in ("0.0.0.0", "::", ""):
            names.add(self.host.strip("[]").lower())
        return frozenset(names)

    @property
    def scheme(self) -> str:
        return "https" if self.ssl_certfile is not None else "http"


HOST_NAME = re.compile(r"[A-Za-z0-9._:-]{1,253}")
