"""Noise robustness of the lips: motion from dev-data's speech_noisy_0db.wav (the same speech with noise
at about 0 dB SNR) against motion from speech_clean.wav, for each lips method.

Reports per method: correlation of jawOpen and of mouthClose (noisy vs clean) and the amplitude ratio
(std noisy / std clean). Targets of the issue: jawOpen r >= 0.9, mouthClose r >= 0.7, no loss of
amplitude. JSON on stdout. Skips cleanly when ../shared/dev-data is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

AUDIO = Path(__file__).resolve().parent.parent.parent / "shared" / "dev-data" / "audio"
METHODS = {"learned": ("learned", True), "learned_acoustic": ("learned", False),
           "rules": ("rules", True), "rules_acoustic": ("rules", False)}


def motion_of(path: Path, lips: str, phonetic: bool):
    from talkingface.audio import analyse_audio, load_audio
    from talkingface.motion.generate import MotionOptions, generate_motion

    track = analyse_audio(load_audio(path), phonetic=phonetic)
    return generate_motion(track, MotionOptions(lips=lips, seed=0))


def main() -> None:
    clean, noisy = AUDIO / "speech_clean.wav", AUDIO / "speech_noisy_0db.wav"
    if not (clean.is_file() and noisy.is_file()):
        print(json.dumps({"skipped": f"{AUDIO} has no speech_clean.wav / speech_noisy_0db.wav"}))
        return
    report = {}
    for name, (lips, phonetic) in METHODS.items():
        a, b = motion_of(clean, lips, phonetic), motion_of(noisy, lips, phonetic)
        count = min(a.frames, b.frames)
        row = {}
        for parameter in ("jawOpen", "mouthClose"):
            x, y = a[parameter][:count], b[parameter][:count]
            row[parameter] = {"r": round(float(np.corrcoef(x, y)[0, 1]), 3) if x.std() and y.std() else None,
                              "amplitude_ratio": round(float(y.std() / x.std()), 3) if x.std() else None}
        report[name] = row
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
