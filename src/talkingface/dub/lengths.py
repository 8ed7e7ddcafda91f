"""How long the dubbed video is and which source frame each of its frames shows.

The dub follows the new speech: a video longer than the speech is cut at the speech's end (or, with
keep_length, kept whole while the mouth rests closed over silence); a video shorter than the speech
is extended by replaying its frames: "loop" (start again), "pingpong" (play backwards, then forwards
again: seamless at each turn) or "hold" (freeze the last frame).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EXTEND_MODES = ("pingpong", "loop", "hold")


@dataclass(frozen=True)
class OutputTimeline:
    """source: (K,) int index of the source frame each output frame shows; times: (K,) float64 its
    presentation time, s (the source's own times while they last, then on at the average frame rate,
    so a variable frame rate is kept); end_s: where the output ends (last frame + one period)."""

    source: np.ndarray
    times: np.ndarray
    end_s: float

    @property
    def frames(self) -> int:
        return int(self.source.size)


def replay_order(count: int, frames: int, mode: str) -> np.ndarray:
    """(frames,) indices into `count` source frames played `frames` times under an extend mode.

    loop: 0..n-1, 0..n-1, ...; pingpong: 0..n-1, n-2..0, 1..n-1, ... (no frame shown twice at a turn);
    hold: 0..n-1, n-1, n-1, ..."""
    k = np.arange(frames)
    if count <= 1:
        return np.zeros(frames, int)
    if mode == "loop":
        return k % count
    if mode == "hold":
        return np.minimum(k, count - 1)
    period = 2 * count - 2
    phase = k % period
    return np.where(phase < count, phase, period - phase)


def output_timeline(times: np.ndarray, speech_s: float, fps: float, *, extend: str, keep_length: bool
                    ) -> OutputTimeline:
    """The output's frames for source frame times (T,) s, a speech of speech_s s and the source's
    average frame rate fps."""
    period = 1.0 / fps
    video_end = float(times[-1]) + period
    if speech_s <= video_end:
        count = len(times) if keep_length else max(1, int(np.searchsorted(times, speech_s - 1e-9)))
        return OutputTimeline(np.arange(count), times[:count].astype(np.float64), float(times[count - 1]) + period)
    extra = int(np.ceil((speech_s - video_end) / period - 1e-9))
    source = replay_order(len(times), len(times) + extra, extend)
    tail = video_end + period * np.arange(extra)
    out_times = np.concatenate([times.astype(np.float64), tail])
    return OutputTimeline(source, out_times, float(out_times[-1]) + period)
