"""Listening on a network: the socket, uvicorn's configuration (timeouts, size limits, TLS) and a
header-read timeout that uvicorn's h11 protocol lacks. Used by ``serve`` and ``BackgroundServer``.
"""

from __future__ import annotations

import socket
import ssl

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from talkingface.errors import TalkingFaceError
from talkingface.server.settings import ServerSettings

KEEP_ALIVE_S = 5
"""An idle keep-alive connection is closed after this many seconds (uvicorn's timeout_keep_alive)."""
MAX_HEADER_BYTES = 16 * 1024
"""Largest request line + headers (h11's incomplete-event limit) -> 400 above."""
MIN_TRANSPORT_MESSAGE_BYTES = 16 * 1024 * 1024
"""The WebSocket transport accepts messages up to max(this, 4 x max_message_bytes): larger ones
close the session with 1009; up to it, messages over max_message_bytes get a ``too_large`` error
and the session goes on."""


class ServeError(TalkingFaceError, OSError):
    """The server cannot start: the address is in use, not available, or TLS files are unusable."""


def transport_message_bytes(settings: ServerSettings) -> int:
    return max(MIN_TRANSPORT_MESSAGE_BYTES, 4 * settings.max_message_bytes)


class HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus: a client must complete each request's line and headers within
    ``header_timeout_s`` of connecting (or of the previous response), else the connection is closed.
    uvicorn's keep-alive timer stops at the first byte, so without this a client trickling one header
    byte every few seconds would hold a connection forever."""

    header_timeout_s = 10.0

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer = None
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the request line and headers are in
            self._disarm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_timed_out)

    def _disarm_header_timer(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


class AnnouncingServer(uvicorn.Server):
    """uvicorn's server, calling ``on_started()`` once the application has started and the
    sockets accept connections (so nothing is announced before that)."""

    def __init__(self, config: uvicorn.Config, on_started) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit:
            self._on_started()


def uvicorn_config(app, settings: ServerSettings, *, log_level: str = "info") -> uvicorn.Config:
    """uvicorn's configuration for ``app`` under ``settings``: header/keep-alive timeouts, header
    size, connection and WebSocket message limits, TLS."""
    protocol = type("HeaderTimeoutH11Protocol", (HeaderTimeoutH11Protocol,),
                    {"header_timeout_s": settings.header_timeout_s})
    tls = {}
    if settings.ssl_certfile is not None:
        tls = {"ssl_certfile": str(settings.ssl_certfile), "ssl_keyfile": str(settings.ssl_keyfile)}
    return uvicorn.Config(app, host=settings.host, port=settings.port, http=protocol,
                          ws_max_size=transport_message_bytes(settings), ws_max_queue=4,
                          timeout_keep_alive=KEEP_ALIVE_S, h11_max_incomplete_event_size=MAX_HEADER_BYTES,
                          limit_concurrency=settings.max_connections, server_header=False,
                          log_level=log_level, lifespan="on", **tls)


def load_config(config: uvicorn.Config) -> None:
    """Load the configuration now (TLS files included), so a bad certificate is a ServeError
    before anything is announced."""
    try:
        config.load()
    except (ssl.SSLError, OSError) as error:
        raise ServeError(f"cannot use the TLS certificate {config.ssl_certfile} / key {config.ssl_keyfile}: "
                         f"{getattr(error, 'strerror', None) or error}") from None


def bind_socket(settings: ServerSettings) -> socket.socket:
    """A socket bound to settings.host:port (port 0: a free port), ready for uvicorn; ServeError if
    the address is in use or not available."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            settings.host, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (OSError, UnicodeError) as error:
        raise ServeError(f"cannot listen on {settings.host}: {getattr(error, 'strerror', None) or error}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.set_inheritable(True)
    except OSError as error:
        sock.close()
        raise ServeError(f"cannot listen on {settings.host}:{settings.port}: {error.strerror or error}") from None
    return sock


def bound_url(settings: ServerSettings, sock: socket.socket) -> str:
    host = settings.host if ":" not in settings.host else f"[{settings.host}]"
    return f"{settings.scheme}://{host}:{sock.getsockname()[1]}/"
