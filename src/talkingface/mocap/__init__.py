"""Motion capture: a talking video -> the rig's motion parameters, frame by frame.

The inverse of the renderer's rig: the face is tracked (``tracker``), its neutral estimated from the
video (``neutral``), the rig built on that neutral is fitted to every frame (``fit``), and the curves
are cleaned and put on a constant frame rate (``timeline``); ``capture`` orchestrates. Captured motion
drives portraits (``talkingface render --drive``), exports to 3D rigs, and is what the learned motion
models are trained on.
"""

from talkingface.mocap.capture import CaptureOptions, CaptureResult, capture_video

__all__ = ["CaptureOptions", "CaptureResult", "capture_video"]
