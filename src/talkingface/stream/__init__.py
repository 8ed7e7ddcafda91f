"""Real-time streaming: audio chunks in, talking-head frames out, with bounded look-ahead.

    from talkingface import prepare_avatar
    from talkingface.stream import StreamOptions, StreamSession

    session = StreamSession(prepare_avatar("portrait.jpg"), StreamOptions(fps=25, size=512))
    for chunk in microphone():                 # any chunk sizes, float32 or int16 PCM, 16 kHz
        for frame in session.push(chunk):
            show(frame.image, frame.pts_s)     # (512, 512, 3) uint8 RGB
    session.set_controls(emotion="happy", emotion_intensity=0.7)   # any time, applied smoothly
    for frame in session.flush():              # at the end
        show(frame.image, frame.pts_s)

The motion comes from ``talkingface.motion.engine.MotionEngine`` in its live run mode (exported
here as ``MotionStream``): the same engine, models and processes as offline rendering.
``session`` (StreamSession) adds the renderer; this package has no models of its own.
"""

from talkingface.motion.engine import MotionEngine as MotionStream
from talkingface.motion.engine import MotionFrame, to_mono_float
from talkingface.motion.options import StreamControls, StreamError, StreamOptions
from talkingface.stream.session import StreamFrame, StreamSession

__all__ = ["MotionFrame", "MotionStream", "StreamControls", "StreamError", "StreamFrame",
           "StreamOptions", "StreamSession", "to_mono_float"]
