"""Media I/O: portrait images in, H.264 + AAC MP4 out, video frames with real timestamps.

All pixels cross this boundary as ``(H, W, 3)`` ``uint8`` RGB arrays; all media goes through
Pillow (images) and PyAV (video and audio containers), never a shell ``ffmpeg``.
"""

from talkingface.media.colour import BT709, YCbCr, rgb_to_i420
from talkingface.media.images import (
    contact_sheet,
    image_from_array,
    load_image,
    save_png,
)
from talkingface.media.paths import atomic_output, check_input_file, check_output_path
from talkingface.media.reader import (
    VideoInfo,
    count_video_packets,
    iter_video_frames,
    probe_video,
    read_video,
    resample_frames_to_fps,
)
from talkingface.media.writer import VideoWriter, write_video

__all__ = [
    "BT709",
    "VideoInfo",
    "VideoWriter",
    "YCbCr",
    "atomic_output",
    "check_input_file",
    "check_output_path",
    "contact_sheet",
    "count_video_packets",
    "image_from_array",
    "iter_video_frames",
    "load_image",
    "probe_video",
    "read_video",
    "resample_frames_to_fps",
    "rgb_to_i420",
    "save_png",
    "write_video",
]
