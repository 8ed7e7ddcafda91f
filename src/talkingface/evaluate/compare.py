"""Frame-by-frame comparison of two landmark tracks of the same performance (a real video and our
re-rendering of it): mouth opening, head rotation and eye openness, on the real video's time grid.

Used by the motion-capture reconstruction benchmark (how much of a real performance the rig
reproduces) and the lip-sync benchmark (how close audio-driven motion comes to the real speaker).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkingface.evaluate import metrics as m
from talkingface.evaluate.tracking import LandmarkTrack


@dataclass(frozen=True)
class CurveMatch:
    """One curve of ours against the real one on a shared grid.

    correlation: Pearson r at lag 0; best_lag_ms / best_correlation: the best lag within the scan
    (positive = ours is late); amplitude_ratio: std of ours / std of the real one; frames: compared."""

    correlation: float
    best_correlation: float
    best_lag_ms: float
    amplitude_ratio: float
    frames: int


@dataclass(frozen=True)
class TrackComparison:
    """mouth: inner-lip opening (IOD units); yaw, pitch, roll: head angles (each track's own mean
    pose removed); eyes: eye aspect ratio."""

    mouth: CurveMatch
    yaw: CurveMatch
    pitch: CurveMatch
    roll: CurveMatch
    eyes: CurveMatch


def match_curves(ours: np.ndarray, real: np.ndarray, rate_hz: float, *, max_lag: int = 10) -> CurveMatch:
    """Compare two curves (G,) sampled on the same grid at rate_hz (NaN where missing)."""
    scan = m.lag_scan(ours, real, max_lag=max_lag)
    both = np.isfinite(ours) & np.isfinite(real)
    spread = float(np.std(real[both])) if both.sum() > 1 else 0.0
    ratio = float(np.std(ours[both]) / spread) if spread > 0 else float("nan")
    return CurveMatch(scan.zero_lag_correlation, scan.best_correlation, 1000.0 * scan.best_lag / rate_hz,
                      ratio, int(both.sum()))


def compare_tracks(ours: LandmarkTrack, real: LandmarkTrack, *, max_lag: int = 10) -> TrackComparison:
    """Our track against the real one, both resampled to the real video's frame rate over the time
    span both cover."""
    rate = real.fps
    grid = m.common_grid(ours.times, real.times, rate)

    def curves(track: LandmarkTrack) -> dict[str, np.ndarray]:
        angles = m.head_pose(track.points).angles
        raw = {"mouth": m.mouth_opening(track.points), "yaw": angles[:, 0], "pitch": angles[:, 1],
               "roll": angles[:, 2], "eyes": m.eye_aspect_ratio(track.points)}
        return {name: m.resample(track.times, values, grid) for name, values in raw.items()}

    a, b = curves(ours), curves(real)
    return TrackComparison(**{name: match_curves(a[name], b[name], rate, max_lag=max_lag) for name in a})
