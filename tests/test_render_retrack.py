"""Re-tracking proof for the renderer: render known parameter values, re-track the frames with the face
tracker and check that what comes back follows the request.

Every frame is a 384 px head crop of the bundled portrait (examples/astronaut.jpg), rendered once and
tracked once per module (MediaPipe 478-point mesh through ``talkingface.face.landmarks.detect_faces``),
then measured with the evaluation metrics (``talkingface.evaluate.metrics``) and dlib face embeddings
(``talkingface.evaluate.identity``). Tolerances are named constants below; each comes with the values
measured when it was set, so that a change in the renderer shows up as a number, not a feeling.

Units: mouth opening in inter-ocular distances (IOD), eye aspect ratio (EAR) as in the metrics module,
iris offsets in eye widths (corner to corner), angles in degrees, identity as dlib embedding distance.
Run with ``-s`` to see the measured table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from talkingface.evaluate import metrics
from talkingface.evaluate.identity import (
    SAME_PERSON_THRESHOLD,
    FaceEmbedder,
    unavailable_reason,
)
from talkingface.face import topology as tp
from talkingface.face.landmarks import detect_faces
from talkingface.motion.controls import gaze_offsets
from talkingface.motion.params import PARAMETER_INDEX, PARAMETERS
from talkingface.render.renderer import Renderer, RenderOptions

SIZE = 384  # px, side of the rendered head crop

# ---------------------------------------------------------------------------------------------- requests

JAW_LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)
BLINK_LEVELS = (0.0, 0.5, 1.0)
YAW_STEPS = (-20.0, -10.0, 0.0, 10.0, 20.0)
PITCH_STEPS = (-15.0, -7.5, 0.0, 7.5, 15.0)
ROLL_STEPS = (-15.0, -7.5, 0.0, 7.5, 15.0)
GAZES = {"left": (-1.0, 0.0), "centre": (0.0, 0.0), "right": (1.0, 0.0), "up": (0.0, 1.0), "down": (0.0, -1.0)}

# ---------------------------------------------------------------------------------------------- tolerances

CLOSED_MOUTH_MAX = 0.05
"""IOD; a mouth opening below this is closed lips. jawOpen=0 renders closed lips (measured 0.014-0.024);
a portrait above it shows its mouth open (the astronaut smiles with parted lips: 0.122), and the rig
then starts from closed lips, so the rest opening to compare with is 0, not the photo's."""
REST_OPENING_TOL = 0.035
"""IOD; |opening at jawOpen=0 - expected rest opening| (measured 0.014-0.024 against 0)."""
JAW_MIN_STEP = 0.01
"""IOD; every jaw level must open the mouth at least this much more than the previous one (measured
smallest step 0.022, between 0.75 and 1)."""
JAW_MIN_RANGE = 0.12
"""IOD; opening at jawOpen=1 minus at 0 (measured 0.175)."""

REST_EAR_TOL = 0.03
"""|EAR at eyeBlink=0 - the portrait's EAR| (portrait 0.321, rendered 0.312-0.324)."""
BLINK_MIN_STEP = 0.03
"""EAR drop from one blink level to the next, per eye (measured 0.07-0.11)."""
BLINK_CLOSED_MAX_RATIO = 0.6
"""A full blink's EAR must be below this fraction of the open eye's, per eye. The eyes are visibly shut
at eyeBlink=1, but MediaPipe's lid landmarks keep a curved closed lid at EAR ~0.12-0.15, i.e. 36-47 %
of the open eye at 384-512 px (up to 57 % in a 256 px crop), so 40 % is out of the tracker's reach;
60 % leaves margin while a half-closed eye (measured 69-80 % at eyeBlink=0.5) still fails."""

