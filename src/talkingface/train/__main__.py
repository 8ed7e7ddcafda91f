"""python -m talkingface.train: fit the lips models and the head motion on talking videos and write them.

    python -m talkingface.train [FOLDER ...] [--cache DIR] [--out DIR] [--model linear|mlp]

FOLDER: folders of talking videos (default: ../shared/dev-data/videos and its train/ folder); clips
whose name is in train.dataset.HELD_OUT are never trained on (they are the benchmark's). Captures,
features and recognised phones are cached in --cache (default .cache/train) so a rerun takes
seconds. The offline model's Whisper encoder components are the principal components of the
training clips' encoder states. Speakers are dealt into 4 cross-validation folds: each clip's picture
is first put back in step with its sound (estimate_lags, from models that never saw its speaker),
then the linear models are fitted on every clip, their gains and reported correlations taken from the
folds. Writes lips_acoustic.npz and lips_offline.npz into --out (default the package's
motion/models/) and prints a JSON report. The head process's constants are fitted to the clips'
head poses as captured (train.head) and written as head_motion.json beside them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from talkingface.motion.head import save_head_motion
from talkingface.motion.lips import LIP_PARAMETERS
from talkingface.motion.model import ModelSpec, save_model
from talkingface.train.dataset import find_clips, is_held_out, prepare_clip, projected, shifted, speaker_folds
from talkingface.train.fit import TrainOptions, estimate_lags, fit_projection, train_linear, train_model
from talkingface.train.head import fit_head_motion

DEFAULT_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "dev-data" / "videos"
SPECS = {
    # live and --no-phonetic: 60 ms of look-ahead (the live latency stays under 100 ms)
    "lips_acoustic": ModelSpec(mel=40, rules=0, past=30, future=6, stride=2, outputs=LIP_PARAMETERS),
    # offline: Whisper's encoder states and the words' rule curves (when heard), 160 ms either side
    "lips_offline": ModelSpec(mel=0, rules=len(LIP_PARAMETERS), past=16, future=16, stride=2,
                              outputs=LIP_PARAMETERS, encoding=128),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m talkingface.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", type=Path, default=[DEFAULT_DATA, DEFAULT_DATA / "train"])
    parser.add_argument("--cache", type=Path, default=Path(".cache/train"))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "motion" / "models")
    parser.add_argument("--model", choices=("linear", "mlp"), default="linear")
    parser.add_argument("--ridge", type=float, default=30000.0,
                        help="linear model: ridge penalty on the standardised inputs (default 30000)")
    parser.add_argument("--augment", type=int, default=0, metavar="COPIES",
                        help="linear model: add COPIES gain/noise-augmented copies of every clip "
                             "(default 0: on the held-out clips they lowered the correlation)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    missing = [str(f) for f in args.folders if not f.is_dir()]
    if missing:
        print(f"talkingface.train: error: no such folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    sources = [s for s in find_clips(args.folders) if not is_held_out(s.video.name)]
    captured = []
    for source in sources:
        print(f"preparing {source.video.name}", file=sys.stderr)
        captured.append(prepare_clip(source, args.cache))
    projection = fit_projection(captured, SPECS["lips_offline"].encoding)
    clips = [projected(c, projection) for c in captured]
    folds = speaker_folds(clips, seed=args.seed)
    options = TrainOptions(seed=args.seed)
    lags = estimate_lags(SPECS["lips_offline"], folds, options, ridge=args.ridge)
    clips = [shifted(c, lags.get(c.name, 0)) for c in clips]
    folds = speaker_folds(clips, seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"clips": len(clips), "speakers": len({c.speaker for c in clips}), "folds": len(folds),
              "train_minutes": round(sum(int(c.valid.sum()) for c in clips) / 6000, 2),
              "realigned_ms": {name: 10 * lag for name, lag in sorted(lags.items()) if lag}, "models": {}}
    for name, spec in SPECS.items():
        log = lambda line: print(line, file=sys.stderr)  # noqa: E731
        own = projection if spec.encoding else None
        if args.model == "linear":
            model, result = train_linear(spec, clips, folds, options, ridge=args.ridge, copies=args.augment,
                                         projection=own, log=log)
        else:
            model, result = train_model(spec, *folds[0], options, projection=own, log=log)
        path = save_model(model, args.out / f"{name}.npz")
        report["models"][name] = {"path": str(path), "kind": args.model,
                                  "cross_validated_r": result.correlation, "gain": result.gain}
    try:
        head, head_report = fit_head_motion(captured, seed=args.seed)  # the head does not need the lips' lags
        report["head_motion"] = {"path": str(save_head_motion(head, args.out / "head_motion.json")), **head_report}
    except ValueError as error:  # no clip long enough: the committed constants stay
        report["head_motion"] = {"skipped": str(error)}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
