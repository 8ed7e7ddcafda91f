"""Visual-dubbing benchmark on the dev-data talking videos (held-out speakers).

For each clip of talkingface.train.dataset.HELD_OUT:
- self-dub: the clip re-lipped with its own audio; its re-tracked mouth opening is correlated with the
  real speaker's, frame by frame (r, amplitude ratio), beside the self-reenactment of the same clip
  (its first frame animated with the same audio, benchmarks/lipsync.py's "learned" method), which
  has the same lips on a photo; luma PSNR of the dub against the source outside the lower face;
- cross-dub: the clip re-lipped with the next clip's speech; the correlation of the dubbed mouth with
  the new speech's loudness, against the original mouth's correlation with it (no relation: about 0)
  and the original mouth's with its own speech's loudness (what a real speaker shows); and the
  dubbed mouth's correlation with the original mouth (what of the old mouth shows through);
- speed: video frames per second of the whole dub (tracking, speech analysis, re-lip, encoding).
Also the speed on a 720p clip (noisy_restaurant, 1280x720 25 fps). JSON on stdout, a table on stderr.

    python benchmarks/dub_bench.py [--clips NAME ...] [--no-reenactment] [--sheet docs/dub_sheet.jpg]

Skips cleanly when ../shared/dev-data is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from devdata import VIDEOS, dev_clips, first_face_frame, held_out_clips, track

SPEED_CLIP = "noisy_restaurant"


def dub(video: Path, audio: Path, output: Path, **options) -> tuple[object, float]:
    from talkingface.dub import DubOptions, dub_video

    start = time.perf_counter()
    result = dub_video(video, audio, output, DubOptions(**options))
    return result, time.perf_counter() - start


def lower_face_psnr(source: Path, dubbed: Path, points: np.ndarray) -> tuple[float, float]:
    """(worst, median) per-frame luma PSNR (dB) of dubbed against source outside the lower face: the
    box from 0.12 face heights beyond the face's sides, from just above the nose tip down to 0.25
    face heights below the chin (real track points (T, 478, 3)); frames without a face compare whole."""
    from talkingface.media import iter_video_frames

    values = []
    frames = zip(iter_video_frames(source, i420=True), iter_video_frames(dubbed, i420=True))
    for k, ((_, a), (_, b)) in enumerate(frames):
        height = a.shape[0] * 2 // 3
        ya, yb = a[:height].astype(np.float64), b[:height].astype(np.float64)
        keep = np.ones(ya.shape, bool)
        if k < len(points) and np.isfinite(points[k, 0, 0]):
            p = points[k]
            face_h = float(np.linalg.norm(p[10, :2] - p[152, :2]))
            x0, x1 = int(p[:, 0].min() - 0.12 * face_h), int(p[:, 0].max() + 0.12 * face_h) + 1
            y0, y1 = int(p[1, 1] - 0.03 * face_h), int(p[152, 1] + 0.25 * face_h) + 1
            keep[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = False
        mse = max(float(np.mean((ya[keep] - yb[keep]) ** 2)), 1e-10)
        values.append(10 * np.log10(255.0 ** 2 / mse))
    return float(np.min(values)), float(np.median(values))


def loudness_at(audio: Path, times: np.ndarray) -> np.ndarray:
    from talkingface.audio import analyse_audio, load_audio

    sound = analyse_audio(load_audio(audio), phonetic=False)
    rate_times = np.arange(sound.loudness_db.size) / sound.feature_rate
    return np.interp(times, rate_times, sound.loudness_db)


def corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 10 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def evaluate_clip(video: Path, audio: Path, other_audio: Path, folder: Path, reenact: bool, pairs: list | None
                  ) -> dict:
    from talkingface.evaluate.compare import compare_tracks
    from talkingface.evaluate.metrics import mouth_opening
    from talkingface.media import probe_video

    real = track(video)
    row: dict = {"clip": video.name}
    output = folder / f"{video.stem}-self.mp4"
    result, seconds = dub(video, audio, output)
    ours = track(output)
    mouth = compare_tracks(ours.track, real.track).mouth
    worst, median = lower_face_psnr(video, output, real.track.points)
    row["self_dub"] = {"r": mouth.correlation, "amplitude_ratio": mouth.amplitude_ratio,
                       "psnr_outside_lower_face_db": worst, "psnr_outside_lower_face_median_db": median,
                       "fps": result.frames / seconds, "interior": result.interior}
    if pairs is not None:
        pairs.extend(sheet_pairs(real, ours, video.name))
    output.unlink()
    if reenact:
        from lipsync import render

        photo = folder / f"{video.stem}-photo.mp4"
        render("learned", first_face_frame(video), audio, probe_video(video).fps, photo)
        row["self_reenactment"] = {"r": compare_tracks(track(photo).track, real.track).mouth.correlation}
        photo.unlink()
    output = folder / f"{video.stem}-cross.mp4"
    result, seconds = dub(video, other_audio, output)
    crossed = track(output)
    new_loud = loudness_at(other_audio, crossed.track.times)
    own_loud = loudness_at(audio, real.track.times)
    original = mouth_opening(real.track.points)
    dubbed = mouth_opening(crossed.track.points)
    n = min(len(original), len(crossed.track.times))
    row["cross_dub"] = {"new_mouth_vs_new_loudness": corr(dubbed, new_loud),
                        "original_mouth_vs_new_loudness": corr(original[:n], new_loud[:n]),
                        "new_mouth_vs_original_mouth": corr(dubbed[:n], original[:n]),
                        "original_mouth_vs_own_loudness": corr(original, own_loud),
                        "fps": result.frames / seconds}
    output.unlink()
    return row


def sheet_pairs(real, ours, name: str, count: int = 2) -> list:
    """(original crop, dubbed crop, label) at the frames where the dubbed mouth differs most from the
    original's (one wide open, one closed where the original is open)."""
    from talkingface.evaluate.metrics import mouth_opening

    at = {s.index: s for s in ours.samples}
    shared = [s for s in real.samples if s.index in at]
    if not shared:
        return []
    difference = (mouth_opening(np.stack([at[s.index].points for s in shared]))
                  - mouth_opening(np.stack([s.points for s in shared])))
    if not np.isfinite(difference).any():
        return []
    picks = list(dict.fromkeys([int(np.nanargmax(difference)), int(np.nanargmin(difference))]))[:count]
    return [(shared[k].image, at[shared[k].index].image, f"{name[:18]} {shared[k].time_s:.1f}s") for k in picks]


