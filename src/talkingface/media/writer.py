"""Write H.264 + AAC video files through PyAV, atomically.

Colour: frames are converted RGB -> Y'CbCr with the BT.709 matrix, limited ("TV") range, 4:2:0
chroma averaged over 2x2 blocks, and the stream is tagged BT.709 (matrix, primaries, transfer,
range), so players reproduce the sRGB input. Frames already in Y'CbCr 4:2:0 (``write_i420``, e.g.
decoded from another video and edited in place) are encoded as they are, under that video's own
colour tags (``colour``), so untouched pixels go through without a colour conversion.
"""

from __future__ import annotations

import math
import os
import weakref
from collections.abc import Iterable, Mapping
from fractions import Fraction

import av
import numpy as np

from talkingface.errors import OptionError, OutputPathError
from talkingface.media.colour import BT709, YCbCr, rgb_to_i420
from talkingface.media.paths import AtomicFile, check_output_path
from talkingface.media.reader import VideoInfo, probe_video

PathLike = str | os.PathLike[str]

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv")
"""Output suffixes :class:`VideoWriter` accepts (all hold H.264 + AAC)."""

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                "slower", "veryslow", "placebo")
AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)
"""Sample rates the AAC encoder takes directly; other rates are resampled to 48 kHz."""

_AAC_FRAME = 1024  # samples per AAC-LC frame
VFR_CLOCK = 90_000  # ticks per second of a variable-rate writer's timestamps (MPEG's 90 kHz)


