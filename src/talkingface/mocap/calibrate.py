"""Calibration of capture against the renderer: capture(render(p)) should give back p.

The face tracker reads deformations smaller than they are drawn (measured on our renders: a jaw
opened to 1.0 is fitted as about 0.6, a full blink as about 0.55), and it reads real faces the same
way. So each expression coefficient (and the head angles) fitted from tracked landmarks goes through a
monotone curve, measured here by rendering single-parameter sweeps of several portraits, tracking the
renders and fitting them. Then a captured real performance, rendered, re-tracks like the real video.

    python -m talkingface.mocap.calibrate PORTRAIT ... [-o src/talkingface/mocap/calibration.json]

The table is small JSON committed with the package (see docs/MODEL_CARD.md); ``load_calibration``
validates it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from talkingface.errors import InputFileError
from talkingface.media.structured import (
    Limits,
    checked_document,
    read_bounded,
    signed_document,
)
from talkingface.motion.params import EXPRESSION_PARAMETERS, PARAMETER_INDEX, PARAMETERS

CALIBRATION_LIMITS = Limits(max_bytes=1 << 20, max_depth=6)
"""Bounds of a calibration table file (the packaged one is about 10 KiB)."""
FORMAT = "talkingface.capture-calibration"
VERSION = 1
LEVELS = (0.2, 0.4, 0.6, 0.8, 1.0)  # coefficients rendered in each sweep
POSE_LEVELS = {"headYaw": (-20, -10, 10, 20), "headPitch": (-12, -6, 6, 12), "headRoll": (-15, 15)}
MIN_RESPONSE = 0.15  # a coefficient read back as less than this at 1.0 is left uncalibrated
MAX_GAIN = 3.0
RENDER_SIZE = 384


def _mirror(name: str) -> str | None:
    for a, b in (("Left", "Right"), ("Right", "Left")):
        if name.endswith(a):
            return name[: -len(a)] + b
    return None


@dataclass(frozen=True)
class Calibration:
    """Per-parameter monotone maps from fitted to calibrated values.

    curves: name -> (fitted (K,), calibrated (K,)) increasing knots, starting at (0, 0), extended
    linearly past the last knot; pose_gain: name -> factor for the head angles."""

    curves: dict[str, tuple[np.ndarray, np.ndarray]]
    pose_gain: dict[str, float]

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Calibrated copy of fitted parameters (T, P) (bounds of the rig kept: expression >= 0)."""
        out = values.copy()
        for name, (fitted, calibrated) in self.curves.items():
            column = out[:, PARAMETER_INDEX[name]]
            slope = (calibrated[-1] - calibrated[-2]) / max(fitted[-1] - fitted[-2], 1e-6)
            inside = np.interp(column, fitted, calibrated)
            beyond = calibrated[-1] + slope * (column - fitted[-1])
            out[:, PARAMETER_INDEX[name]] = np.where(column > fitted[-1], beyond, inside)
        for name, gain in self.pose_gain.items():
            out[:, PARAMETER_INDEX[name]] *= gain
        return out

    @staticmethod
    def identity() -> Calibration:
        return Calibration({}, {})


def load_calibration(path: str | os.PathLike[str] | None = None) -> Calibration:
    """The committed calibration table (or the one at ``path``), validated.

    Raises InputFileError naming the file when it is missing, malformed or of another version."""
    if path is None:
        return _packaged()
    return _parse(read_bounded(path, limits=CALIBRATION_LIMITS, kind="a calibration table")
                  if Path(path).is_file() else None, os.fspath(path))


@lru_cache(maxsize=1)
def _packaged() -> Calibration:
    resource = resources.files("talkingface.mocap") / "calibration.json"
    data = resource.read_bytes() if resource.is_file() else None
    return _parse(data, str(resource))


def _parse(data: bytes | None, where: str) -> Calibration:
    if data is None:
        raise InputFileError(where, "capture calibration table not found (run python -m talkingface.mocap.calibrate)")
    try:
        document = checked_document(data, FORMAT, VERSION, ("curves", "pose_gain"), source=where,
                                    limits=CALIBRATION_LIMITS)
        curves = {}
        for name, knots in document["curves"].items():
            fitted, calibrated = (np.asarray(k, np.float64) for k in knots)
            if (name not in EXPRESSION_PARAMETERS or fitted.shape != calibrated.shape or fitted.size < 2
                    or np.any(np.diff(fitted) <= 0) or np.any(np.diff(calibrated) < 0)):
                raise ValueError(f"bad curve for {name!r}")
            curves[name] = (fitted, calibrated)
        gains = {name: float(g) for name, g in document["pose_gain"].items()}
        if any(name not in POSE_LEVELS or not 0.5 <= g <= 2.0 for name, g in gains.items()):
            raise ValueError("bad pose gains")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise InputFileError(where, f"is not a valid capture calibration table ({error})") from error
    return Calibration(curves, gains)


