"""Motion stage: visemes -> lips with coarticulation, and the seeded performance around them."""

from __future__ import annotations

import numpy as np
import pytest

from talkingface.errors import OptionError
from talkingface.motion.generate import MotionOptions, generate_motion
from talkingface.motion.lips import ANTICIPATION_S
from tests.synthetic import REAL_HEAD_JERK_DEG, make_track, syllables

def at(motion, name: str, t: float) -> float:
    return float(motion[name][int(round(t * motion.fps))])


@pytest.fixture(scope="module")
def papa():
    segments = syllables(["P", "AA", "P", "AA", "M", "AA", "F", "UW", "S", "IY"])
    return segments, generate_motion(make_track(segments, segments[-1][2]), MotionOptions(seed=1))


def centre(segment) -> float:
    """Where a viseme peaks: its segment's middle, less the lips' anticipation of the sound."""
    return 0.5 * (segment[1] + segment[2]) - ANTICIPATION_S


def test_bilabials_close_lips_and_open_vowels_open_jaw(papa):
    segments, motion = papa
    for segment in segments:
        if segment[0] in ("P", "M"):
            assert at(motion, "mouthClose", centre(segment)) > 0.5
        if segment[0] == "AA":
            assert at(motion, "jawOpen", centre(segment)) > 0.2
    vowel = next(s for s in segments if s[0] == "AA")
    bilabial = next(s for s in segments if s[0] == "P")
    assert at(motion, "jawOpen", centre(vowel)) > at(motion, "jawOpen", centre(bilabial))


def test_rounded_vowel_puckers_and_f_tucks_lip(papa):
    segments, motion = papa
    uw = next(s for s in segments if s[0] == "UW")
    iy = next(s for s in segments if s[0] == "IY")
    f = next(s for s in segments if s[0] == "F")
    assert at(motion, "mouthPucker", centre(uw)) > at(motion, "mouthPucker", centre(iy)) + 0.3
    assert at(motion, "mouthStretchLeft", centre(iy)) > at(motion, "mouthStretchLeft", centre(uw))
    assert at(motion, "mouthRollLower", centre(f)) > 0.3


def test_silence_keeps_mouth_closed(papa):
    _, motion = papa
    assert at(motion, "jawOpen", 0.3) < 0.02
    assert motion["jawOpen"][-5:].max() < 0.02


def test_no_popping(papa):
    _, motion = papa
    jaw = motion["jawOpen"]
    assert np.abs(np.diff(jaw)).max() < 0.25
    for name, bound in zip(("headYaw", "headPitch", "headRoll"), REAL_HEAD_JERK_DEG):
        assert np.abs(np.diff(motion[name], 2)).max() < bound  # smoother than 99 % of real speakers' frames


def test_articulation_scales_lips():
    segments = syllables(["B", "AA", "B", "AA"])
    track = make_track(segments, segments[-1][2])
    normal = generate_motion(track, MotionOptions(articulation=1.0))["jawOpen"].max()
    weak = generate_motion(track, MotionOptions(articulation=0.5))["jawOpen"].max()
    assert weak == pytest.approx(0.5 * normal, rel=0.05)


def test_performance_is_seeded_alive_and_human_scaled():
    segments = syllables(["HH", "AH", "L", "OW"] * 40, step=0.1)
    track = make_track(segments, segments[-1][2])
    motion = generate_motion(track, MotionOptions(seed=5))
    again = generate_motion(track, MotionOptions(seed=5))
    other = generate_motion(track, MotionOptions(seed=6))
    assert np.array_equal(motion.values, again.values)
    assert not np.allclose(motion["headYaw"], other["headYaw"])
    for name in ("headYaw", "headPitch", "headRoll"):
        assert 0.3 < motion[name].std() < 8.0
        assert np.abs(motion[name]).max() < 20
    blinks = np.sum(np.diff((motion["eyeBlinkLeft"] > 0.5).astype(int)) == 1)
    minutes = motion.duration_s / 60
    assert 4 <= blinks / minutes <= 45
    still = generate_motion(track, MotionOptions(seed=5, head_motion=0.0))
    assert np.abs(still["headYaw"]).max() == 0


def test_motion_duration_matches_audio():
    track = make_track([("SIL", 0.0, 2.03)], 2.03)
    for fps in (24.0, 25.0, 30.0, 60.0):
        motion = generate_motion(track, MotionOptions(fps=fps))
        assert abs(motion.duration_s - 2.03) <= 1.0 / fps


def test_bad_motion_options():
    for field, value in (("fps", 0.0), ("articulation", -1.0), ("blink_rate", 100.0), ("seed", -2)):
        with pytest.raises(OptionError, match=field):
            MotionOptions(**{field: value})


def test_short_clip_head_motion_stays_small():
    """A clip much shorter than the slow drift's period must not blow the drift up."""
    segments = syllables(["HH", "AH", "L", "OW"], start=0.3)
    track = make_track(segments, 1.2)
    for seed in range(5):
        motion = generate_motion(track, MotionOptions(seed=seed))
        for name in ("headYaw", "headPitch", "headRoll"):
            assert np.abs(motion[name]).max() < 12
