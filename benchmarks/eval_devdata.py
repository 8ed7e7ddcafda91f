"""Evaluation benchmark on the real talking clips of ../shared/dev-data/videos/*.mp4.

For every clip:
  (a) the real video's own metrics: the human reference (blinks, head-pose spread, frame-to-frame
      rotation, jitter, A/V offset);
  (b) self-reenactment: talkingface renders the clip's first frame with the clip's own audio (the
      default phonetic path, and the acoustic-only path ``--no-phonetic``), and each render is
      measured against the real clip (lip-sync r, best lag, M-LMD, identity, speed);
  (c) the loudness baseline: a mouth opening equal to the loudness envelope, against the real clip.
Prints a markdown table and a JSON object (per clip and mean). Skips cleanly when dev-data is absent.

    python benchmarks/eval_devdata.py [--json OUT.json] [--variants phonetic,acoustic] [--clips NAME ...]

dev-data is evaluation-only: nothing from it is copied anywhere; renders go to a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
VIDEOS = ROOT.parent / "shared" / "dev-data" / "videos"
VARIANTS = {"phonetic": True, "acoustic": False}


def measure_clip(path: Path, variants: list[str], folder: Path) -> dict:
    """All rows of one clip: real, each render variant, the loudness baseline (as plain dicts)."""
    from talkingface.audio import load_audio
    from talkingface.evaluate import metrics as m
    from talkingface.evaluate.identity import unavailable_reason
    from talkingface.evaluate.run import (
        EvalResult,
        identity_metrics,
        lip_sync,
        loudness_baseline,
        render_self_reenact,
        video_metrics,
    )
    from talkingface.evaluate.tracking import track_video

    start = time.perf_counter()
    real = track_video(path)
    envelope = m.loudness_envelope(load_audio(path).samples)
    rows = {"real": EvalResult(video_metrics(real, envelope=envelope)).to_dict()["video"]}
    timings = {"track_real_s": time.perf_counter() - start}
    for variant in variants:
        output = folder / f"{path.stem}_{variant}.mp4"
        portrait, speed = render_self_reenact(path, output, phonetic=VARIANTS[variant])
        clock = time.perf_counter()
        ours = track_video(output)
        identity = identity_metrics(portrait, ours, anchor="first frame") if unavailable_reason() is None else None
        result = EvalResult(video_metrics(ours, envelope=envelope), lip_sync=lip_sync(ours, real),
                            identity=identity, speed=speed).to_dict()
        timings[f"evaluate_{variant}_s"] = time.perf_counter() - clock
        rows[variant] = {**result["video"], "lip_sync": result["lip_sync"], "identity": result["identity"],
                         "speed": result["speed"]}
    rows["baseline"] = {"lip_sync": EvalResult(None, baseline=loudness_baseline(real, envelope)).to_dict()["baseline"]}
    return {"clip": path.name, "fps": rows["real"]["fps"], "frames": rows["real"]["frames"],
            "rows": rows, "seconds": {k: round(v, 2) for k, v in timings.items()}}


# ------------------------------------------------------------------------------ table


def _get(row: dict, *keys: str) -> float | None:
    value: object = row
    for key in keys:
        if not isinstance(value, dict) or value.get(key) is None:
            return None
        value = value[key]
    return value if isinstance(value, (int, float)) else None


def _num(value: float | None, pattern: str = "{:.2f}") -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else pattern.format(value)


COLUMNS = [  # every number averaged in the "mean" rows: (path into a row)
    ("lip_sync", "correlation"), ("lip_sync", "best_correlation"), ("lip_sync", "best_lag_ms"),
    ("lip_sync", "mlmd_pct_iod"), ("lip_sync", "amplitude_ratio"), ("mouth_opening_mean",),
    ("mouth_opening_std",), ("blink_rate_per_min",), ("pose_std_deg", "yaw"), ("pose_std_deg", "pitch"),
    ("pose_std_deg", "roll"), ("rotation_deg_per_frame",), ("jitter_pct_iod",), ("av_offset", "lag_ms"),
    ("av_offset", "peak_correlation"), ("identity", "mean_distance"), ("speed", "fps"),
    ("speed", "real_time_factor"), ("face_detect_rate",),
]
LABELS = {"real": "real (human)", "phonetic": "ours", "acoustic": "ours, --no-phonetic",
          "baseline": "loudness baseline"}


def mean_rows(clips: list[dict]) -> dict[str, dict]:
    """Per-source mean of every column over the clips (absent when no clip has it)."""
    means: dict[str, dict] = {}
    for source in clips[0]["rows"]:
        row: dict = {}
        for keys in COLUMNS:
            values = [v for clip in clips if (v := _get(clip["rows"].get(source, {}), *keys)) is not None]
            if values:
                target = row
                for key in keys[:-1]:
                    target = target.setdefault(key, {})
                target[keys[-1]] = sum(values) / len(values)
        means[source] = row
    return means


def _sync(row: dict) -> tuple[str, str, str]:
    """(r at lag 0, best r with its lag, M-LMD) cells of a row."""
    best = _get(row, "lip_sync", "best_correlation")
    lag = _get(row, "lip_sync", "best_lag_ms")
    return (_num(_get(row, "lip_sync", "correlation")),
            f"{_num(best)} ({_num(lag, '{:+.0f}')} ms)" if best is not None else "–",
            _num(_get(row, "lip_sync", "mlmd_pct_iod"), "{:.1f}"))


def markdown(clips: list[dict], means: dict[str, dict]) -> str:
    """Two markdown tables: lip-sync against the real clip, and each video's own liveliness."""
    blocks = [(f"{c['clip']} ({c['fps']:.0f} fps)", c["rows"]) for c in clips] + [("**mean**", means)]
    renders = [s for s in means if s not in ("real", "baseline")]
    head = ["clip"]
    for source in renders + ["baseline"]:
        label = LABELS.get(source, source)
        head += [f"{label}: r", f"{label}: best r (lag)"] + ([f"{label}: M-LMD %IOD"] if source != "baseline" else [])
    head += [f"{LABELS.get(s, s)}: opening std / real" for s in renders]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, rows in blocks:
        cells = [name]
        for source in renders + ["baseline"]:
            r, best, mlmd = _sync(rows.get(source, {}))
            cells += [r, best] + ([mlmd] if source != "baseline" else [])
        cells += [_num(_get(rows.get(s, {}), "lip_sync", "amplitude_ratio")) for s in renders]
        lines.append("| " + " | ".join(cells) + " |")

    head = ["clip", "source", "blinks/min", "pose std yaw/pitch/roll °", "rotation °/frame", "jitter %IOD",
            "mouth opening mean/std (IOD)", "A/V lag ms (r)", "identity dist.", "fps (RTF)"]
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, rows in blocks:
        for source, row in rows.items():
            if source == "baseline":
                continue
            pose = "/".join(_num(_get(row, "pose_std_deg", k), "{:.1f}") for k in ("yaw", "pitch", "roll"))
            opening = "/".join(_num(_get(row, k), "{:.3f}") for k in ("mouth_opening_mean", "mouth_opening_std"))
            lag, fps = _get(row, "av_offset", "lag_ms"), _get(row, "speed", "fps")
            av = "–" if lag is None else f"{lag:+.0f} ({_num(_get(row, 'av_offset', 'peak_correlation'))})"
            speed = "–" if fps is None else f"{fps:.0f} ({_num(_get(row, 'speed', 'real_time_factor'))})"
            lines.append("| " + " | ".join([
                name, LABELS.get(source, source), _num(_get(row, "blink_rate_per_min"), "{:.0f}"), pose,
                _num(_get(row, "rotation_deg_per_frame")), _num(_get(row, "jitter_pct_iod")), opening, av,
                _num(_get(row, "identity", "mean_distance")), speed]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="also write the JSON here")
    parser.add_argument("--variants", default="phonetic,acoustic",
                        help="renders to compare: phonetic, acoustic (comma separated)")
    parser.add_argument("--clips", nargs="*", help="only these clip names (default: all)")
    args = parser.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    if not set(variants) <= set(VARIANTS):
        parser.error(f"--variants: choose from {sorted(VARIANTS)}")
    paths = sorted(VIDEOS.glob("*.mp4")) if VIDEOS.is_dir() else []
    if args.clips:
        paths = [p for p in paths if p.stem in args.clips or p.name in args.clips]
    if not paths:
        print(f"eval_devdata: no clips in {VIDEOS}; skipped", file=sys.stderr)
        return 0
    clips = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="talkingface-evalbench-") as folder:
        for path in paths:
            print(f"eval_devdata: {path.name}", file=sys.stderr, flush=True)
            clips.append(measure_clip(path, variants, Path(folder)))
    means = mean_rows(clips)
    report = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "processor": platform.processor() or platform.machine()},
              "seconds": round(time.perf_counter() - start, 1), "clips": clips, "mean": means}
    print(markdown(clips, means))
    print()
    text = json.dumps(report, indent=2, allow_nan=False)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
