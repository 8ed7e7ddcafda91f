"""Lip-sync benchmark on held-out real talking clips (speakers the shipped models never trained on).

For each clip of talkingface.train.dataset.HELD_OUT and each method: animate the clip's first frame
with a face with the clip's own audio (full framing, the clip's frame rate), re-track the render and
the real clip with the same tracker, and correlate the mouth opening frame by frame. Reports per clip
and mean: r at lag 0, the amplitude ratio (std ours / std real), the best lag (positive: ours late).

    python benchmarks/lipsync.py [--methods learned rules ...] [--clips NAME ...]

Methods: learned (the default: the offline model from Whisper's encoder states and the recognised
words), learned_acoustic (`--no-phonetic`: the engine's live model from log-mel alone, offline),
live (the streaming engine, 60 ms look-ahead), auto (rule-based lips where words are recognised,
the engine's acoustic lips elsewhere), rules (the old rule-based coarticulation with recognised
words), rules_acoustic (the old loudness-driven jaw). JSON on stdout, a table on stderr.
Skips cleanly when ../shared/dev-data is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from devdata import VIDEOS, first_face_frame, held_out_clips, track

METHODS = {
    "auto": {"lips": "auto", "phonetic": True},
    "learned": {"lips": "learned", "phonetic": True},
    "learned_acoustic": {"lips": "learned", "phonetic": False},
    "live": {"lips": "live"},
    "rules": {"lips": "rules", "phonetic": True},
    "rules_acoustic": {"lips": "rules", "phonetic": False},
}


def render(method: str, portrait: np.ndarray, audio: Path, fps: float, output: Path) -> None:
    from talkingface.pipeline import AnimateOptions, animate

    settings = dict(METHODS[method])
    if settings["lips"] == "live":
        render_live(portrait, audio, fps, output)
        return
    animate(portrait, audio, output, AnimateOptions(fps=fps, framing="full", **settings))


def render_live(portrait: np.ndarray, audio: Path, fps: float, output: Path) -> None:
    """The streaming engine fed 40 ms chunks, its frames rendered in full framing."""
    from talkingface.audio import load_audio
    from talkingface.media import VideoWriter
    from talkingface.pipeline import prepare_avatar
    from talkingface.render.renderer import Renderer, RenderOptions
    from talkingface.stream import MotionStream, StreamOptions

    sound = load_audio(audio)
    stream = MotionStream(StreamOptions(fps=fps))
    renderer = Renderer(prepare_avatar(portrait), RenderOptions(framing="full"))
    width, height = renderer.frame_size
    with VideoWriter(output, fps=fps, width=width, height=height, audio=sound.samples) as writer:
        chunk = 640
        frames = []
        for start in range(0, sound.samples.size, chunk):
            frames += stream.push(sound.samples[start:start + chunk])
        frames += stream.flush()
        for frame in frames:
            writer.write(renderer.render(frame.params))


def evaluate_clip(video: Path, audio: Path, methods: list[str], folder: Path, pairs: list | None = None) -> dict:
    """Metrics of every method on one clip; with `pairs`, appends (real, ours, label) face crops of the
    first method at the real speaker's widest mouth openings."""
    from talkingface.evaluate.compare import compare_tracks
    from talkingface.media import probe_video

    fps = probe_video(video).fps
    portrait = first_face_frame(video)
    real = track(video)
    row = {"clip": video.name}
    for method in methods:
        output = folder / f"{video.stem}-{method}.mp4"
        render(method, portrait, audio, fps, output)
        ours = track(output)
        mouth = compare_tracks(ours.track, real.track).mouth
        row[method] = {"r": mouth.correlation, "amplitude_ratio": mouth.amplitude_ratio,
                       "best_lag_ms": mouth.best_lag_ms, "best_r": mouth.best_correlation}
        if pairs is not None and method == methods[0]:
            pairs.extend(widest_openings(real, ours, video.name))
        output.unlink()
    return row


def widest_openings(real, ours, name: str, count: int = 3) -> list:
    """(real crop, our crop, label) at the sampled frames where the real mouth is open widest."""
    from talkingface.evaluate.metrics import mouth_opening

    ours_at = {sample.index: sample for sample in ours.samples}
    shared = [s for s in real.samples if s.index in ours_at]
    if not shared:
        return []
    opening = mouth_opening(np.stack([s.points for s in shared]))
    picks = np.argsort(-np.nan_to_num(opening))[:count]
    return [(shared[k].image, ours_at[shared[k].index].image, f"{name[:20]} {shared[k].time_s:.1f}s")
            for k in sorted(picks)]


def save_sheet(pairs: list, path: Path) -> None:
    import cv2
    from PIL import Image

    from talkingface.media import contact_sheet

    tiles = [np.concatenate([cv2.resize(a, (192, 192)), cv2.resize(b, (192, 192))], axis=1) for a, b, _ in pairs]
    Image.fromarray(contact_sheet(tiles, cols=3, labels=[label for _, _, label in pairs])).save(path, quality=88)


def main() -> None:
    from talkingface.errors import TalkingFaceError

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="*", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--clips", nargs="*", help="only held-out clips whose name contains one of these")
    parser.add_argument("--sheet", type=Path, help="write real | ours face crops of the first method at the "
                                                    "real speakers' widest openings (six clips) here")
    args = parser.parse_args()
    if not VIDEOS.is_dir():
        print(json.dumps({"skipped": f"{VIDEOS} not found"}))
        return
    clips = held_out_clips(args.clips)
    rows, skipped, pairs = [], [], []
    with tempfile.TemporaryDirectory(prefix="lipsync-") as folder:
        for video, audio in clips:
            print(f"clip {video.name}", file=sys.stderr)
            try:
                rows.append(evaluate_clip(video, audio, args.methods, Path(folder),
                                          pairs if args.sheet and len(rows) < 6 else None))
            except TalkingFaceError as error:  # e.g. a face too small to animate
                print(f"skipped {video.name}: {error}", file=sys.stderr)
                skipped.append({"clip": video.name, "reason": str(error)})
    means = {m: {k: float(np.nanmean([r[m][k] for r in rows])) for k in ("r", "amplitude_ratio", "best_lag_ms")}
             for m in args.methods}
    print(f"{'clip':44s}" + "".join(f"{m:>18s}" for m in args.methods), file=sys.stderr)
    for r in rows:
        print(f"{r['clip'][:44]:44s}" + "".join(f"{r[m]['r']:8.2f} ({r[m]['amplitude_ratio']:4.2f}x)  "
                                                  for m in args.methods), file=sys.stderr)
    print(f"{'mean':44s}" + "".join(f"{means[m]['r']:8.2f} ({means[m]['amplitude_ratio']:4.2f}x)  "
                                     for m in args.methods), file=sys.stderr)
    if args.sheet and pairs:
        save_sheet(pairs, args.sheet)
    print(json.dumps({"clips": rows, "mean": means, "skipped": skipped}, indent=1, default=float))


if __name__ == "__main__":
    main()
