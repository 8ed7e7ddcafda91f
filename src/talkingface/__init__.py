"""talkingface: one portrait + speech -> a lip-synced talking-head video, in real time on a CPU.

    import talkingface
    avatar = talkingface.prepare_avatar("portrait.jpg")          # analyse once
    result = talkingface.animate(avatar, "speech.wav", "out.mp4")  # animate many times
"""

from talkingface.errors import (AudioError, FaceTooSmallError, ImageError, InputFileError,
                                InputNotFoundError, NoFaceError, OptionError, OutputPathError,
                                TalkingFaceError)
from talkingface.face.avatar import Avatar
from talkingface.motion.params import PARAMETERS, Motion
from talkingface.pipeline import AnimateOptions, AnimationResult, animate, prepare_avatar

__all__ = [
    "AnimateOptions", "AnimationResult", "AudioError", "Avatar", "FaceTooSmallError", "ImageError",
    "InputFileError", "InputNotFoundError", "Motion", "NoFaceError", "OptionError", "OutputPathError",
    "PARAMETERS", "TalkingFaceError", "animate", "prepare_avatar",
]
__version__ = "0.1.0"
