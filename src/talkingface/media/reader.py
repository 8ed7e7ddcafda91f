"""Read video files through PyAV: probe headers, decode frames with real timestamps.

Frames are converted to RGB through each file's own colour tags (matrix and range) and turned
upright when the file carries a display rotation.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from talkingface.errors import InputFileError, OptionError
from talkingface.media.colour import BT709, JPEG_RANGE, MPEG_RANGE, YCbCr, rgb_to_i420
from talkingface.media.paths import check_input_file

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` reads from a file (durations in seconds).

    ``width`` and ``height`` are as displayed, i.e. after ``rotation`` (degrees counter-clockwise,
    from the file's display matrix), matching the frames :func:`read_video` returns.
    """

    path: str
    width: int
    height: int
    fps: float
    frame_count: int
    duration_s: float
    has_audio: bool
    audio_duration_s: float | None
    video_codec: str
    audio_codec: str | None
    pixel_format: str | None = None
    audio_rate: int | None = None
    rotation: int = 0
    colour: YCbCr = BT709


def probe_video(path: PathLike) -> VideoInfo:
    """Read a video file's properties from its headers (counting packets if the header lacks them).

    Raises
    ------
    InputNotFoundError
        No such file, or a directory.
    InputFileError
        Not a video FFmpeg can read, or no video stream.
    """
    p = check_input_file(path, "a video file")
    with _open_input(p) as c:
        vs = _video_stream(p, c)
        cc = vs.codec_context
        frames, duration = vs.frames, _stream_duration_s(vs)
        rotation = _first_frame_rotation(c, vs)
        if not frames or duration is None:
            frames, duration = _count_packets(p)
        width, height = (cc.height, cc.width) if rotation % 180 else (cc.width, cc.height)
        rate = vs.average_rate or vs.guessed_rate or (frames / duration if duration else 0)
        aus = c.streams.audio[0] if c.streams.audio else None
        audio_duration = None
        if aus is not None:
            audio_duration = _stream_duration_s(aus)
            if audio_duration is None and c.duration is not None:
                audio_duration = c.duration / av.time_base
        return VideoInfo(
            path=str(p), width=width, height=height, fps=float(rate), frame_count=int(frames),
            duration_s=float(duration), has_audio=aus is not None, audio_duration_s=audio_duration,
            video_codec=cc.name, audio_codec=aus.codec_context.name if aus is not None else None,
            pixel_format=cc.format.name if cc.format is not None else None,
            audio_rate=aus.codec_context.sample_rate if aus is not None else None, rotation=rotation,
            colour=_colour(cc),
        )


def count_video_packets(path: PathLike) -> int:
    """Number of video packets (= frames for H.264 without B-frame tricks) found by reading the whole
    file without decoding it; InputFileError if the data stops early or is corrupt."""
    return _count_packets(check_input_file(path, "a video file"))[0]


def iter_video_frames(path: PathLike, *, start_s: float = 0.0, i420: bool = False
                      ) -> Iterator[tuple[float, np.ndarray]]:
    """Decode a video frame by frame (from the first frame at or after start_s seconds: the decoder
    seeks to the key frame before it, so a late start costs little).

    Yields
    ------
    t : float
        Presentation time in seconds from the start of the file (the container's start time is
        subtracted, as FFmpeg does, so it lines up with the file's audio). Strictly increasing:
        a frame whose time does not advance is skipped. Variable frame rate is kept as is.
    frame : np.ndarray, shape (H, W, 3), uint8
        RGB, converted through the file's own colour tags, turned upright when the file carries
        a display rotation of a multiple of 90 degrees. With ``i420``: the frame as Y'CbCr 4:2:0
        planes packed in one (H' * 3 / 2, W') uint8 array in the colour :func:`probe_video` reports
        (``VideoInfo.colour``), H', W' the size cut down to even numbers; a yuv420p file's own
        samples, untouched, unless it must be turned or cut.

    Raises
    ------
    InputNotFoundError
        No such file, or a directory.
    InputFileError
        Not a video, no video stream, corrupt, or truncated (frames stop well before the end the
        header declares; raised after the frames that could be decoded).
    """
    p = check_input_file(path, "a video file")
    with _open_input(p) as c:
        vs = _video_stream(p, c)
        vs.thread_type = "AUTO"
        start, last, index = _start_time_s(c), -math.inf, 0
        rate = float(vs.average_rate or vs.guessed_rate or 25)
        if start_s > 0 and vs.time_base:
            c.seek(int((start_s + start) / vs.time_base), stream=vs, backward=True, any_frame=False)
        try:
            for frame in c.decode(vs):
                t = frame.time - start if frame.time is not None else index / rate
                index += 1
                if t <= last:
                    continue
                last = t
                if t >= start_s - 1e-6:
                    yield t, (_frame_to_i420(frame) if i420 else _frame_to_rgb(frame))
        except av.FFmpegError as err:
            where = f"after {last:.3f} s" if last > -math.inf else "at the start"
            raise InputFileError(p, f"is corrupt {where} ({_reason(err)})") from err
        _check_complete(p, vs, last=last, start=start, rate=rate)


