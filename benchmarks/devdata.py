"""Shared helpers of the dev-data benchmarks: which clips, the portrait a clip is re-enacted from,
and tracking a video with the fast following tracker."""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
VIDEOS = ROOT.parent / "shared" / "dev-data" / "videos"


def dev_clips() -> list[tuple[Path, Path]]:
    """(video, audio source) of every dev-data talking clip: the clip itself, or its separate .wav."""
    from talkingface.train.dataset import find_clips

    return [(clip.video, clip.audio) for clip in find_clips([VIDEOS, VIDEOS / "train"])]


def held_out_clips(only: list[str] | None = None) -> list[tuple[Path, Path]]:
    """dev_clips() of the speakers the shipped models never trained on (train.dataset.HELD_OUT),
    only those whose name contains one of `only` when given."""
    from talkingface.train.dataset import is_held_out

    return [c for c in dev_clips() if is_held_out(c[0].name) and (not only or any(k in c[0].name for k in only))]


def first_face_frame(video: Path) -> np.ndarray:
    """The clip's first frame in which the face detector finds a face (the portrait to animate)."""
    from talkingface.face.landmarks import detect_faces
    from talkingface.media import iter_video_frames

    for index, (_, frame) in enumerate(iter_video_frames(video)):
        if index % 5 == 0 and detect_faces(frame):
            return frame
    raise ValueError(f"{video}: no frame with a face")


def track(path: Path):
    """TrackedVideo of a file, following the face (talkingface.evaluate.tracking.following_detector)."""
    from talkingface.evaluate.tracking import following_detector, track_video

    with following_detector() as detect:
        return track_video(path, detect=detect, max_samples=8)