class VideoWriter:
    """Write RGB frames (+ optional mono audio) as H.264 yuv420p + AAC, atomically.

    Frames are encoded as they arrive (x264 runs on its own threads) and the audio is muxed
    alongside them, so memory stays flat. The file appears at ``path`` only after :meth:`close`;
    on :meth:`abort`, on an exception inside ``with``, or if the writer is never closed, nothing is
    left behind (an existing file at ``path`` is untouched).

    Parameters
    ----------
    path : path ending in .mp4, .m4v, .mov or .mkv
    fps : float or Fraction, keyword-only
        Frame rate, > 0 (e.g. 25, or ``Fraction(30000, 1001)``).
    width, height : int, keyword-only
        Size of the frames passed to :meth:`write`. H.264 4:2:0 needs even sizes: an odd width or
        height is cropped by 1 px (the last column / row), so the file is at most 1 px smaller;
        :attr:`width` and :attr:`height` give the encoded size.
    audio : np.ndarray, shape (N,), float, optional, keyword-only
        Mono samples in [-1, 1] (clipped) at ``audio_rate``. The audio track is trimmed or padded
        with silence to the video duration (frames written / fps), so both end together; pass
        ``round(len(audio) / audio_rate * fps)`` frames for the whole speech.
    audio_rate : int, keyword-only
        Sample rate of ``audio`` in Hz; kept when AAC supports it (16 kHz does), else resampled to
        48 kHz.
    crf : int, keyword-only
        x264 constant rate factor, 0-51 (lower is better and larger; 18-23 is typical).
    preset : str, keyword-only
        x264 preset; ``veryfast`` balances speed and size, ``ultrafast`` is ~2x faster, 5x larger.
    threads : int, keyword-only
        x264 threads; 0 lets x264 choose (1.5 x CPU cores).
    faststart : bool, keyword-only
        Put the MP4 index first so browsers start playing before the download ends.
    audio_bitrate : int, optional, keyword-only
        AAC bit rate in bit/s; default 64 kbit/s at <= 24 kHz, else 96 kbit/s.
    encoder_options : mapping, optional, keyword-only
        Extra libx264 options, e.g. ``{"tune": "zerolatency"}`` or ``{"g": "50"}``.
    colour : YCbCr, keyword-only
        The stream's colour tags; RGB frames are converted with its matrix and range (default BT.709,
        limited range). Give a source video's own (``probe_video(...).colour``) when writing its
        decoded I420 frames with :meth:`write_i420`.
    variable_rate : bool, keyword-only
        Each :meth:`write` gives the frame's presentation time (``time_s``, increasing), kept to
        1/90000 s (a variable frame rate); ``fps`` is then the nominal rate and the last frame shows
        for 1/fps.

    Examples
    --------
    >>> with VideoWriter("out.mp4", fps=25, width=512, height=512, audio=pcm) as w:  # doctest: +SKIP
    ...     for frame in frames:
    ...         w.write(frame)
    """

    def __init__(
        self,
        path: PathLike,
        *,
        fps: float | Fraction,
        width: int,
        height: int,
        audio: np.ndarray | None = None,
        audio_rate: int = 16000,
        crf: int = 20,
        preset: str = "veryfast",
        threads: int = 0,
        faststart: bool = True,
        audio_bitrate: int | None = None,
        encoder_options: Mapping[str, str] | None = None,
        colour: YCbCr = BT709,
        variable_rate: bool = False,
    ) -> None:
        self.colour = colour
        self._rate = _check_fps(fps)
        self._variable = bool(variable_rate)
        self._time_base = Fraction(1, VFR_CLOCK) if self._variable else 1 / self._rate
        self._end = Fraction(0)  # presentation end of the frames written so far, s
        self._in_shape = _check_size(width, height)
        _check_encoder_options(crf=crf, preset=preset, threads=threads)
        self._pcm, self._audio_rate = (None, None) if audio is None else _prepare_audio(audio, audio_rate)
        self.path = check_output_path(path, suffixes=VIDEO_SUFFIXES)
        self.width, self.height = width - width % 2, height - height % 2
        self.frame_count = 0
        self._audio_pos = 0
        self._file = AtomicFile(self.path)
        self._finalizer = weakref.finalize(self, self._file.discard)
        self._state = "open"
        try:
            self._container = self._open_container(faststart)
            self._video = self._add_video(crf, preset, threads, dict(encoder_options or {}))
            self._audio = None if self._pcm is None else self._add_audio(audio_bitrate)
        except BaseException:
            self.abort()
            raise

    @property
    def fps(self) -> float:
        return float(self._rate)

    @property
    def duration_s(self) -> float:
        """Duration of the frames written so far, in seconds."""
        return float(self._end)

    def _open_container(self, faststart: bool) -> av.container.OutputContainer:
        opts = {"movflags": "+faststart"} if faststart and self.path.suffix.lower() != ".mkv" else {}
        try:
            return av.open(str(self._file.temp), "w", container_options=opts)
        except (av.FFmpegError, OSError) as err:
            raise OutputPathError(self.path, f"cannot be opened for writing ({_reason(err)})") from err

    def _add_video(self, crf: int, preset: str, threads: int, extra: dict[str, str]) -> av.VideoStream:
        options = {"crf": str(crf), "preset": preset, **{k: str(v) for k, v in extra.items()}}
        stream = self._container.add_stream("libx264", rate=self._rate, options=options)
        stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
        cc = stream.codec_context
        cc.time_base = self._time_base
        cc.thread_type = "AUTO"
        cc.thread_count = threads
        cc.colorspace = self.colour.colorspace  # FFmpeg's tag values (1: BT.709)
        cc.color_primaries = self.colour.primaries
        cc.color_trc = self.colour.trc
        cc.color_range = self.colour.color_range
        return stream

    def _add_audio(self, bitrate: int | None) -> av.AudioStream:
        rate = self._audio_rate
        stream = self._container.add_stream("aac", rate=rate, layout="mono")
        stream.bit_rate = bitrate or (64_000 if rate <= 24_000 else 96_000)
        stream.codec_context.time_base = Fraction(1, rate)
        return stream

    def write(self, frame: np.ndarray, time_s: float | None = None) -> None:
        """Encode one frame: (height, width, 3) uint8 RGB, the size given to the constructor; with
        variable_rate, time_s is its presentation time in seconds (after the previous frame's)."""
        self._check_open()
        rgb = np.asarray(frame)
        if rgb.shape != self._in_shape or rgb.dtype != np.uint8:
            raise OptionError("frame", f"array of shape {rgb.shape} and dtype {rgb.dtype}",
                              f"expected shape {self._in_shape} and dtype uint8 for {self.path}")
        self.write_i420(rgb_to_i420(rgb[: self.height, : self.width], self.colour), time_s)

    def write_i420(self, i420: np.ndarray, time_s: float | None = None) -> None:
        """Encode one frame given as I420 (height * 3 / 2, width) uint8 (yuv420p planes packed: Y,
        then Cb, then Cr) in the writer's colour, at the encoded (even) size; time_s as for write."""
        self._check_open()
        if i420.shape != (self.height * 3 // 2, self.width) or i420.dtype != np.uint8:
            raise OptionError("frame", f"array of shape {i420.shape} and dtype {i420.dtype}",
                              f"expected I420 of shape {(self.height * 3 // 2, self.width)} and dtype uint8 "
                              f"for {self.path}")
        pts = self._next_pts(time_s)
        vf = av.VideoFrame.from_ndarray(i420, format="yuv420p")
        vf.pts = pts
        vf.time_base = self._video.codec_context.time_base
        try:
            self._container.mux(self._video.encode(vf))
            self.frame_count += 1
            self._pts = pts
            self._end = pts * self._time_base + 1 / self._rate
            if self._audio is not None:
                self._feed_audio(self._audio_target(), final=False)
        except BaseException:
            self.abort()
            raise

    def _next_pts(self, time_s: float | None) -> int:
        """The next frame's pts in the stream's time base: the frame count at a constant rate, the
        given time with variable_rate."""
        if not self._variable:
            return self.frame_count
        if time_s is None or not math.isfinite(time_s) or time_s < 0:
            raise OptionError("time_s", time_s, f"a variable-rate writer needs each frame's time ({self.path})")
        pts = round(time_s * VFR_CLOCK)
        if self.frame_count and pts <= self._pts:
            raise OptionError("time_s", time_s, f"must come after the previous frame's time ({self.path})")
        return pts

    def _audio_target(self) -> int:
        """Audio samples that cover the frames written so far."""
        return round(self._end * self._audio_rate)

    def _feed_audio(self, until: int, *, final: bool) -> None:
        """Encode audio up to sample ``until`` (whole AAC frames unless ``final``)."""
        while self._audio_pos < until and (final or until - self._audio_pos >= _AAC_FRAME):
            n = min(_AAC_FRAME, until - self._audio_pos)
            chunk = np.zeros((1, n), np.float32)
            have = self._pcm[self._audio_pos: self._audio_pos + n]
            chunk[0, : len(have)] = have
            af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            af.sample_rate = self._audio_rate
            af.pts = self._audio_pos
            af.time_base = Fraction(1, self._audio_rate)
            self._container.mux(self._audio.encode(af))
            self._audio_pos += n

    def close(self) -> None:
        """Flush the encoders, finish the file and move it into place. Idempotent."""
        if self._state != "open":
            return
        try:
            if self.frame_count == 0:
                raise OptionError("frames", 0, f"no frames were written to {self.path}")
            if self._audio is not None:
                self._feed_audio(self._audio_target(), final=True)
                self._container.mux(self._audio.encode(None))
            self._container.mux(self._video.encode(None))
            self._container.close()
            self._file.commit()
        except BaseException:
            self.abort()
            raise
        self._state = "closed"
        self._finalizer.detach()

    def abort(self) -> None:
        """Discard everything written; no file is left at ``path`` or beside it. Idempotent."""
        if self._state == "closed":
            return
        self._state = "aborted"
        container = getattr(self, "_container", None)
        if container is not None:
            try:
                container.close()
            except Exception:  # noqa: BLE001 - best effort; the file is deleted next anyway
                pass
        self._file.discard()
        self._finalizer.detach()

    def _check_open(self) -> None:
        if self._state != "open":
            raise RuntimeError(f"VideoWriter for {self.path} is {self._state}")

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_video(
    path: PathLike,
    frames: Iterable[np.ndarray],
    *,
    fps: float | Fraction,
    audio: np.ndarray | None = None,
    audio_rate: int = 16000,
    **kwargs: object,
) -> VideoInfo:
    """Write an iterable of (H, W, 3) uint8 RGB frames (+ optional audio) and probe the result.

    The size comes from the first frame; ``kwargs`` go to :class:`VideoWriter`.
    """
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise OptionError("frames", "empty", f"no frames to write to {os.fspath(path)}")
    first = np.asarray(first)
    if first.ndim != 3:
        raise OptionError("frame", f"array of shape {first.shape}", "expected (H, W, 3) uint8 RGB")
    h, w = first.shape[:2]
    with VideoWriter(path, fps=fps, width=w, height=h, audio=audio, audio_rate=audio_rate, **kwargs) as vw:
        vw.write(first)
        for frame in it:
            vw.write(frame)
    return probe_video(vw.path)


def _check_fps(fps: float | Fraction) -> Fraction:
    if not isinstance(fps, (int, float, Fraction, np.integer, np.floating)) or not math.isfinite(fps) or fps <= 0:
        raise OptionError("fps", fps, "must be a finite number > 0")
    rate = Fraction(float(fps) if isinstance(fps, np.floating) else fps).limit_denominator(10_000)
    if rate <= 0 or rate > 1000:
        raise OptionError("fps", fps, "must be between 1/10000 and 1000")
    return rate


def _check_size(width: int, height: int) -> tuple[int, int, int]:
    for name, v in (("width", width), ("height", height)):
        if not isinstance(v, (int, np.integer)) or v < 2:
            raise OptionError(name, v, "must be an integer >= 2")
        if v > 16384:
            raise OptionError(name, v, "must be <= 16384 (H.264 level limit)")
    return (int(height), int(width), 3)


def _check_encoder_options(*, crf: int, preset: str, threads: int) -> None:
    if not isinstance(crf, (int, np.integer)) or not 0 <= crf <= 51:
        raise OptionError("crf", crf, "must be an integer in 0..51")
    if preset not in X264_PRESETS:
        raise OptionError("preset", preset, f"must be one of {', '.join(X264_PRESETS)}")
    if not isinstance(threads, (int, np.integer)) or threads < 0:
        raise OptionError("threads", threads, "must be an integer >= 0 (0: automatic)")


def _prepare_audio(audio: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    """Validate mono audio -> (float32 (N,) in [-1, 1], a rate AAC accepts)."""
    if not isinstance(rate, (int, np.integer)) or rate <= 0:
        raise OptionError("audio_rate", rate, "must be an integer > 0 (Hz)")
    a = np.asarray(audio)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1 or not np.issubdtype(a.dtype, np.floating):
        raise OptionError("audio", f"array of shape {a.shape} and dtype {a.dtype}",
                          "expected mono (N,) float samples in [-1, 1]")
    if a.size == 0:
        raise OptionError("audio", "array of shape (0,)", "is empty")
    a = a.astype(np.float32)
    if not np.isfinite(a).all():
        raise OptionError("audio", f"array of shape {a.shape}", "contains NaN or infinite values")
    np.clip(a, -1.0, 1.0, out=a)
    if int(rate) in AAC_RATES:
        return a, int(rate)
    return _resample(a, int(rate), 48_000), 48_000


def _resample(pcm: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    """Resample mono float32 audio with FFmpeg's resampler."""
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=new_rate)
    frame = av.AudioFrame.from_ndarray(pcm[None, :], format="fltp", layout="mono")
    frame.sample_rate = rate
    frame.pts = 0
    frame.time_base = Fraction(1, rate)
    out = [f.to_ndarray()[0] for f in resampler.resample(frame) + resampler.resample(None)]
    return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)


def _reason(err: BaseException) -> str:
    """The error's own words, without the errno and file name FFmpeg errors repeat."""
    return getattr(err, "strerror", None) or str(err) or type(err).__name__
