"""Command line. Adapts arguments to the Python API:

    talkingface render PORTRAIT AUDIO -o OUT.mp4     portrait + speech -> talking-head video
    talkingface render PORTRAIT --drive VIDEO -o OUT.mp4   the portrait performs a video's motion
    talkingface motion AUDIO -o motion.json|.csv     speech -> motion timeline (ARKit names)
    talkingface capture VIDEO -o motion.json|.csv    a talking video -> its motion timeline
    talkingface dub VIDEO AUDIO -o OUT.mp4           re-lip a video's speaker to new speech
    talkingface eval VIDEO ...                       measure lip-sync, identity, liveliness
    talkingface serve [--port 8000]                  web page, REST jobs, live WebSocket (127.0.0.1)
    talkingface batch JOBS.csv|.jsonl -o OUTDIR      many renders on Ray (local or a cluster)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from talkingface.errors import InputFileError, TalkingFaceError, show
from talkingface.validation import finite_float

EXIT_INPUT_ERROR = 2
TRANSCRIPT_SUFFIXES = (".txt", ".lab")


def could_be_path(value: str) -> bool:
    """Whether ``value`` could name a file at all, decided without touching the file system: one
    line, no NUL, at most 4095 bytes, every component at most 255 bytes (Linux's limits)."""
    if "\n" in value or "\0" in value:
        return False
    encoded = os.fsencode(value)
    return len(encoded) < 4096 and all(len(part) <= 255 for part in encoded.split(b"/"))


def _transcript(value: str | None) -> str | None:
    """--transcript takes text, or the path of a text file: a value that could be a path and ends in
    .txt/.lab or names an existing file is read (at most MAX_TRANSCRIPT_CHARS characters);
    anything else (several lines, longer than a path can be, ...) is the text itself."""
    from talkingface.audio.text import MAX_TRANSCRIPT_CHARS, check_transcript
    from talkingface.media.structured import Limits, read_bounded

    if value is None or not could_be_path(value):
        return check_transcript(value)
    path = Path(value)
    try:
        is_file = path.is_file()
    except OSError:  # e.g. permission denied on a folder of the path
        is_file = False
    if not is_file and path.suffix.lower() not in TRANSCRIPT_SUFFIXES:
        return check_transcript(value)
    data = read_bounded(path, limits=Limits(max_bytes=4 * MAX_TRANSCRIPT_CHARS), error=InputFileError,
                        kind="a transcript file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputFileError(path, f"is not UTF-8 text (bad byte at offset {error.start})") from None
    if len(text) > MAX_TRANSCRIPT_CHARS:
        raise InputFileError(path, f"holds {len(text)} characters; a transcript may have at most "
                                   f"{MAX_TRANSCRIPT_CHARS}")
    return text


def _regions(text: str) -> tuple[str, ...]:
    """'head,eyes' -> ('head', 'eyes') for --regions (names are checked by DriveOptions)."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _pair(text: str) -> tuple[float, float]:
    """'X,Y' -> (X, Y) for --gaze."""
    try:
        x, y = (finite_float(v) for v in text.split(","))
    except (ValueError, argparse.ArgumentTypeError) as error:
        raise argparse.ArgumentTypeError(f"expected RIGHT,UP finite numbers, got {show(text)}") from error
    return x, y


def _emotion(text: str) -> tuple[str, float]:
    """'happy' or 'happy:0.6' -> (name, intensity)."""
    name, _, intensity = text.partition(":")
    try:
        return name, finite_float(intensity) if intensity else 1.0
    except argparse.ArgumentTypeError as error:
        raise argparse.ArgumentTypeError(f"expected NAME or NAME:INTENSITY, got {show(text)}") from error


def _add_motion_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fps", type=finite_float, default=25.0, help="frames per second (default 25)")
    parser.add_argument("--transcript", help="what is said: text, or a .txt file (improves lip timing)")
    parser.add_argument("--no-phonetic", action="store_true",
                        help="skip speech recognition; lips from the sound alone (any language)")
    parser.add_argument("--lips", choices=("auto", "learned", "rules"), default="learned",
                        help="learned: models trained on real talking videos; rules: visemes with "
                             "coarticulation; auto (default): rules with words, learned without")
    parser.add_argument("--seed", type=int, default=0, help="random seed of head motion and blinks")
    parser.add_argument("--articulation", type=finite_float, default=1.0, help="lip/jaw strength (default 1)")
    parser.add_argument("--head-motion", type=finite_float, default=1.0, help="head motion amount (default 1)")
    parser.add_argument("--still", action="store_true", help="keep the head still (same as --head-motion 0)")
    parser.add_argument("--blink-rate", type=finite_float, default=17.0, help="blinks per minute (default 17)")
    parser.add_argument("--gaze", type=_pair, default=(0.0, 0.0), metavar="RIGHT,UP",
                        help="main gaze direction, each in [-1, 1] (default 0,0: the camera)")
    parser.add_argument("--head-distance", type=finite_float, default=1.0,
                        help="apparent head distance: 0.8 further away, 1.2 closer (default 1)")
    parser.add_argument("--emotion", type=_emotion, default=("neutral", 1.0), metavar="NAME[:INTENSITY]",
                        help="neutral, happy, sad, angry, surprised, disgusted; intensity 0-1")
    parser.add_argument("--keyframes", help="JSON file pinning parameters over time ranges")
    parser.add_argument("--max-audio-seconds", type=finite_float, default=600.0, help="longest accepted audio")


def add_render_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of one render (all but the inputs, output and --quiet); `talkingface batch` reads
    its manifest columns through these same definitions."""
    parser.add_argument("--size", type=int, default=512, help="side of the square head crop, px (default 512)")
    parser.add_argument("--full-frame", action="store_true",
                        help="keep the whole portrait at its own resolution instead of the head crop")
    parser.add_argument("--work-size", type=int, default=640,
                        help="with --full-frame: px at which the head region is re-rendered before it is "
                             "pasted back (larger: sharper, slower; default 640)")
    parser.add_argument("--motion", help="render this motion timeline (.json/.csv) instead of generating one")
    parser.add_argument("--drive", metavar="VIDEO",
                        help="a talking video whose captured motion the portrait performs")
    parser.add_argument("--regions", type=_regions, default=None, metavar="LIST",
                        help="with --drive: what comes from the video, any of head,expression,lips,eyes "
                             "(default all); the rest follows the speech")
    parser.add_argument("--drive-strength", type=finite_float, default=1.0,
                        help="with --drive: scale of the video's motion (default 1)")
    parser.add_argument("--face", type=int, default=1,
                        help="with --drive: which face of the video, 1 = the largest (default 1)")
    _add_motion_arguments(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="talkingface", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("render", help="portrait + speech -> talking-head MP4")
    render.add_argument("portrait", help="portrait image (jpg, png, webp, ...)")
    render.add_argument("audio", nargs="?", help="speech: any audio FFmpeg reads, or a video's audio track "
                        "(with --drive: default the driving video's own soundtrack)")
    render.add_argument("-o", "--output", required=True, help="output .mp4 path")
    render.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_render_arguments(render)
    render.set_defaults(run=_render)
    motion = commands.add_parser("motion", help="speech -> motion timeline file (no portrait needed)")
    motion.add_argument("audio", help="speech: any audio FFmpeg reads")
    motion.add_argument("-o", "--output", required=True, help="output .json or .csv")
    _add_motion_arguments(motion)
    motion.set_defaults(run=_motion)
    capture = commands.add_parser("capture", help="talking video -> motion timeline file (head pose + "
                                                  "ARKit expression coefficients per frame)")
    capture.add_argument("video", help="a video with a face (any format FFmpeg reads)")
    capture.add_argument("-o", "--output", required=True, help="output .json or .csv")
    capture.add_argument("--start", type=finite_float, default=0.0, help="capture from this time, seconds")
    capture.add_argument("--end", type=finite_float, default=None, help="capture up to this time, seconds")
    capture.add_argument("--face", type=int, default=1,
                         help="which face when several are present, 1 = the largest (default 1)")
    capture.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    capture.set_defaults(run=_capture)
    add_dub_arguments(commands.add_parser("dub", help="re-lip the speaker of a video to new speech (visual "
                                                      "dubbing): only the mouth and jaw change"))
    from talkingface.batch.cli import add_batch_command
    from talkingface.evaluate.cli import add_eval_command
    from talkingface.server.cli import add_serve_command

    add_eval_command(commands)
    add_serve_command(commands)
    add_batch_command(commands)
    return parser


def _options(args: argparse.Namespace, **extra):
    from talkingface.motion.controls import Controls, load_keyframes
    from talkingface.pipeline import AnimateOptions

    controls = Controls(gaze=args.gaze, head_distance=args.head_distance, emotion=args.emotion[0],
                        emotion_intensity=args.emotion[1],
                        keyframes=load_keyframes(args.keyframes) if args.keyframes else ())
    return AnimateOptions(fps=args.fps, transcript=_transcript(args.transcript), seed=args.seed,
                          articulation=args.articulation, head_motion=0.0 if args.still else args.head_motion,
                          blink_rate=args.blink_rate, phonetic=not args.no_phonetic, lips=args.lips,
                          controls=controls, max_audio_s=args.max_audio_seconds, **extra)


class _ProgressBar:
    """A tqdm bar created on the first update (so failures before any work print no bar)."""

    def __init__(self, label: str, unit: str, quiet: bool) -> None:
        self.label, self.unit, self.quiet = label, unit, quiet
        self._bar = None

    def __call__(self, done: int, total: int) -> None:
        if self.quiet:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total or None, unit=self.unit, desc=self.label, file=sys.stderr, leave=False)
        self._bar.update(done - self._bar.n)

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()


def _face_rank(value: int) -> int:
    """--face N (1 = the largest) -> the 0-based rank the API takes."""
    if value < 1:
        raise TalkingFaceError(f"--face {value}: faces are counted from 1 (the largest)")
    return value - 1


def render_options(args: argparse.Namespace):
    """AnimateOptions of the arguments added by add_render_arguments (reads --transcript/--keyframes files)."""
    from talkingface.motion.drive import REGIONS, DriveOptions

    drive = DriveOptions(regions=args.regions or tuple(REGIONS), strength=args.drive_strength,
                         face=_face_rank(args.face))
    return _options(args, size=args.size, framing="full" if args.full_frame else "crop", work_size=args.work_size,
                    drive=drive)


def _render(args: argparse.Namespace) -> int:
    from talkingface.motion.io import load_motion
    from talkingface.pipeline import animate

    if args.audio is None and args.drive is None:
        raise TalkingFaceError("render: give the speech AUDIO (or --drive VIDEO to take it from)")
    options = render_options(args)
    given = load_motion(args.motion) if args.motion else None
    with _ProgressBar("rendering", "frame", args.quiet) as progress:
        result = animate(args.portrait, args.audio, args.output, options, motion=given, drive=args.drive,
                         progress=progress)
    if not args.quiet:
        if result.faces_found > 1:
            print(f"talkingface: {result.faces_found} faces found; animated the largest", file=sys.stderr)
        for note in result.notes:
            print(f"talkingface: {note}", file=sys.stderr)
        summary = {"output": str(result.output), "frames": result.frames, "fps": result.fps,
                   "size": [result.width, result.height], "duration_s": round(result.duration_s, 3),
                   "faces_found": result.faces_found, "transcript": result.transcript_source,
                   "seconds": {k: round(v, 3) for k, v in result.timings.items()}}
        print(json.dumps(summary), file=sys.stderr)
    return 0


def add_dub_arguments(dub: argparse.ArgumentParser) -> None:
    dub.add_argument("video", help="a video with a face (any format FFmpeg reads)")
    dub.add_argument("audio", help="the new speech: any audio FFmpeg reads, or a video's audio track")
    dub.add_argument("-o", "--output", required=True, help="output .mp4 path")
    dub.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_dub_options(dub)
    dub.set_defaults(run=_dub)


def add_dub_options(dub: argparse.ArgumentParser) -> None:
    """The options of one dub (all but the inputs, output and --quiet); `talkingface batch` reads its
    dub rows' columns through these same definitions."""
    dub.add_argument("--face", type=int, default=1, help="whom to dub when several faces show, 1 = the "
                                                         "largest at the first frame with a face (default 1)")
    dub.add_argument("--extend", choices=("pingpong", "loop", "hold"), default="pingpong",
                     help="speech longer than the video: replay it back and forth (default), from the "
                          "start, or hold the last frame")
    dub.add_argument("--keep-length", action="store_true",
                     help="speech shorter than the video: keep the whole video (silence and a closed mouth "
                          "after the speech) instead of cutting it at the speech's end")
    dub.add_argument("--mix", type=finite_float, default=0.0, metavar="LEVEL",
                     help="keep the video's own soundtrack (ducked out where its speaker talks) under the new "
                          "speech at this level, 0-1 (default 0)")
    dub.add_argument("--transcript", help="what the new speech says: text, or a .txt file (improves lip timing)")
    dub.add_argument("--no-phonetic", action="store_true",
                     help="skip speech recognition; lips from the sound alone (any language)")
    dub.add_argument("--lips", choices=("auto", "learned", "rules"), default="learned",
                     help="as for render (default learned)")
    dub.add_argument("--articulation", type=finite_float, default=1.0, help="lip/jaw strength (default 1)")
    dub.add_argument("--emotion", type=_emotion, default=("neutral", 1.0), metavar="NAME[:INTENSITY]",
                     help="an emotion shown on the mouth: happy, sad, angry, surprised, disgusted")
    dub.add_argument("--seed", type=int, default=0, help="random seed of the motion engine")
    dub.add_argument("--max-audio-seconds", type=finite_float, default=600.0, help="longest accepted audio")
    dub.add_argument("--crf", type=int, default=12,
                     help="x264 quality of the re-encode: lower is closer to the source and larger (default 12)")


def dub_options(args: argparse.Namespace):
    """DubOptions of the arguments added by add_dub_arguments (reads a --transcript file)."""
    from talkingface.dub import DubOptions
    from talkingface.motion.controls import Controls

    return DubOptions(transcript=_transcript(args.transcript), phonetic=not args.no_phonetic, lips=args.lips,
                      articulation=args.articulation, seed=args.seed,
                      controls=Controls(emotion=args.emotion[0], emotion_intensity=args.emotion[1]),
                      face=_face_rank(args.face), extend=args.extend, keep_length=args.keep_length,
                      mix=args.mix, max_audio_s=args.max_audio_seconds, crf=args.crf)


def _dub(args: argparse.Namespace) -> int:
    from talkingface.dub import dub_video

    options = dub_options(args)
    with _ProgressBar("dubbing", "frame", args.quiet) as progress:
        result = dub_video(args.video, args.audio, args.output, options, progress=progress)
    if not args.quiet:
        for note in result.notes:
            print(f"talkingface: {note}", file=sys.stderr)
        print(json.dumps({"output": str(result.output), "frames": result.frames,
                          "frames_dubbed": result.frames_dubbed, "fps": round(result.fps, 3),
                          "size": [result.width, result.height], "duration_s": round(result.duration_s, 3),
                          "interior": result.interior, "transcript": result.transcript_source,
                          "seconds": {k: round(v, 3) for k, v in result.timings.items()}}), file=sys.stderr)
    return 0


def _capture(args: argparse.Namespace) -> int:
    from talkingface.media import check_output_path
    from talkingface.mocap import CaptureOptions, capture_video
    from talkingface.motion.io import SUFFIXES, save_motion

    output = check_output_path(args.output, inputs=[args.video], suffixes=SUFFIXES)
    options = CaptureOptions(start_s=args.start, end_s=args.end, face=_face_rank(args.face))
    with _ProgressBar("capturing", "frame", args.quiet) as progress:
        result = capture_video(args.video, options, progress=progress)
    save_motion(result.motion, output)
    if not args.quiet:
        if result.faces_at_start > 1:
            print(f"talkingface: {result.faces_at_start} faces in the video; captured face {args.face} "
                  f"(by size)", file=sys.stderr)
        for label, spans in (("no face", result.gaps.missing), ("face lost briefly, interpolated",
                                                                result.gaps.interpolated)):
            if spans:
                listed = ", ".join(f"{a:.2f}-{b:.2f} s" for a, b in spans[:10])
                more = f" and {len(spans) - 10} more" if len(spans) > 10 else ""
                print(f"talkingface: {label}: {listed}{more}", file=sys.stderr)
        print(json.dumps({"output": str(output), "frames": result.motion.frames, "fps": round(result.motion.fps, 3),
                          "video_frames": result.frames_read, "frames_with_face": result.frames_with_face,
                          "fit_error": round(result.fit_error, 5)}), file=sys.stderr)
    return 0


def _motion(args: argparse.Namespace) -> int:
    from talkingface.audio import analyse_audio, load_audio
    from talkingface.media import check_output_path
    from talkingface.motion.generate import generate_motion
    from talkingface.motion.io import SUFFIXES, save_motion

    output = check_output_path(args.output, inputs=[args.audio], suffixes=SUFFIXES)
    options = _options(args)
    track = analyse_audio(load_audio(args.audio, max_seconds=options.max_audio_s),
                          transcript=options.transcript, phonetic=options.phonetic)
    motion = generate_motion(track, options.motion_options())
    save_motion(motion, output)
    print(json.dumps({"output": str(output), "frames": motion.frames, "fps": motion.fps,
                      "parameters": motion.values.shape[1]}), file=sys.stderr)
    return 0


def _silence_native_stderr() -> None:
    """Send what native libraries (MediaPipe/TFLite, FFmpeg) write to file descriptor 2 to /dev/null,
    while Python's sys.stderr (errors, progress, summaries) keeps writing to the real stderr."""
    try:
        sys.stderr.flush()
        real = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        sys.stderr = os.fdopen(real, "w", buffering=1)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (embedded, captured): leave it
        pass


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `talkingface` console script; returns the exit code.

    Set TALKINGFACE_VERBOSE=1 to keep the native libraries' own log lines.
    """
    args = build_parser().parse_args(argv)
    if __name__ == "__main__" or argv is None:
        if not os.environ.get("TALKINGFACE_VERBOSE"):
            _silence_native_stderr()
    return run_command(args.run, args)


def run_command(command, args: argparse.Namespace) -> int:
    """Run one subcommand handler ``command(args) -> exit code`` the way every command runs:
    SIGINT/SIGTERM/SIGHUP become ``Interrupted`` (see talkingface.signals) so that atomic writers and
    temporary folders clean up, then one line and exit 128 + signal (130, 143); the project's errors
    and OS errors print one line and exit 2. A new subcommand gets all of this by setting
    ``set_defaults(run=handler)``."""
    from talkingface.signals import exit_code, signals_as_exceptions

    try:
        with signals_as_exceptions():
            return command(args)
    except (TalkingFaceError, OSError) as error:
        print(f"talkingface: error: {error}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt as interruption:
        print(f"talkingface: stopped by {str(interruption) or 'SIGINT'}", file=sys.stderr)
        return exit_code(interruption)


if __name__ == "__main__":
    sys.exit(main())
