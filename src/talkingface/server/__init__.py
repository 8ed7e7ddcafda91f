"""HTTP + WebSocket server and web page: ``talkingface serve`` (FastAPI + uvicorn).

    from talkingface.server import ServerSettings, create_app, serve
    serve(ServerSettings(port=8000))        # blocks; binds 127.0.0.1 unless told otherwise

Modules: ``settings`` (ServerSettings), ``app`` (create_app: routes), ``jobs`` (render queue),
``portraits`` (analysed portrait cache), ``live`` (WebSocket session protocol), ``limits`` (request
size and body-time middleware), ``security`` (Host allowlist, bearer token, security headers),
``network`` (socket, uvicorn timeouts and TLS), ``cli`` (the ``serve`` subcommand), ``static/``
(the web page).
"""

from __future__ import annotations

from talkingface.server.settings import ServerSettings


def create_app(settings: ServerSettings | None = None):
    """The FastAPI application (see ``talkingface.server.app``); default settings when None."""
    from talkingface.server.app import create_app as build

    return build(settings)


def serve(settings: ServerSettings | None = None, *, sock=None, on_listening=None) -> None:
    """Run the server until interrupted (uvicorn, one process); default settings when None.

    sock: a socket already bound (``network.bind_socket``); on_listening(url): called once the
    socket is bound and the configuration (TLS files included) loaded, before serving.
    """
    import uvicorn

    from talkingface.server.network import bind_socket, bound_url, load_config, uvicorn_config

    settings = settings if settings is not None else ServerSettings()
    config = uvicorn_config(create_app(settings), settings)
    load_config(config)
    sock = sock if sock is not None else bind_socket(settings)
    with sock:
        if on_listening is not None:
            on_listening(bound_url(settings, sock))
        uvicorn.Server(config).run(sockets=[sock])


__all__ = ["ServerSettings", "create_app", "serve"]
