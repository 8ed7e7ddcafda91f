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
    application has started and the socket accepts connections.
    """
    from talkingface.server.network import AnnouncingServer, bind_socket, bound_url, load_config, uvicorn_config

    settings = settings if settings is not None else ServerSettings()
    config = uvicorn_config(create_app(settings), settings)
    load_config(config)
    sock = sock if sock is not None else bind_socket(settings)
    url = bound_url(settings, sock)
    with sock:
        AnnouncingServer(config, lambda: on_listening and on_listening(url)).run(sockets=[sock])


__all__ = ["ServerSettings", "create_app", "serve"]
