"""``StreamSession``: the motion engine (live run mode) plus a Renderer of one prepared portrait."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkingface.errors import OptionError
from talkingface.face.avatar import Avatar
from talkingface.render.renderer import Renderer, RenderOptions
from talkingface.motion.engine import MotionEngine, MotionFrame
from talkingface.motion.options import StreamControls, StreamOptions


@dataclass(frozen=True)
class StreamFrame:
    """A rendered frame: index, pts_s (seconds of audio it shows), params (P,) float32, ready_s
    (audio pushed when it could be made, seconds) and image (size, size, 3) uint8 RGB."""

    index: int
    pts_s: float
    params: np.ndarray
    ready_s: float
    image: np.ndarray


class StreamSession:
    """Live talking head of one portrait: push audio chunks, get rendered frames (the motion engine
    in its live run mode, plus a renderer).

    ``push`` renders every frame it completes. A caller that must skip frames to keep up (a server
    under load) can use ``motion.push`` and render only the frames it will show, with ``render``.
    """

    def __init__(self, avatar: Avatar, options: StreamOptions | None = None) -> None:
        options = StreamOptions() if options is None else options
        if not isinstance(avatar, Avatar):
            raise OptionError("avatar", type(avatar).__name__, "must be an Avatar (use prepare_avatar)")
        self.options = options
        self.motion = MotionEngine(options)
        self.renderer = Renderer(avatar, RenderOptions(size=options.size))

    @property
    def controls(self) -> StreamControls:
        return self.motion.controls

    def set_controls(self, controls: StreamControls | None = None, **changes: object) -> StreamControls:
        """See ``MotionEngine.set_controls``."""
        return self.motion.set_controls(controls, **changes)

    def push(self, samples: np.ndarray | bytes, sample_rate: int | None = None) -> list[StreamFrame]:
        """Add an audio chunk (see ``MotionEngine.push``); returns the rendered frames it completed."""
        return [self.render(frame) for frame in self.motion.push(samples, sample_rate)]

    def push_silence(self, seconds: float) -> list[StreamFrame]:
        return [self.render(frame) for frame in self.motion.push_silence(seconds)]

    def flush(self) -> list[StreamFrame]:
        """End of the audio: the remaining rendered frames; the session is then closed."""
        return [self.render(frame) for frame in self.motion.flush()]

    def render(self, frame: MotionFrame) -> StreamFrame:
        """Render one motion frame of this session."""
        return StreamFrame(index=frame.index, pts_s=frame.pts_s, params=frame.params,
                           ready_s=frame.ready_s, image=self.renderer.render(frame.params))
