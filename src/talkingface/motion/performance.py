"""Everything but the lips: head motion, blinks, gaze and brows, one video frame at a time.

The same processes run offline (a whole clip) and live (a stream): every process is a
recurrence with constant state, advanced once per frame: smooth Ornstein-Uhlenbeck noise for the
head, a renewal process for blinks, fixations and saccades for the gaze. Random numbers come from
per-channel generators seeded from one seed, and each step's draws depend only on the frames
before it, so a seed and an audio give the same motion however the audio arrives. Speech only
modulates these processes (more energy and nods while talking), so nothing freezes in silence and
nothing jumps when speech resumes.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from talkingface.motion.head import HeadMotion, load_head_motion

BLINK_CLOSE_S, BLINK_HOLD_S, BLINK_OPEN_S = 0.08, 0.04, 0.15
_BLINK_REFRACTORY_S = 1.2
_BREATH_HZ, _BREATH_AMPLITUDE = 0.25, 0.003
_EMPHASIS_GAIN = 1.6  # per-frame emphasis peaks are brief; the nod and brow filters average them


def _decay(dt: float, tau: float | np.ndarray) -> float | np.ndarray:
    """Per-step factor of a first-order low-pass with time constant tau (0 -> no smoothing)."""
    tau = np.asarray(tau, np.float64)
    return np.where(tau > 0, np.exp(-dt / np.maximum(tau, 1e-9)), 0.0)


class LowPass:
    """``stages`` first-order low-passes in cascade (about Gaussian smoothing of width
    ``sqrt(stages) * tau_s``), on (C,) channels, one step per frame; ``stages`` >= 2 gives smooth,
    differentiable paths."""

    def __init__(self, tau_s: np.ndarray | float, dt: float, stages: int, value: np.ndarray | float = 0.0) -> None:
        self._alpha = 1.0 - _decay(dt, tau_s)
        self._state = np.zeros((stages, np.size(tau_s))) + value

    def step(self, x: np.ndarray | float) -> np.ndarray:
        for stage in self._state:
            stage += self._alpha * (x - stage)
            x = stage
        return x.copy()


class SmoothNoise:
    """Smooth Gaussian noise with unit variance: white noise through a 4-stage low-pass.

    Parameters: rng; sigma_s (C,) the width of features in seconds (like Gaussian-filtered noise of
    that sigma); dt step in seconds. ``step()`` returns the next (C,) values. The cascade is run
    for a few time constants at construction so it starts in its stationary state.
    """

    STAGES = 4

    def __init__(self, rng: np.random.Generator, sigma_s: np.ndarray, dt: float) -> None:
        self._rng = rng
        tau = np.asarray(sigma_s, np.float64) / np.sqrt(self.STAGES)
        self._filter = LowPass(tau, dt, self.STAGES)
        self._channels = tau.size
        self._scale = 1.0 / np.sqrt(self._variance(tau, dt))
        for _ in range(int(np.ceil(8 * self.STAGES * tau.max() / dt))):
            self.step()

    def _variance(self, tau: np.ndarray, dt: float) -> np.ndarray:
        """Stationary variance of the cascade's output for unit white noise (from its impulse response)."""
        probe = LowPass(tau, dt, self.STAGES)
        steps = int(np.ceil(20 * self.STAGES * tau.max() / dt)) + 8
        response = np.array([probe.step(np.ones(tau.size) if n == 0 else np.zeros(tau.size))
                             for n in range(steps)])
        return (response ** 2).sum(axis=0)

    def step(self) -> np.ndarray:
        return self._filter.step(self._rng.standard_normal(self._channels)) * self._scale


class Blinks:
    """Blink renewal process: gaps of 1.2 s + Gamma(2), occasional double blinks, and a blink
    drawn forward to the start of a pause in speech. ``step(t, pause_started) -> closure in [0, 1]``.
    """

    def __init__(self, rng: np.random.Generator, rate_per_min: float) -> None:
        self._rng = rng
        self._mean_gap = 60.0 / rate_per_min if rate_per_min > 0 else math.inf
        self._next = float(rng.uniform(0.3, min(self._mean_gap, 6.0))) if rate_per_min > 0 else math.inf
        self._onsets = [-10.0, -10.0]  # the two latest onsets (a double blink overlaps)

    def _gap(self) -> float:
        return _BLINK_REFRACTORY_S + float(self._rng.gamma(2.0, max(self._mean_gap - _BLINK_REFRACTORY_S, 0.1) / 2))

    def step(self, t: float, pause_started: bool) -> float:
        if math.isinf(self._mean_gap):
            return 0.0
        if (pause_started and t - self._onsets[1] > _BLINK_REFRACTORY_S and self._next - t > 0.3
                and self._rng.random() < 0.6):
            self._next = t + 0.08
        if t >= self._next:
            self._onsets = [self._onsets[1], t]
            double = self._rng.random() < 0.1
            self._next = t + (0.35 if double else self._gap())
        return max(_closure(t - onset) for onset in self._onsets)


