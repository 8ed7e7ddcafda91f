"""Run the server in a background thread of this process (for tests, benchmarks and embedding)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from talkingface.errors import TalkingFaceError
from talkingface.server.settings import ServerSettings


class ServerStartError(TalkingFaceError, RuntimeError):
    """The background server did not start listening in time."""


class BackgroundServer:
    """``with BackgroundServer(settings) as server: ... server.url ...`` - uvicorn in a thread.

    Port 0 in the settings picks a free port; ``url`` (http://host:port) is known once started.
    """

    def __init__(self, settings: ServerSettings | None = None, *, start_timeout_s: float = 30.0) -> None:
        self.settings = settings if settings is not None else ServerSettings(port=0)
        self._timeout = start_timeout_s
        self._server = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None
        self.app = None  # the FastAPI application, once entered

    @property
    def url(self) -> str:
        return f"{self.settings.scheme}://{self.settings.host}:{self.port}"

    def __enter__(self) -> BackgroundServer:
        import uvicorn

        from talkingface.server import create_app
        from talkingface.server.network import bind_socket, load_config, uvicorn_config

        self.app = create_app(self.settings)
        config = uvicorn_config(self.app, self.settings, log_level="warning")
        load_config(config)
        sock = bind_socket(self.settings)
        self.port = sock.getsockname()[1]
        self.settings = replace(self.settings, port=self.port)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="talkingface-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self._timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ServerStartError(f"the server did not start on {self.settings.host}:{self.settings.port}")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
