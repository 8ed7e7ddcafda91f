"""Render a contact sheet: a row of frames per portrait, driven by one speech file.

    python benchmarks/contact_sheet.py OUT.jpg AUDIO PORTRAIT [PORTRAIT ...] [--times 0.5,1.2,...]

Each row shows the frames at the given times (seconds) of the animation of that portrait, head crop
at 256 px, labelled with the time and jaw opening. For looking at output, not for tests.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image


def main() -> None:
    from talkingface.audio import analyse_audio, load_audio
    from talkingface.media import contact_sheet
    from talkingface.motion.generate import MotionOptions, generate_motion
    from talkingface.motion.params import PARAMETER_INDEX
    from talkingface.pipeline import prepare_avatar
    from talkingface.render.renderer import Renderer, RenderOptions

    parser = argparse.ArgumentParser()
    parser.add_argument("output")
    parser.add_argument("audio")
    parser.add_argument("portraits", nargs="+")
    parser.add_argument("--times", default="0.4,0.8,1.2,1.6,2.0,2.4,2.8,3.2")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--transcript")
    args = parser.parse_args()
    times = [float(t) for t in args.times.split(",")]
    track = analyse_audio(load_audio(args.audio), transcript=args.transcript)
    motion = generate_motion(track, MotionOptions())
    tiles, labels = [], []
    for portrait in args.portraits:
        renderer = Renderer(prepare_avatar(portrait), RenderOptions(size=args.size))
        for t in times:
            index = min(int(round(t * motion.fps)), motion.frames - 1)
            tiles.append(renderer.render(motion.values[index]))
            jaw = motion.values[index, PARAMETER_INDEX["jawOpen"]]
            labels.append(f"{Path(portrait).stem[:14]} {t:.1f}s jaw {jaw:.2f}")
    sheet = contact_sheet(tiles, cols=len(times), labels=labels)
    Image.fromarray(np.asarray(sheet)).save(args.output, quality=88)


if __name__ == "__main__":
    main()