def read_video(path: PathLike, *, max_frames: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Decode a whole video (or its first ``max_frames`` frames) into memory.

    Returns
    -------
    frames : np.ndarray, shape (T, H, W, 3), uint8, RGB
    timestamps : np.ndarray, shape (T,), float64
        Presentation times in seconds, strictly increasing (see :func:`iter_video_frames`).
        Use :func:`resample_frames_to_fps` to map a variable frame rate onto a constant one.

    For long files prefer :func:`iter_video_frames`: T x H x W x 3 bytes must fit in memory.
    """
    if max_frames is not None and (not isinstance(max_frames, (int, np.integer)) or max_frames < 1):
        raise OptionError("max_frames", max_frames, "must be an integer >= 1 or None")
    frames: list[np.ndarray] = []
    times: list[float] = []
    for t, rgb in iter_video_frames(path):
        if frames and rgb.shape != frames[0].shape:
            (h0, w0), (h1, w1) = frames[0].shape[:2], rgb.shape[:2]
            raise InputFileError(Path(path), f"changes frame size at {t:.3f} s ({w0}x{h0} -> {w1}x{h1})")
        frames.append(rgb)
        times.append(t)
        if max_frames is not None and len(frames) >= max_frames:
            break
    if not frames:
        raise InputFileError(Path(path), "has no decodable video frames")
    return np.stack(frames), np.asarray(times, dtype=np.float64)


def resample_frames_to_fps(
    timestamps: np.ndarray, fps: float, duration_s: float, *, method: str = "nearest"
) -> np.ndarray:
    """Map frames with arbitrary timestamps onto a constant frame rate.

    Parameters
    ----------
    timestamps : array, shape (T,), seconds, non-decreasing
        Presentation times of the source frames (e.g. from :func:`read_video`).
    fps : float
        Output frame rate.
    duration_s : float
        Output duration; the output has ``round(duration_s * fps)`` frames at times ``k / fps``.
    method : {"nearest", "hold"}, keyword-only
        ``nearest``: the source frame closest in time (ties go to the earlier one).
        ``hold``: the frame on screen at that time (last one with timestamp <= k / fps).
        Times before the first frame take frame 0; times after the last take the last.

    Returns
    -------
    np.ndarray, shape (round(duration_s * fps),), intp
        Source frame index for each output frame.
    """
    ts = np.asarray(timestamps, dtype=np.float64)
    if ts.ndim != 1 or ts.size == 0:
        raise OptionError("timestamps", f"array of shape {ts.shape}", "expected a non-empty (T,) array")
    if not np.isfinite(ts).all() or np.any(np.diff(ts) < 0):
        raise OptionError("timestamps", f"array of shape {ts.shape}", "must be finite and non-decreasing")
    if not math.isfinite(fps) or fps <= 0:
        raise OptionError("fps", fps, "must be a finite number > 0")
    if not math.isfinite(duration_s) or duration_s < 0:
        raise OptionError("duration_s", duration_s, "must be a finite number >= 0")
    if method not in ("nearest", "hold"):
        raise OptionError("method", method, "must be 'nearest' or 'hold'")
    t = np.arange(round(duration_s * fps), dtype=np.float64) / fps
    if method == "hold":
        idx = np.searchsorted(ts, t + 1e-9, side="right") - 1
        return np.clip(idx, 0, ts.size - 1).astype(np.intp)
    right = np.clip(np.searchsorted(ts, t, side="left"), 0, ts.size - 1)
    left = np.clip(right - 1, 0, ts.size - 1)
    take_left = np.abs(t - ts[left]) <= np.abs(ts[right] - t)
    return np.where(take_left, left, right).astype(np.intp)


# ------------------------------------------------------------------------------------ helpers


def _open_input(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), "r")
    except PermissionError as err:
        raise InputFileError(path, "cannot be read: permission denied") from err
    except (av.FFmpegError, OSError, UnicodeDecodeError) as err:
        raise InputFileError(path, f"is not a video FFmpeg can read, or is truncated ({_reason(err)})") from err


def _reason(err: BaseException) -> str:
    """The error's own words, without the errno and file name FFmpeg errors repeat."""
    return getattr(err, "strerror", None) or str(err) or type(err).__name__


def _video_stream(path: Path, container: av.container.InputContainer) -> av.VideoStream:
    if not container.streams.video:
        if not container.streams:
            raise InputFileError(path, "has no audio or video streams (not a video, or truncated)")
        raise InputFileError(path, "has no video stream")
    return container.streams.video[0]


def _start_time_s(container: av.container.InputContainer) -> float:
    """The file's start time (FFmpeg subtracts it too, so video and audio stay aligned)."""
    return container.start_time / av.time_base if container.start_time is not None else 0.0


def _stream_duration_s(stream: av.stream.Stream) -> float | None:
    if stream.duration is None or stream.time_base is None:
        return None
    return float(stream.duration * stream.time_base)


def _first_frame_rotation(container: av.container.InputContainer, vs: av.VideoStream) -> int:
    """Display rotation (degrees CCW, 0/90/180/270) of the first decodable frame; 0 if none."""
    try:
        for frame in container.decode(vs):
            return (round(frame.rotation / 90) % 4) * 90 if frame.rotation else 0
    except av.FFmpegError:
        pass
    return 0


def _count_packets(path: Path) -> tuple[int, float]:
    """Count video packets and span their timestamps (for containers without a frame count)."""
    count, first, last = 0, math.inf, -math.inf
    try:
        with _open_input(path) as container:
            for packet in container.demux(container.streams.video[0]):
                if packet.size == 0 or packet.pts is None:
                    continue
                count += 1
                t = float(packet.pts * packet.time_base)
                first, last = min(first, t), max(last, t + float((packet.duration or 0) * packet.time_base))
    except av.FFmpegError as err:
        raise InputFileError(path, f"is corrupt ({_reason(err)})") from err
    return count, (last - first if count else 0.0)


def _check_complete(path: Path, vs: av.VideoStream, *, last: float, start: float, rate: float) -> None:
    """Raise if decoding stopped well before the end the header declares (a truncated file).

    Tolerates 4 frame periods or 5 % of the duration, whichever is larger.
    """
    declared = _stream_duration_s(vs)
    if declared is None or last == -math.inf:
        return
    first = float(vs.start_time * vs.time_base) - start if vs.start_time is not None else 0.0
    end = first + declared
    if last + 1.0 / rate + max(4.0 / rate, 0.05 * declared) < end:
        raise InputFileError(path, f"is truncated: frames stop at {last:.2f} s but the header says {end:.2f} s")


def _frame_to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """Decoded frame -> upright (H, W, 3) uint8 RGB (swscale, 1 thread: fastest per frame)."""
    rgb = frame.to_ndarray(format="rgb24", src_color_range=frame.color_range or None, threads=1)
    turns = round(frame.rotation / 90) % 4 if frame.rotation else 0
    return np.ascontiguousarray(np.rot90(rgb, k=turns)) if turns else rgb


def _frame_to_i420(frame: av.VideoFrame) -> np.ndarray:
    """Decoded frame -> upright I420 (H' * 3 / 2, W') uint8 in the file's colour (see _colour): the
    samples themselves for an upright yuv420p frame of even size, else through RGB."""
    even = frame.width % 2 == 0 and frame.height % 2 == 0
    if even and not frame.rotation and frame.format.name in ("yuv420p", "yuvj420p"):
        return frame.to_ndarray()  # yuvj420p: the same planes in full range, which _colour reports
    rgb = _frame_to_rgb(frame)
    height, width = rgb.shape[:2]
    return rgb_to_i420(rgb[:height - height % 2, :width - width % 2], _colour(frame))


def _colour(frame_or_codec) -> YCbCr:
    """The colour tags of a frame or codec context; range JPEG for yuvj formats."""
    name = frame_or_codec.format.name if frame_or_codec.format is not None else ""
    full = frame_or_codec.color_range == JPEG_RANGE or name.startswith("yuvj")
    return YCbCr(colorspace=int(frame_or_codec.colorspace), primaries=int(frame_or_codec.color_primaries),
                 trc=int(frame_or_codec.color_trc), color_range=JPEG_RANGE if full else MPEG_RANGE)
