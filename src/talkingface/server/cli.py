"""The ``talkingface serve`` subcommand (wired into talkingface.cli by ``add_serve_command``)."""

from __future__ import annotations

import argparse
import os
import sys

from talkingface.validation import finite_float

TOKEN_ENV = "TALKINGFACE_TOKEN"


def add_serve_command(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``serve`` to the CLI's subcommands; its handler is set with ``set_defaults(run=...)``."""
    serve = commands.add_parser("serve", help="web page + REST API + live WebSocket (FastAPI/uvicorn)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this machine only; any other "
                            "needs --token)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free port)")
    serve.add_argument("--data-dir", help="folder for uploads and videos (default: a temporary folder)")
    serve.add_argument("--max-sessions", type=int, default=2, help="live sessions at once (default 2)")
    serve.add_argument("--job-workers", type=int, default=1, help="render jobs at once (default 1)")
    serve.add_argument("--max-queued-jobs", type=int, default=8, help="render jobs waiting (default 8)")
    serve.add_argument("--max-upload-mb", type=finite_float, default=32.0, help="largest upload, MiB (default 32)")
    serve.add_argument("--max-audio-seconds", type=finite_float, default=300.0,
                       help="longest audio of a render job (default 300)")
    serve.add_argument("--token", default=None,
                       help=f"require 'Authorization: Bearer TOKEN' on every API and live request "
                            f"(default: ${TOKEN_ENV}; prefer the variable: arguments are visible to other users)")
    serve.add_argument("--insecure-no-token", action="store_true",
                       help="allow listening beyond this machine without a token (anyone who can reach "
                            "the port can use the server)")
    serve.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                       help="a host name clients may use in the URL besides localhost/127.0.0.1/::1 and "
                            "the --host address (repeatable), e.g. the reverse proxy's public name")
    serve.add_argument("--ssl-certfile", help="serve HTTPS/WSS with this certificate chain (PEM)")
    serve.add_argument("--ssl-keyfile", help="... and this private key (PEM)")
    serve.add_argument("--ray-address", metavar="HOST:PORT|auto",
                       help="render jobs on this Ray cluster (pip install 'talkingface[ray]')")
    serve.set_defaults(run=run_serve)
    return serve


def run_serve(args: argparse.Namespace) -> int:
    """Check everything (settings, data folder, TLS files, the address), then serve until
    interrupted; returns the exit code. Errors raise TalkingFaceError before 'serving on' is printed."""
    from talkingface.errors import OptionError
    from talkingface.media import check_input_file
    from talkingface.server import ServerSettings, serve
    from talkingface.server.app import prepare_data_dir

    if not 0 < args.max_upload_mb <= 1024 * 1024:
        raise OptionError("max-upload-mb", args.max_upload_mb, "must be a number of MiB from 0 to 1048576")
    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV) or None
    settings = ServerSettings(host=args.host, port=args.port, data_dir=args.data_dir,
                              max_sessions=args.max_sessions, job_workers=args.job_workers,
                              max_queued_jobs=args.max_queued_jobs,
                              max_upload_bytes=max(1, int(args.max_upload_mb * 1024 * 1024)),
                              max_audio_s=args.max_audio_seconds, token=token,
                              insecure_no_token=args.insecure_no_token, allowed_hosts=tuple(args.allowed_host),
                              ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile,
                              ray_address=args.ray_address)
    for path in (settings.ssl_certfile, settings.ssl_keyfile):
        if path is not None:
            check_input_file(path, "a PEM file")
    if settings.data_dir is not None:
        prepare_data_dir(settings.data_dir)

    def listening(url: str) -> None:
        if settings.token is None and settings.insecure_no_token:
            print(f"talkingface: warning: listening on {settings.host} without a token: anyone who can "
                  "reach this port can use the server", file=sys.stderr)
        print(f"talkingface: serving on {url}" + (" (bearer token required)" if settings.token else ""),
              file=sys.stderr, flush=True)

    serve(settings, on_listening=listening)
    return 0
