"""talkingface: one portrait + speech -> a lip-synced talking-head video, in real time on a CPU.

    import talkingface
    avatar = talkingface.prepare_avatar("portrait.jpg")          # analyse once
    result = talkingface.animate(avatar, "speech.wav", "out.mp4")  # animate many times
    motion = talkingface.capture("talk.mp4")                       # a real performance -> Motion
    talkingface.animate(avatar, None, "out.mp4", drive="talk.mp4")  # the portrait performs the video
    talkingface.dub_video("talk.mp4", "new.wav", "dubbed.mp4")     # the video's speaker says new.wav

Names are imported on first use, so `import talkingface.media` does not load MediaPipe or pocketsphinx.
"""

from __future__ import annotations

import importlib

from talkingface.errors import (AudioError, FaceTooSmallError, ImageError, InputFileError,
                                InputNotFoundError, NoFaceError, OptionError, OutputPathError,
                                TalkingFaceError)

_LAZY = {
    "Avatar": "talkingface.face.avatar",
    "Motion": "talkingface.motion.params",
    "PARAMETERS": "talkingface.motion.params",
    "AnimateOptions": "talkingface.pipeline",
    "AnimationResult": "talkingface.pipeline",
    "animate": "talkingface.pipeline",
    "capture": "talkingface.pipeline",
    "CaptureOptions": "talkingface.mocap",
    "DriveOptions": "talkingface.motion.drive",
    "prepare_avatar": "talkingface.pipeline",
    "DubOptions": "talkingface.dub",
    "DubResult": "talkingface.dub",
    "dub_video": "talkingface.dub",
}

__all__ = [
    "AudioError", "FaceTooSmallError", "ImageError", "InputFileError", "InputNotFoundError",
    "NoFaceError", "OptionError", "OutputPathError", "TalkingFaceError", *_LAZY,
]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'talkingface' has no attribute {name!r}")
