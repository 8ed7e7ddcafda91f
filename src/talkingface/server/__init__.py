"""HTTP + WebSocket server and web page: ``talkingface serve`` (FastAPI + uvicorn).

    from talkingface.server import ServerSettings, create_app, serve
    serve(ServerSettings(port=8000))        # blocks; binds 127.0.0.1 unless told otherwise

Modules: ``settings`` (ServerSettings), ``app`` (create_app: routes), ``jobs`` (render queue),
``portraits`` (analysed portrait cache), ``live`` (WebSocket session protocol), ``limits`` (request
size middleware), ``cli`` (the ``serve`` subcommand), ``static/`` (the web page).
"""

from __future__ import annotations

from talkingface.server.settings import ServerSettings


def create_app(settings: ServerSettings | None = None):
    """The FastAPI application (see ``talkingface.server.app``); default settings when None."""
    from talkingface.server.app import create_app as build

    return build(settings)


def serve(settings: ServerSettings | None = None) -> None:
    """Run the server until interrupted (uvicorn, one process); default settings when None."""
    import uvicorn

    settings = settings if settings is not None else ServerSettings()
    config = uvicorn.Config(create_app(settings), host=settings.host, port=settings.port,
                            ws_max_size=4 * settings.max_message_bytes, log_level="info")
    uvicorn.Server(config).run()


__all__ = ["ServerSettings", "create_app", "serve"]
