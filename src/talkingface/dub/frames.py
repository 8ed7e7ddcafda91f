"""Source frames in any order the output timeline asks for, decoded as they are needed.

Forward runs are decoded straight through; a backward run (pingpong) is served from blocks of a few
dozen frames decoded forward after a seek, so memory stays bounded whatever the video's length.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from talkingface.errors import InputFileError
from talkingface.media import iter_video_frames

PathLike = str | os.PathLike[str]
BLOCK_BYTES = 256 << 20  # frames held for a backward run, at most
SKIP_AHEAD = 50  # a forward jump shorter than this decodes through instead of seeking


class FrameSource:
    """Frames of a video by index, for indices into `times` (T,) s, the frame times a first pass saw."""

    def __init__(self, path: PathLike, times: np.ndarray, frame_bytes: int) -> None:
        """frame_bytes: the size of one decoded frame (I420, as iter_video_frames(i420=True) gives)."""
        self.path = path
        self.times = times
        self.block = int(np.clip(BLOCK_BYTES // max(frame_bytes, 1), 4, 64))
        self._reader: Iterator[tuple[float, np.ndarray]] | None = None
        self._next = 0  # index the reader yields next
        self._cache: dict[int, np.ndarray] = {}
        self.seeks = 0

    def get(self, index: int) -> np.ndarray:
        """Frame `index` as I420 (H * 3 / 2, W) uint8 (do not modify it)."""
        if index in self._cache:
            return self._cache[index]
        if index < self._next:  # already passed and not cached: a backward run
            return self._backward(index)
        if self._reader is None or index - self._next > SKIP_AHEAD:
            self._open(index)
        while True:
            image = self._read()
            if self._next - 1 == index:
                self._cache = {index: image}  # the last frame, for "hold"
                return image

    def _backward(self, index: int) -> np.ndarray:
        """Decode the block of frames ending at index into the cache."""
        first = max(0, index - self.block + 1)
        self._open(first)
        block = {}
        while self._next <= index:
            image = self._read()
            block[self._next - 1] = image
        self._cache = block
        self._reader = None  # the next forward read starts afresh
        return block[index]

    def _open(self, index: int) -> None:
        self.seeks += 1
        self._reader = iter_video_frames(self.path, start_s=float(self.times[index]) if index else 0.0, i420=True)
        self._next = index

    def _read(self) -> np.ndarray:
        """The reader's next frame; its index follows from its time (frames never skip)."""
        assert self._reader is not None
        item = next(self._reader, None)
        if item is None:
            raise InputFileError(self.path, f"ended before frame {self._next} on a second reading")
        time_s, image = item
        self._next = int(np.searchsorted(self.times, time_s - 1e-6)) + 1
        return image