GAZE_MIN_SHIFT = 0.05
"""Eye widths; for gaze left/right the iris centre must move at least this far along the eye-corner
axis, towards the requested side, in each eye (measured 0.13-0.20 with the iris layer of
render/eyes.py; 0.04-0.085 with the earlier iris warp). Tracker spread on frames whose eyes do not
move: 0.005 (right eye) and 0.011 (left eye) standard deviation."""
VERTICAL_GAZE_MIN_SHIFT = 0.015
"""Eye widths; for gaze up/down the iris centre must move at least this far across the eye-corner
axis, up or down as requested, in each eye (measured 0.027-0.058; the tracker's vertical spread is
0.006-0.013, and the earlier iris warp, which moved the iris a pixel or two, was not resolved)."""

ROLL_TOL_DEG = 2.0
"""|recovered roll - requested roll| (measured at most 0.5 deg)."""
YAW_PITCH_MIN_GAIN = 0.5
YAW_PITCH_MAX_GAIN = 1.25
"""Recovered / requested yaw and pitch must lie in this range (mesh-based angles are compressed:
measured yaw 0.73-0.96, pitch 0.77-0.96 over several renderer revisions)."""
CROSS_TALK_MAX_DEG = 4.0
"""|recovered angle about the other two axes| during a single-axis sweep (measured at most 1.9 deg; pitch at yaw -20)."""

IDENTITY_MEAN_MAX = 0.35
"""Mean dlib embedding distance of all rendered frames to the portrait (measured 0.26; the per-frame
limit is dlib's same-person threshold 0.6, measured at most 0.45 with the jaw wide open)."""


# ---------------------------------------------------------------------------------------------- helpers


def params(**values: float) -> np.ndarray:
    vector = np.zeros(len(PARAMETERS), np.float32)
    for name, value in values.items():
        vector[PARAMETER_INDEX[name]] = value
    return vector


def _cases() -> dict[str, np.ndarray]:
    """Every request this module renders, by name; 'neutral' is all zeros."""
    cases = {"neutral": params()}
    cases.update({f"jaw {v:g}": params(jawOpen=v) for v in JAW_LEVELS if v})
    cases.update({f"blink {v:g}": params(eyeBlinkLeft=v, eyeBlinkRight=v) for v in BLINK_LEVELS if v})
    cases.update({f"gaze {name}": gaze_offsets(*g) for name, g in GAZES.items() if name != "centre"})
    for axis, steps in (("Yaw", YAW_STEPS), ("Pitch", PITCH_STEPS), ("Roll", ROLL_STEPS)):
        cases.update({f"{axis.lower()} {v:+g}": params(**{f"head{axis}": v}) for v in steps if v})
    return cases


def jaw_case(level: float) -> str:
    return f"jaw {level:g}" if level else "neutral"


def blink_case(level: float) -> str:
    return f"blink {level:g}" if level else "neutral"


def gaze_case(name: str) -> str:
    return "neutral" if name == "centre" else f"gaze {name}"


def pose_case(axis: str, angle: float) -> str:
    return f"{axis} {angle:+g}" if angle else "neutral"


@dataclass(frozen=True)
class Shot:
    """One rendered frame (SIZE, SIZE, 3) uint8 and its re-tracked landmarks (478, 3) pixels."""

    frame: np.ndarray
    points: np.ndarray


@pytest.fixture(scope="module")
def shots(avatar) -> dict[str, Shot]:
    """Every case rendered once and re-tracked once."""
    renderer = Renderer(avatar, RenderOptions(size=SIZE))
    out = {}
    for name, request in _cases().items():
        assert request.shape == (len(PARAMETERS),)
        frame = renderer.render(request)
        assert frame.shape == (SIZE, SIZE, 3) and frame.dtype == np.uint8
        faces = detect_faces(frame)
        assert faces, f"no face re-tracked in the rendered frame {name!r}"
        out[name] = Shot(frame, faces[0].points)
    return out


def _stack(shots: dict[str, Shot], names: list[str]) -> np.ndarray:
    return np.stack([shots[name].points for name in names]).astype(np.float64)