# ----------------------------------------------------------------------------------- measuring


def _sweeps() -> list[tuple[str, tuple[float, ...]]]:
    """(parameter, levels) to render: one side of each left/right pair, every head angle."""
    names = [n for n in EXPRESSION_PARAMETERS if not n.endswith("Right") or _mirror(n) not in EXPRESSION_PARAMETERS]
    return [(n, LEVELS) for n in names] + list(POSE_LEVELS.items())


def measure(portrait: str | os.PathLike[str]) -> dict[str, list[tuple[float, float]]]:
    """Render each sweep of one portrait, track and fit it: name -> [(rendered, fitted), ...]."""
    from talkingface.mocap.fit import RigFitter
    from talkingface.mocap.tracker import FaceTracker
    from talkingface.pipeline import prepare_avatar
    from talkingface.render.renderer import Renderer, RenderOptions

    renderer = Renderer(prepare_avatar(portrait), RenderOptions(size=RENDER_SIZE))
    rest = np.zeros(len(PARAMETERS), np.float32)
    pairs: dict[str, list[tuple[float, float]]] = {}
    with FaceTracker() as tracker:
        neutral = tracker.step(0.0, renderer.render(rest)).points
        if neutral is None:
            return pairs
        fitter = RigFitter(neutral, RENDER_SIZE, RENDER_SIZE)
        rest_image = renderer.render(rest)
        for name, levels in _sweeps():
            for level in levels:
                params = rest.copy()
                params[PARAMETER_INDEX[name]] = level
                tracker.step(0.0, rest_image)  # from rest each time: no jump a real video would not make
                image = renderer.render(params)
                tracker.step(0.0, image)
                points = tracker.step(0.0, image).points
                if points is None:
                    continue
                fitter.reset()
                fitted = float(fitter.fit(points).params[PARAMETER_INDEX[name]])
                pairs.setdefault(name, []).append((float(level), fitted))
    return pairs


def build_table(measurements: list[dict[str, list[tuple[float, float]]]]) -> dict:
    """The calibration document from per-portrait measurements."""
    curves, gains = {}, {}
    for name, levels in _sweeps():
        if name in POSE_LEVELS:
            rendered = np.array([r for m in measurements for r, _ in m.get(name, [])])
            fitted = np.array([f for m in measurements for _, f in m.get(name, [])])
            gains[name] = round(float(np.clip((rendered @ rendered) / max(rendered @ fitted, 1e-9), 0.5, 2.0)), 4)
            continue
        mean_fitted = []
        for level in levels:
            values = [f for m in measurements for r, f in m.get(name, []) if r == level]
            mean_fitted.append(float(np.median(values)) if values else np.nan)
        fitted = np.maximum.accumulate(np.nan_to_num(np.array(mean_fitted)))
        if fitted[-1] < MIN_RESPONSE:
            continue
        knots_fitted, knots_true = [0.0], [0.0]
        for level, value in zip(levels, fitted):
            value = max(value, level / MAX_GAIN)
            if value > knots_fitted[-1] + 1e-3:
                knots_fitted.append(round(value, 4))
                knots_true.append(level)
        if len(knots_fitted) < 2:
            continue
        for target in filter(None, (name, _mirror(name))):
            curves[target] = [knots_fitted, knots_true]
    return signed_document(FORMAT, VERSION, {"curves": curves, "pose_gain": gains})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m talkingface.mocap.calibrate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("portraits", nargs="+", help="portrait images to render the sweeps with")
    parser.add_argument("-o", "--output", default=str(Path(__file__).with_name("calibration.json")))
    args = parser.parse_args(argv)
    measurements = []
    for portrait in args.portraits:
        print(f"measuring {portrait}", file=sys.stderr)
        measurements.append(measure(portrait))
    table = build_table(measurements)
    from talkingface.media import atomic_output

    with atomic_output(args.output) as temporary:
        Path(temporary).write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    load_calibration(args.output)
    print(json.dumps({"output": args.output, "calibrated": sorted(table["curves"]),
                      "pose_gain": table["pose_gain"]}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
