"""Streaming rational-ratio resampling with constant state (chunking-invariant)."""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import firwin

from talkingface.errors import OptionError


class StreamResampler:
    """Resample a stream of samples from ``in_rate`` to ``out_rate`` Hz, chunk by chunk.

    A polyphase windowed-sinc FIR (``taps_per_phase`` input samples per output sample). Output
    sample ``n`` is the filtered input at time ``n / out_rate`` s; it is produced as soon as the
    input it needs has arrived, so the result does not depend on how the input is chunked.
    Delay: about ``taps_per_phase / 2`` input samples. State: the last ``taps_per_phase`` inputs.
    """

    def __init__(self, in_rate: int, out_rate: int, *, taps_per_phase: int = 32) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise OptionError("sample_rate", in_rate, "must be > 0")
        g = math.gcd(int(in_rate), int(out_rate))
        self.up, self.down = int(out_rate) // g, int(in_rate) // g
        taps = taps_per_phase * self.up
        cutoff = 0.92 / max(self.up, self.down)  # of the upsampled Nyquist
        h = firwin(taps, cutoff, window=("kaiser", 8.0)) * self.up
        self._delay = (taps - 1) // 2
        padded = np.zeros(taps_per_phase * self.up)
        padded[:taps] = h
        # polyphase table: phase p, tap j -> h[p + j * up]
        self._table = padded.reshape(taps_per_phase, self.up).T.astype(np.float64)
        self._taps = taps_per_phase
        self._history = np.zeros(taps_per_phase, np.float64)  # inputs before _received
        self._received = 0  # input samples so far
        self._produced = 0  # output samples so far

    def _end(self, received: int) -> int:
        """Number of output samples computable from ``received`` input samples."""
        numerator = received * self.up - self._delay
        return max(0, -(-numerator // self.down))

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Resample more input (N,) float; returns the output samples now complete, float32."""
        samples = np.asarray(samples, np.float64).reshape(-1)
        base = self._received - self._history.size  # input index of buf[0]
        buf = np.concatenate([self._history, samples])
        self._received += samples.size
        end = self._end(self._received)
        n = np.arange(self._produced, end, dtype=np.int64)
        position = n * self.down + self._delay
        newest = position // self.up
        phase = position - newest * self.up
        index = newest[:, None] - np.arange(self._taps)[None, :] - base
        out = np.einsum("ij,ij->i", buf[np.maximum(index, 0)] * (index >= 0), self._table[phase])
        self._produced = end
        self._history = buf[-self._taps:].copy()
        return out.astype(np.float32)

    def flush(self) -> np.ndarray:
        """The remaining output of the input received so far (its tail filtered against silence)."""
        expected = self._received * self.up // self.down
        received = self._received
        tail = self.push(np.zeros(self._taps + self.down, np.float64))
        self._received = received
        keep = max(0, expected - (self._produced - tail.size))
        self._produced = expected
        return tail[:keep]
