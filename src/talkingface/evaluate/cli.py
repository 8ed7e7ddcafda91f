"""`talkingface eval`: the argparse adapter of the evaluation (talkingface.evaluate.run does the work).

    talkingface eval VIDEO [--portrait IMG] [--audio AUDIO] [--reference REAL_VIDEO]
                     [--baseline loudness] [--json OUT.json] [--report OUT.png|OUT.html]
    talkingface eval --self-reenact REAL_VIDEO [-o OUT.mp4] [--baseline loudness] [...]
    talkingface eval --reference REAL_VIDEO --baseline loudness [...]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from talkingface.errors import OptionError

_DESCRIPTION = """Measure a talking-head video: lip-sync against a real video (mouth-opening
correlation, best lag, M-LMD), A/V offset against its audio, identity against the portrait (dlib
embedding distance), stability (jitter, face-detect rate) and liveliness (blinks, head-pose spread,
frame-to-frame rotation). --self-reenact renders a real video's first frame with its own audio and
compares the two. Prints JSON (or writes --json); definitions in docs/EVALUATION.md."""


def add_eval_command(commands: argparse._SubParsersAction) -> None:
    """Register the `eval` subcommand; its handler is stored as args.run."""
    parser = commands.add_parser("eval", help="measure a generated video (lip-sync, identity, liveliness)",
                                 description=_DESCRIPTION)
    parser.add_argument("video", nargs="?", help="the video to measure (e.g. a talkingface render)")
    parser.add_argument("--portrait", help="the portrait it was made from (identity)")
    parser.add_argument("--audio", help="the speech it was driven with (default: the video's own audio track)")
    parser.add_argument("--reference", metavar="REAL_VIDEO",
                        help="a real video of the same speech (lip-sync, M-LMD, human reference values)")
    parser.add_argument("--self-reenact", metavar="REAL_VIDEO",
                        help="render REAL_VIDEO's first frame with its own audio, then evaluate against it")
    parser.add_argument("-o", "--output", help="with --self-reenact: keep the render here (.mp4)")
    parser.add_argument("--baseline", choices=("loudness",),
                        help="also score the trivial baseline: mouth opening = loudness envelope")
    parser.add_argument("--json", metavar="OUT.json", help="write the metrics here instead of stdout")
    parser.add_argument("--report", metavar="OUT.png|OUT.html", help="write a report with plots")
    parser.add_argument("--sample-every", type=int, default=5,
                        help="embed every n-th frame for identity (default 5)")
    parser.add_argument("--max-lag", type=int, default=10, help="lag search range, +- frames (default 10)")
    parser.add_argument("--no-phonetic", action="store_true",
                        help="with --self-reenact: render without speech recognition (lips from sound alone)")
    parser.add_argument("--seed", type=int, default=0, help="with --self-reenact: seed of the render")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.set_defaults(run=run_eval)


def _check(args: argparse.Namespace) -> None:
    """Reject inconsistent options before any slow work (raises OptionError / OutputPathError)."""
    from talkingface.evaluate.report import REPORT_SUFFIXES
    from talkingface.media import check_output_path

    if args.self_reenact is not None:
        if args.video is not None:
            raise OptionError("video", args.video, "give either VIDEO or --self-reenact REAL_VIDEO, not both")
        if args.reference is not None:
            raise OptionError("reference", args.reference, "--self-reenact already compares with its video")
        if args.portrait is not None or args.audio is not None:
            raise OptionError("portrait/audio", "given", "--self-reenact takes both from its video")
        if args.output is not None:
            check_output_path(args.output, inputs=[args.self_reenact])
    elif args.output is not None:
        raise OptionError("output", args.output, "only --self-reenact renders a video to keep")
    elif args.video is None and not (args.reference is not None and args.baseline is not None):
        raise OptionError("video", None, "give VIDEO, --self-reenact REAL_VIDEO, or --reference with --baseline")
    if args.baseline is not None and args.reference is None and args.self_reenact is None:
        raise OptionError("baseline", args.baseline, "needs --reference or --self-reenact (a real video)")
    inputs = [p for p in (args.video, args.portrait, args.audio, args.reference, args.self_reenact) if p]
    if args.json is not None:
        check_output_path(args.json, inputs=inputs, suffixes=(".json",))
    if args.report is not None:
        check_output_path(args.report, inputs=inputs, suffixes=REPORT_SUFFIXES)


def run_eval(args: argparse.Namespace) -> int:
    """Handler of `talkingface eval`; returns the exit code (errors are raised as TalkingFaceError)."""
    from talkingface.evaluate.run import EvalOptions, evaluate, self_reenact

    _check(args)
    options = EvalOptions(sample_every=args.sample_every, max_lag_frames=args.max_lag)

    def log(line: str) -> None:
        if not args.quiet:
            print(f"talkingface eval: {line}", file=sys.stderr, flush=True)

    if args.self_reenact is not None:
        evaluation = self_reenact(args.self_reenact, args.output, baseline=args.baseline,
                                  phonetic=not args.no_phonetic, seed=args.seed, options=options, log=log)
    else:
        evaluation = evaluate(args.video, portrait=args.portrait, audio=args.audio, reference=args.reference,
                              baseline=args.baseline, options=options, log=log)
    text = evaluation.result.to_json()
    if args.json is not None:
        from talkingface.media import atomic_output

        with atomic_output(Path(args.json).expanduser()) as temporary:
            Path(temporary).write_text(text + "\n", encoding="utf-8")
        log(f"metrics written to {os.fspath(args.json)}")
    else:
        print(text)
    if args.report is not None:
        from talkingface.evaluate.report import write_report

        log(f"report written to {write_report(evaluation, args.report)}")
    for note in evaluation.result.notes:
        log(f"note: {note}")
    return 0
