"""Lips on speech the recogniser cannot read: Japanese and English singing (dev-data audio).

For each recording: animate a portrait (default lips, words recognised where Whisper is sure), then
report the correlation of the mouth opening (jawOpen) with the loudness and how far the mouth is
open in the pauses, and write a contact sheet: for each recording one row of frames at loud
syllables and one at pauses, each labelled with the time, the loudness and jawOpen.

    python benchmarks/language_sheet.py [--portrait IMAGE] [--sheet docs/language_sheet.jpg]

JSON on stdout. Skips cleanly when ../shared/dev-data is absent.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

DEV = Path(__file__).resolve().parent.parent.parent / "shared" / "dev-data"
RECORDINGS = ("japanese.wav", "singing_en.wav")
PER_ROW = 6


def moments(loudness: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame indices (count,) of the loudest local peaks and of the quietest pause frames, spread out."""
    order = np.argsort(loudness)
    return _spread_out(order[::-1], count), _spread_out(order, count)


def _spread_out(ranked: np.ndarray, count: int, gap: int = 5) -> np.ndarray:
    """The first `count` frames of `ranked` that are more than `gap` frames from any taken before, sorted."""
    taken: list[int] = []
    for index in ranked:
        if all(abs(index - k) > gap for k in taken):
            taken.append(int(index))
        if len(taken) == count:
            break
    return np.sort(taken)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--portrait", type=Path, default=DEV / "portraits" / "adam_schiff_256.jpg")
    parser.add_argument("--sheet", type=Path)
    args = parser.parse_args()
    if not DEV.is_dir():
        print(json.dumps({"skipped": f"{DEV} not found"}))
        return
    from PIL import Image

    from talkingface.audio import analyse_audio, load_audio
    from talkingface.face.avatar import analyse_portrait
    from talkingface.media import contact_sheet, load_image
    from talkingface.motion.generate import MotionOptions, generate_motion
    from talkingface.render.renderer import Renderer, RenderOptions

    renderer = Renderer(analyse_portrait(load_image(args.portrait)), RenderOptions(size=256))
    report, tiles, labels = {}, [], []
    for name in RECORDINGS:
        track = analyse_audio(load_audio(DEV / "audio" / name))
        motion = generate_motion(track, MotionOptions(fps=25.0))
        times = np.arange(motion.frames) / motion.fps
        loudness = np.interp(times, np.arange(track.n_frames) / track.feature_rate, track.loudness_db)
        jaw = motion["jawOpen"]
        speech = np.interp(times, np.arange(track.n_frames) / track.feature_rate, track.speech_activity) > 0.5
        report[name] = {"words_recognised": len(track.words), "jaw_loudness_r": round(float(np.corrcoef(jaw, loudness)[0, 1]), 3),
                        "jaw_in_speech_mean": round(float(jaw[speech].mean()), 3),
                        "jaw_in_pauses_mean": round(float(jaw[~speech].mean()), 3) if (~speech).any() else None}
        for row in moments(loudness, PER_ROW):
            for k in row:
                tiles.append(renderer.render(motion.values[k]))
                labels.append(f"{name[:8]} {times[k]:.2f}s {loudness[k]:.0f}dB jaw {jaw[k]:.2f}")
    if args.sheet:
        args.sheet.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(contact_sheet(tiles, cols=PER_ROW, labels=labels)).save(args.sheet, quality=88)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
