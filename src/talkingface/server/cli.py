"""The ``talkingface serve`` subcommand (wired into talkingface.cli by ``add_serve_command``)."""

from __future__ import annotations

import argparse
import sys


def add_serve_command(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``serve`` to the CLI's subcommands; its handler is set with ``set_defaults(run=...)``."""
    serve = commands.add_parser("serve", help="web page + REST API + live WebSocket (FastAPI/uvicorn)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--data-dir", help="folder for uploads and videos (default: a temporary folder)")
    serve.add_argument("--max-sessions", type=int, default=2, help="live sessions at once (default 2)")
    serve.add_argument("--job-workers", type=int, default=1, help="render jobs at once (default 1)")
    serve.add_argument("--max-queued-jobs", type=int, default=8, help="render jobs waiting (default 8)")
    serve.add_argument("--max-upload-mb", type=float, default=32.0, help="largest upload, MiB (default 32)")
    serve.add_argument("--max-audio-seconds", type=float, default=300.0,
                       help="longest audio of a render job (default 300)")
    serve.add_argument("--ray-address", metavar="HOST:PORT|auto",
                       help="render jobs on this Ray cluster (pip install 'talkingface[ray]')")
    serve.set_defaults(run=run_serve)
    return serve


def run_serve(args: argparse.Namespace) -> int:
    """Build ServerSettings from the arguments and serve until interrupted; returns the exit code."""
    from talkingface.server import ServerSettings, serve

    settings = ServerSettings(host=args.host, port=args.port, data_dir=args.data_dir,
                              max_sessions=args.max_sessions, job_workers=args.job_workers,
                              max_queued_jobs=args.max_queued_jobs,
                              max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
                              max_audio_s=args.max_audio_seconds, ray_address=args.ray_address)
    if settings.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"talkingface: warning: listening on {settings.host}: other machines can connect; "
              "there is no authentication", file=sys.stderr)
    print(f"talkingface: serving on http://{settings.host}:{settings.port}/", file=sys.stderr)
    serve(settings)
    return 0