def per_eye_ear(points: np.ndarray) -> np.ndarray:
    """(T, 2) eye aspect ratio of the subject's right and left eye, same landmarks and formula as
    :func:`talkingface.evaluate.metrics.eye_aspect_ratio` (which returns their mean)."""
    out = []
    for p1, p2, p3, p4, p5, p6 in (metrics.RIGHT_EAR_POINTS, metrics.LEFT_EAR_POINTS):
        vertical = (np.linalg.norm(points[:, p2] - points[:, p6], axis=-1)
                    + np.linalg.norm(points[:, p3] - points[:, p5], axis=-1))
        out.append(vertical / (2.0 * np.linalg.norm(points[:, p1] - points[:, p4], axis=-1)))
    return np.stack(out, axis=1)


EYES = ((tp.RIGHT_IRIS[0], (33, 133)), (tp.LEFT_IRIS[0], (362, 263)))
"""(iris centre landmark, (eye corners)) of the subject's right eye (image left) and left eye."""


def iris_offsets(points: np.ndarray) -> np.ndarray:
    """(2, 2) iris centre offset from the midpoint of the eye corners, per eye (subject's right, left),
    as (along the corner axis towards the image's right, across it towards the image's bottom), in eye
    widths (corner-to-corner distance)."""
    out = []
    for centre, (a, b) in EYES:
        pa, pb = points[a, :2], points[b, :2]
        if pa[0] > pb[0]:
            pa, pb = pb, pa
        width = float(np.linalg.norm(pb - pa))
        along = (pb - pa) / width
        across = np.array([-along[1], along[0]])  # image down when the axis points right
        delta = points[centre, :2] - 0.5 * (pa + pb)
        out.append((delta @ along / width, delta @ across / width))
    return np.asarray(out)


def pose_relative_to_first(points: np.ndarray) -> np.ndarray:
    """(T, 3) yaw, pitch, roll degrees of each frame relative to the first one, from
    :func:`talkingface.evaluate.metrics.head_pose` (same axes and signs as the motion parameters)."""
    from scipy.spatial.transform import Rotation

    rotations = metrics.head_pose(points).rotations
    relative = rotations @ rotations[0].T
    euler = Rotation.from_matrix(relative).as_euler("YXZ", degrees=True)
    return np.stack([-euler[:, 0], euler[:, 1], euler[:, 2]], axis=1)