def save_sheet(pairs: list, path: Path) -> None:
    import cv2
    from PIL import Image

    from talkingface.media import contact_sheet

    tiles = [np.concatenate([cv2.resize(a, (224, 224)), cv2.resize(b, (224, 224))], axis=1) for a, b, _ in pairs]
    Image.fromarray(contact_sheet(tiles, cols=2, labels=[label for _, _, label in pairs])).save(path, quality=88)


def speed_720p(folder: Path) -> dict:
    clips = [(v, a) for v, a in dev_clips() if SPEED_CLIP in v.name]
    if not clips:
        return {"skipped": f"{SPEED_CLIP} not found"}
    video, audio = clips[0]
    out = {}
    for label, options in (("with_recognition", {}), ("no_phonetic", {"phonetic": False})):
        result, seconds = dub(video, audio, folder / "speed.mp4", **options)
        out[label] = {"fps": result.frames / seconds, "frames": result.frames,
                      "size": [result.width, result.height], "timings_s": result.timings}
    return out


def mean(rows: list[dict], part: str, key: str) -> float:
    values = [r[part][key] for r in rows if part in r and np.isfinite(r[part][key])]
    return float(np.mean(values)) if values else float("nan")


def main() -> None:
    from talkingface.errors import TalkingFaceError

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", nargs="*", help="only held-out clips whose name contains one of these")
    parser.add_argument("--no-reenactment", action="store_true", help="skip the self-reenactment comparison")
    parser.add_argument("--sheet", type=Path, help="write original | dubbed face crops of six clips here")
    args = parser.parse_args()
    if not VIDEOS.is_dir():
        print(json.dumps({"skipped": f"{VIDEOS} not found"}))
        return
    clips = held_out_clips(args.clips)
    rows, skipped, pairs = [], [], []
    with tempfile.TemporaryDirectory(prefix="dub-bench-") as name:
        folder = Path(name)
        for i, (video, audio) in enumerate(clips):
            other = clips[(i + 1) % len(clips)][1] if len(clips) > 1 else audio
            print(f"clip {video.name}", file=sys.stderr)
            try:
                rows.append(evaluate_clip(video, audio, other, folder, not args.no_reenactment,
                                          pairs if args.sheet and len(rows) < 6 else None))
            except TalkingFaceError as error:
                print(f"skipped {video.name}: {error}", file=sys.stderr)
                skipped.append({"clip": video.name, "reason": str(error)})
        speed = speed_720p(folder)
    summary = {"self_dub_r": mean(rows, "self_dub", "r"),
               "self_reenactment_r": mean(rows, "self_reenactment", "r"),
               "self_dub_amplitude_ratio": mean(rows, "self_dub", "amplitude_ratio"),
               "psnr_outside_lower_face_db_mean_of_worst": mean(rows, "self_dub", "psnr_outside_lower_face_db"),
               "psnr_outside_lower_face_db_lowest": min((r["self_dub"]["psnr_outside_lower_face_db"] for r in rows),
                                                        default=float("nan")),
               "psnr_outside_lower_face_db_mean_of_medians": mean(rows, "self_dub", "psnr_outside_lower_face_median_db"),
               "cross_new_mouth_vs_new_loudness": mean(rows, "cross_dub", "new_mouth_vs_new_loudness"),
               "cross_original_mouth_vs_new_loudness": mean(rows, "cross_dub", "original_mouth_vs_new_loudness"),
               "original_mouth_vs_own_loudness": mean(rows, "cross_dub", "original_mouth_vs_own_loudness"),
               "cross_new_mouth_vs_original_mouth": mean(rows, "cross_dub", "new_mouth_vs_original_mouth"),
               "dub_fps": mean(rows, "self_dub", "fps"), "speed_720p": speed}
    print(f"{'clip':44s} {'dub r':>6s} {'photo r':>7s} {'amp':>5s} {'psnr':>5s} {'x new':>6s} {'x orig':>6s} "
          f"{'fps':>5s}", file=sys.stderr)
    for r in rows:
        print(f"{r['clip'][:44]:44s} {r['self_dub']['r']:6.2f} {r.get('self_reenactment', {}).get('r', np.nan):7.2f} "
              f"{r['self_dub']['amplitude_ratio']:5.2f} {r['self_dub']['psnr_outside_lower_face_db']:5.1f} "
              f"{r['cross_dub']['new_mouth_vs_new_loudness']:6.2f} "
              f"{r['cross_dub']['original_mouth_vs_new_loudness']:6.2f} {r['self_dub']['fps']:5.1f}", file=sys.stderr)
    if args.sheet and pairs:
        save_sheet(pairs, args.sheet)
    print(json.dumps({"mean": summary, "clips": rows, "skipped": skipped}, indent=1, default=float))


if __name__ == "__main__":
    main()
