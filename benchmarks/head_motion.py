"""Head motion against real speakers the constants were never fitted on.

For each held-out dev-data clip (talkingface.train.dataset.HELD_OUT): the real head pose captured from
the video, and ours from the motion engine run on the clip's own audio (3 seeds), once with the
learned head constants (motion/models/head_motion.json) and once with the hand-tuned ones they
replaced (motion.head.RULES). Statistics per axis are medians over clips (train.head.head_statistics:
spread in degrees, speed in degrees/s, autocorrelation at 0.5 s and 1 s), and the error of each method
is the mean over axes of |log(ours / real)| for spread and speed (0 = the real speakers' size and
speed) and of |ours - real| for the autocorrelations.

    python benchmarks/head_motion.py [--cache DIR]

JSON on stdout. Skips cleanly when ../shared/dev-data is absent.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from devdata import VIDEOS

FPS = 25.0
SEEDS = (0, 1, 2)


def ours(clip, head, seed: int) -> np.ndarray:
    """(T, 3) yaw/pitch/roll of the engine's motion for the clip's audio."""
    from talkingface.motion.engine import MotionEngine
    from talkingface.motion.options import StreamOptions
    from talkingface.motion.params import PARAMETER_INDEX
    from talkingface.train.head import AXES

    engine = MotionEngine(StreamOptions(fps=FPS, seed=seed), head=head)
    frames = engine.run_features(clip.features, len(clip.features) * 160)
    return np.stack([f.params for f in frames])[:, [PARAMETER_INDEX[a] for a in AXES]].astype(np.float64)


def errors(statistics: np.ndarray, real: np.ndarray) -> dict[str, float]:
    return {"size_speed_log_error": round(float(np.abs(np.log(statistics[:2] / real[:2])).mean()), 3),
            "autocorrelation_error": round(float(np.abs(statistics[2:] - real[2:]).mean()), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path(".cache/train"))
    args = parser.parse_args()
    if not VIDEOS.is_dir():
        print(json.dumps({"skipped": f"{VIDEOS} not found"}))
        return
    from talkingface.motion.head import RULES, load_head_motion
    from talkingface.train.dataset import find_clips, is_held_out, prepare_clip
    from talkingface.train.head import AXES, MIN_FRAMES, head_segments, head_statistics

    clips = [prepare_clip(s, args.cache) for s in find_clips([VIDEOS, VIDEOS / "train"]) if is_held_out(s.video.name)]
    clips = [c for c in clips if c.valid.sum() >= MIN_FRAMES]
    real = head_statistics(head_segments(clips))
    names = ["spread_deg", "speed_deg_s", "autocorrelation_0.5s", "autocorrelation_1.0s"]
    report = {"clips": len(clips), "real": {a: dict(zip(names, real[:, k].round(3).tolist())) for k, a in enumerate(AXES)}}
    for method, head in {"learned": load_head_motion(), "rules": RULES}.items():
        statistics = head_statistics([ours(c, head, seed) for c in clips for seed in SEEDS], rate=FPS)
        report[method] = {a: dict(zip(names, statistics[:, k].round(3).tolist())) for k, a in enumerate(AXES)}
        report[method]["error"] = errors(statistics, real)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