def _report(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n[retrack] {title}")
    for name, value in rows:
        print(f"  {name:>12}: {value}")


# ---------------------------------------------------------------------------------------------- tests


def test_jaw_opening_follows_request(shots, avatar):
    names = [jaw_case(v) for v in JAW_LEVELS]
    openings = metrics.mouth_opening(_stack(shots, names))
    portrait = float(metrics.mouth_opening(avatar.landmarks.points[None].astype(np.float64))[0])
    _report(f"mouth opening (IOD); portrait {portrait:.3f}",
            [(f"jawOpen {v:g}", f"{o:.3f}") for v, o in zip(JAW_LEVELS, openings)])

    expected_rest = portrait if portrait < CLOSED_MOUTH_MAX else 0.0
    assert abs(openings[0] - expected_rest) < REST_OPENING_TOL, (openings[0], portrait)
    assert np.all(np.diff(openings) > JAW_MIN_STEP), openings
    assert openings[-1] - openings[0] > JAW_MIN_RANGE, openings


def test_blink_closes_both_eyes(shots, avatar):
    names = [blink_case(v) for v in BLINK_LEVELS]
    ears = per_eye_ear(_stack(shots, names))  # (levels, eyes)
    portrait = float(metrics.eye_aspect_ratio(avatar.landmarks.points[None].astype(np.float64))[0])
    _report(f"eye aspect ratio (right eye, left eye); portrait {portrait:.3f}",
            [(f"blink {v:g}", f"{r:.3f}, {left:.3f}  ratio to open {r / ears[0, 0]:.2f}, {left / ears[0, 1]:.2f}")
             for v, (r, left) in zip(BLINK_LEVELS, ears)])

    assert abs(ears[0].mean() - portrait) < REST_EAR_TOL, (ears[0], portrait)
    # the evaluation's own metric (mean of both eyes) agrees with the per-eye values
    np.testing.assert_allclose(metrics.eye_aspect_ratio(_stack(shots, names)), ears.mean(axis=1), rtol=1e-6)
    assert np.all(np.diff(ears, axis=0) < -BLINK_MIN_STEP), ears
    assert np.all(ears[-1] < BLINK_CLOSED_MAX_RATIO * ears[0]), ears[-1] / ears[0]


def _gaze_table(shots, names: tuple[str, str, str], column: int, title: str) -> dict[str, np.ndarray]:
    offsets = {name: iris_offsets(shots[gaze_case(name)].points)[:, column] for name in names}
    shifts = {name: o - offsets["centre"] for name, o in offsets.items()}
    _report(f"{title} (eye widths; right eye, left eye)",
            [(name, f"{o[0]:+.3f}, {o[1]:+.3f}  shift {shifts[name][0]:+.3f}, {shifts[name][1]:+.3f}")
             for name, o in offsets.items()])
    return offsets


def test_gaze_left_right_moves_both_irises(shots):
    offsets = _gaze_table(shots, ("left", "centre", "right"), 0, "iris offset along the eye axis, + is right")
    assert np.all(offsets["left"] < offsets["centre"] - GAZE_MIN_SHIFT), offsets
    assert np.all(offsets["right"] > offsets["centre"] + GAZE_MIN_SHIFT), offsets


def test_gaze_up_down_moves_both_irises(shots):
    offsets = _gaze_table(shots, ("up", "centre", "down"), 1, "iris offset across the eye axis, + is down")
    assert np.all(offsets["up"] < offsets["centre"] - VERTICAL_GAZE_MIN_SHIFT), offsets
    assert np.all(offsets["down"] > offsets["centre"] + VERTICAL_GAZE_MIN_SHIFT), offsets


@pytest.mark.parametrize("axis, steps", [("yaw", YAW_STEPS), ("pitch", PITCH_STEPS), ("roll", ROLL_STEPS)])
def test_head_pose_follows_request(shots, axis, steps):
    names = [pose_case(axis, v) for v in steps]
    angles = pose_relative_to_first(_stack(shots, ["neutral"] + names))[1:]  # (steps, 3)
    column = ("yaw", "pitch", "roll").index(axis)
    recovered = angles[:, column]
    _report(f"head {axis} (deg): requested -> recovered yaw, pitch, roll",
            [(f"{v:+g}", f"{a[0]:+6.2f} {a[1]:+6.2f} {a[2]:+6.2f}") for v, a in zip(steps, angles)])

    requested = np.asarray(steps)
    assert np.all(np.diff(recovered) > 0), recovered  # monotonic in the request
    moved = requested != 0
    if axis == "roll":
        np.testing.assert_allclose(recovered, requested, atol=ROLL_TOL_DEG)
    else:
        gain = recovered[moved] / requested[moved]  # also checks the sign
        assert np.all((gain > YAW_PITCH_MIN_GAIN) & (gain < YAW_PITCH_MAX_GAIN)), gain
    others = np.delete(angles, column, axis=1)
    assert np.abs(others).max() < CROSS_TALK_MAX_DEG, others


def test_identity_is_kept_on_every_frame(shots, avatar):
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"identity check needs dlib: {reason}")
    embedder = FaceEmbedder()
    anchor = embedder.embed(avatar.image, avatar.landmarks.points)
    distances = {name: float(np.linalg.norm(embedder.embed(shot.frame, shot.points) - anchor))
                 for name, shot in shots.items()}
    mean = float(np.mean(list(distances.values())))
    _report(f"dlib embedding distance to the portrait; mean {mean:.3f}",
            [(name, f"{d:.3f}") for name, d in distances.items()])

    assert set(distances) == set(_cases())  # every pose, jaw, blink and gaze frame
    worst = max(distances, key=distances.get)
    assert distances[worst] < SAME_PERSON_THRESHOLD, (worst, distances[worst])
    assert mean < IDENTITY_MEAN_MAX, mean
