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

Modules: ``options`` (StreamOptions, StreamControls), ``resample`` (streaming resampler),
``features`` (causal 10 ms features), ``lips`` (acoustic lips), ``performance`` (causal head,
blinks, gaze), ``engine`` (MotionStream: motion only), ``session`` (StreamSession: + rendering).
"""

from talkingface.stream.engine import MotionFrame, MotionStream, to_mono_float
from talkingface.stream.options import StreamControls, StreamError, StreamOptions
from talkingface.stream.session import StreamFrame, StreamSession

__all__ = ["MotionFrame", "MotionStream", "StreamControls", "StreamError", "StreamFrame",
           "StreamOptions", "StreamSession", "to_mono_float"]
