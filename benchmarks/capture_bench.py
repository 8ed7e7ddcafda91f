"""Motion-capture reconstruction benchmark on the dev-data talking videos.

For each clip: capture its motion, render its first frame with the captured motion and the clip's own
audio (full framing, the clip's frame rate), re-track the real clip and the render with the same
tracker, and compare frame by frame: mouth-opening correlation and amplitude ratio, head yaw/pitch/roll
correlation, eye-openness correlation. This is the ceiling of every audio-driven result: what the rig
can reproduce of a real performance. Prints a table to stderr and JSON to stdout; with --sheet, also a
contact sheet of real | reconstruction frames.

    python benchmarks/capture_bench.py [--clips NAME ...] [--sheet docs/capture_sheet.jpg]

Skips cleanly (exit 0, a note) when ../shared/dev-data is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from devdata import VIDEOS, dev_clips, first_face_frame, track

TARGETS = {"mouth": 0.85, "roll": 0.85, "yaw": 0.75, "eyes": 0.6}


def reconstruct(video: Path, audio: Path, folder: Path) -> dict:
    from talkingface.evaluate.compare import compare_tracks
    from talkingface.mocap import capture_video
    from talkingface.pipeline import AnimateOptions, animate

    start = time.perf_counter()
    captured = capture_video(video)
    capture_s = time.perf_counter() - start
    portrait = first_face_frame(video)
    output = folder / f"{video.stem}.mp4"
    animate(portrait, audio, output, AnimateOptions(fps=captured.motion.fps, framing="full", phonetic=False),
            motion=captured.motion)
    real, ours = track(video), track(output)
    comparison = compare_tracks(ours.track, real.track)
    row = {"clip": video.name, "frames": captured.frames_read, "capture_fps": captured.frames_read / capture_s,
           "fit_error": captured.fit_error, "missing_spans": len(captured.gaps.missing)}
    for name, match in asdict(comparison).items():
        row[name] = match
    return {"row": row, "real": real, "ours": ours}


def summary(rows: list[dict]) -> dict:
    def mean(name: str, field: str) -> float:
        values = [r[name][field] for r in rows if np.isfinite(r[name][field])]
        return float(np.mean(values)) if values else float("nan")

    out = {name: {"r": mean(name, "correlation"), "amplitude_ratio": mean(name, "amplitude_ratio")}
           for name in ("mouth", "yaw", "pitch", "roll", "eyes")}
    out["capture_fps"] = float(np.mean([r["capture_fps"] for r in rows]))
    out["targets"] = TARGETS
    return out


def print_table(rows: list[dict], totals: dict) -> None:
    head = f"{'clip':58s} {'mouth r':>7s} {'amp':>5s} {'yaw':>5s} {'pitch':>5s} {'roll':>5s} {'eyes':>5s} {'fps':>5s}"
    print(head, file=sys.stderr)
    for r in rows:
        print(f"{r['clip'][:58]:58s} {r['mouth']['correlation']:7.2f} {r['mouth']['amplitude_ratio']:5.2f} "
              f"{r['yaw']['correlation']:5.2f} {r['pitch']['correlation']:5.2f} {r['roll']['correlation']:5.2f} "
              f"{r['eyes']['correlation']:5.2f} {r['capture_fps']:5.0f}", file=sys.stderr)
    print(f"{'mean':58s} {totals['mouth']['r']:7.2f} {totals['mouth']['amplitude_ratio']:5.2f} "
          f"{totals['yaw']['r']:5.2f} {totals['pitch']['r']:5.2f} {totals['roll']['r']:5.2f} "
          f"{totals['eyes']['r']:5.2f} {totals['capture_fps']:5.0f}", file=sys.stderr)


def contact_sheet(results: list[dict], path: Path, per_clip: int = 4) -> None:
    """Rows of real | reconstruction frame pairs at evenly spread times, for up to six clips."""
    import cv2
    from PIL import Image

    from talkingface.media import contact_sheet as tile

    tiles, labels = [], []
    for result in results[:6]:
        real, ours = result["real"].samples, result["ours"].samples
        picks = np.linspace(0, min(len(real), len(ours)) - 1, per_clip).round().astype(int)
        for k in picks:
            pair = [cv2.resize(s.image, (192, 192), interpolation=cv2.INTER_AREA) for s in (real[k], ours[k])]
            tiles.append(np.concatenate(pair, axis=1))
            labels.append(f"{result['row']['clip'][:22]} {real[k].time_s:.1f}s")
    Image.fromarray(tile(tiles, cols=per_clip, labels=labels)).save(path, quality=88)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", nargs="*", help="only clips whose file name contains one of these")
    parser.add_argument("--sheet", type=Path, help="write a real | reconstruction contact sheet here")
    args = parser.parse_args()
    from talkingface.errors import TalkingFaceError

    if not VIDEOS.is_dir():
        print(json.dumps({"skipped": f"{VIDEOS} not found"}))
        return
    clips = [c for c in dev_clips() if not args.clips or any(k in c[0].name for k in args.clips)]
    results, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="capture-bench-") as folder:
        for video, audio in clips:
            print(f"capturing {video.name}", file=sys.stderr)
            try:
                results.append(reconstruct(video, audio, Path(folder)))
            except TalkingFaceError as error:  # e.g. a face too small to animate
                print(f"skipped {video.name}: {error}", file=sys.stderr)
                skipped.append({"clip": video.name, "reason": str(error)})
        rows = [r["row"] for r in results]
        totals = summary(rows)
        print_table(rows, totals)
        if args.sheet:
            contact_sheet(results, args.sheet)
    print(json.dumps({"clips": rows, "mean": totals, "skipped": skipped}, indent=1, default=float))


if __name__ == "__main__":
    main()
