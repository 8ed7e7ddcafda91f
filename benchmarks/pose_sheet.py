"""Render the renderer-review contact sheet: every portrait at the poses and expressions the
renderer must handle (extreme yaw/pitch/roll, wide-open mouth, blink, gaze left/right, smile).

    python benchmarks/pose_sheet.py OUT.jpg PORTRAIT [PORTRAIT ...] [--size 256] [--framing crop]

One row per portrait, one column per pose. For looking at output, not for tests.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

POSES: dict[str, dict[str, float]] = {
    "neutral": {},
    "yaw -20": {"headYaw": -20.0},
    "yaw +20": {"headYaw": 20.0},
    "pitch -15": {"headPitch": -15.0},
    "pitch +15": {"headPitch": 15.0},
    "roll +15": {"headRoll": 15.0},
    "jaw 1.0": {"jawOpen": 1.0},
    "blink": {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0},
    "gaze left": {"gaze_right": -1.0},
    "gaze right": {"gaze_right": 1.0},
    "smile": {"mouthSmileLeft": 0.8, "mouthSmileRight": 0.8, "cheekSquintLeft": 0.4,
              "cheekSquintRight": 0.4, "jawOpen": 0.25},
    "yaw 20+talk": {"headYaw": 20.0, "headPitch": 8.0, "jawOpen": 0.6, "eyeLookOutLeft": 0.6,
                    "eyeLookInRight": 0.6},
}


def pose_parameters(pose: dict[str, float]) -> np.ndarray:
    """Motion parameters (P,) for a pose dict of parameter names (plus the 'gaze_right' shorthand)."""
    from talkingface.motion.controls import gaze_offsets
    from talkingface.motion.params import PARAMETER_INDEX, PARAMETERS

    params = np.zeros(len(PARAMETERS), np.float32)
    for name, value in pose.items():
        if name == "gaze_right":
            params += gaze_offsets(value, 0.0)
        else:
            params[PARAMETER_INDEX[name]] = value
    return params


def main() -> None:
    from talkingface.media import contact_sheet
    from talkingface.pipeline import prepare_avatar
    from talkingface.render.renderer import Renderer, RenderOptions

    parser = argparse.ArgumentParser()
    parser.add_argument("output")
    parser.add_argument("portraits", nargs="+")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--poses", help="comma-separated subset of: " + ", ".join(POSES))
    args = parser.parse_args()
    names = args.poses.split(",") if args.poses else list(POSES)
    tiles, labels = [], []
    for portrait in args.portraits:
        renderer = Renderer(prepare_avatar(portrait), RenderOptions(size=args.size))
        for name in names:
            tiles.append(renderer.render(pose_parameters(POSES[name])))
            labels.append(f"{Path(portrait).stem[:12]} {name}")
    sheet = contact_sheet(tiles, cols=len(names), labels=labels)
    Image.fromarray(np.asarray(sheet)).save(args.output, quality=90)


if __name__ == "__main__":
    main()
