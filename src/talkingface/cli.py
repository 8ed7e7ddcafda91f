"""Command line: `talkingface render PORTRAIT AUDIO -o OUT.mp4`. Adapts arguments to the Python API."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from talkingface.errors import TalkingFaceError

EXIT_INPUT_ERROR = 2


def _transcript(value: str | None) -> str | None:
    """--transcript takes text, or the path of a text file."""
    if value is None:
        return None
    path = Path(value)
    if len(value) < 4096 and path.suffix.lower() in (".txt", ".lab") or path.is_file():
        if not path.is_file():
            raise TalkingFaceError(f"{value}: transcript file not found")
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise TalkingFaceError(f"{value}: cannot read transcript: {error}") from error
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="talkingface", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("render", help="portrait + speech -> talking-head MP4")
    render.add_argument("portrait", help="portrait image (jpg, png, webp, ...)")
    render.add_argument("audio", help="speech: any audio FFmpeg reads, or a video's audio track")
    render.add_argument("-o", "--output", required=True, help="output .mp4 path")
    render.add_argument("--fps", type=float, default=25.0, help="frames per second (default 25)")
    render.add_argument("--size", type=int, default=512, help="side of the square head crop, px (default 512)")
    render.add_argument("--full-frame", action="store_true",
                        help="keep the whole portrait at its own resolution instead of the head crop")
    render.add_argument("--transcript", help="what is said: text, or a .txt file (improves lip timing)")
    render.add_argument("--seed", type=int, default=0, help="random seed of head motion and blinks")
    render.add_argument("--articulation", type=float, default=1.0, help="lip/jaw strength (default 1)")
    render.add_argument("--head-motion", type=float, default=1.0, help="head motion amount, 0 = still")
    render.add_argument("--blink-rate", type=float, default=17.0, help="blinks per minute (default 17)")
    render.add_argument("--no-phonetic", action="store_true",
                        help="skip speech recognition; lips from the sound alone (any language)")
    render.add_argument("--max-audio-seconds", type=float, default=600.0, help="longest accepted audio")
    render.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    from talkingface.evaluate.cli import add_eval_command

    add_eval_command(commands)
    return parser


def _render(args: argparse.Namespace) -> int:
    from talkingface.pipeline import AnimateOptions, animate

    options = AnimateOptions(fps=args.fps, size=args.size, framing="full" if args.full_frame else "crop",
                             transcript=_transcript(args.transcript), seed=args.seed,
                             articulation=args.articulation, head_motion=args.head_motion,
                             blink_rate=args.blink_rate, phonetic=not args.no_phonetic,
                             max_audio_s=args.max_audio_seconds)
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=0, unit="frame", desc="rendering", file=sys.stderr, leave=False)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.update(done - bar.n)

    try:
        result = animate(args.portrait, args.audio, args.output, options, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    if not args.quiet:
        summary = {"output": str(result.output), "frames": result.frames, "fps": result.fps,
                   "size": [result.width, result.height], "duration_s": round(result.duration_s, 3),
                   "faces_found": result.faces_found, "transcript": result.transcript_source,
                   "seconds": {k: round(v, 3) for k, v in result.timings.items()}}
        if result.faces_found > 1:
            print(f"talkingface: {result.faces_found} faces found; animated the largest", file=sys.stderr)
        print(json.dumps(summary), file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `talkingface` console script; returns the exit code."""
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's native logging
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) if hasattr(args, "run") else _render(args)
    except (TalkingFaceError, OSError) as error:
        print(f"talkingface: error: {error}", file=sys.stderr)
        return EXIT_INPUT_ERROR


if __name__ == "__main__":
    sys.exit(main())