def _closure(rel: float) -> float:
    """Lid closure rel seconds after a blink onset: fast close, short hold, slower opening."""
    if rel < 0:
        return 0.0
    if rel < BLINK_CLOSE_S:
        return rel / BLINK_CLOSE_S
    return min(max(1.0 - (rel - BLINK_CLOSE_S - BLINK_HOLD_S) / BLINK_OPEN_S, 0.0), 1.0)


class Gaze:
    """Fixations held 0.8-3 s on the camera (80 %) or a little aside, with 1-2 frame saccades.
    ``step(t) -> (right, up)`` offsets in [-0.6, 0.6]."""

    def __init__(self, rng: np.random.Generator, dt: float) -> None:
        self._rng = rng
        self._alpha = 1.0 - float(_decay(dt, 0.035))
        self._target = np.zeros(2)
        self._current = np.zeros(2)
        self._until = 0.0

    def step(self, t: float) -> np.ndarray:
        if t >= self._until:
            spread = 0.08 if self._rng.random() < 0.8 else 0.3
            self._target = np.clip(self._rng.normal(0.0, spread, size=2), -0.6, 0.6)
            self._until = t + float(self._rng.uniform(0.8, 3.0))
        self._current = self._current + self._alpha * (self._target - self._current)
        return self._current


class PerformanceFrame(NamedTuple):
    """One frame of performance: pose (3,) yaw/pitch/roll in degrees (before head_motion scaling);
    head_y: breathing, face heights; blink: lid closure in [0, 1]; gaze (2,) (right, up) offsets;
    brow: browInnerUp in [0, 0.6] (before scaling)."""

    pose: np.ndarray
    head_y: float
    blink: float
    gaze: np.ndarray
    brow: float


class CausalPerformance:
    """Head pose, blinks, gaze and brows for one frame from the speech around it.

    ``step(t, activity, emphasis) -> PerformanceFrame`` with t the frame time (s), activity and
    emphasis in [0, 1] (motion.speech.SpeechTracker, mixed around the frame). head: the head
    process's constants (default: the committed ones, learned from real talking videos).
    """

    def __init__(self, seed: int, fps: float, blink_rate: float, head: HeadMotion | None = None) -> None:
        head_rng, blink, gaze, extra = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))
        dt = 1.0 / fps
        constants = load_head_motion() if head is None else head
        self._drift_deg = np.array(constants.drift_deg)
        self._wobble_deg = np.array(constants.wobble_deg)
        # drift (yaw, pitch, roll) and wobble (yaw, pitch, roll) in one 6-channel process
        self._head = SmoothNoise(head_rng, np.array(constants.drift_sigma_s + constants.wobble_sigma_s), dt)
        self._blinks = Blinks(blink, blink_rate)
        self._gaze = Gaze(gaze, dt)
        self._roll_sign = float(extra.choice([-1.0, 1.0]))
        # speech energy, nod and brow followers: 3 channels, 3 stages each
        self._speech = LowPass(np.array([0.2, 0.04, 0.05]), dt, 3)
        self._was_active = False

    def step(self, t: float, activity: float, emphasis: float) -> PerformanceFrame:
        emphasis = min(_EMPHASIS_GAIN * emphasis, 1.0)
        energy, nod, brow = self._speech.step(np.array([activity, emphasis, emphasis])).tolist()
        noise = self._head.step()
        pose = noise[:3] * self._drift_deg + noise[3:] * self._wobble_deg * (0.45 + 0.55 * energy)
        pose[1] += 3.0 * nod
        pose[2] += 1.2 * nod * self._roll_sign
        active = activity > 0.5
        blink = self._blinks.step(t, pause_started=self._was_active and not active)
        self._was_active = active
        return PerformanceFrame(pose=pose, head_y=_BREATH_AMPLITUDE * math.sin(2 * math.pi * _BREATH_HZ * t),
                                blink=blink, gaze=self._gaze.step(t),
                                brow=min(0.5 * max(brow, 0.0) ** 1.5, 0.6))
