"""Visual dubbing: re-lip the speaker of an existing video to new speech (``dub_video``).

``dubbing`` orchestrates two streamed passes (track + fit, then re-lip + encode); ``lowerface`` warps
one frame's lower face from its own mouth to the new one; ``interior`` picks the frame whose teeth
the opened lips show; ``lengths`` decides the output's length and frame order; ``frames`` decodes
the frames in that order with bounded memory.
"""

from talkingface.dub.dubbing import DubOptions, DubResult, dub_video
from talkingface.dub.lengths import EXTEND_MODES

__all__ = ["EXTEND_MODES", "DubOptions", "DubResult", "dub_video"]
