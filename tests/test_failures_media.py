"""talkingface.media failure cases: each raises the documented error, naming the file and problem."""

from __future__ import annotations

import io
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from talkingface.errors import ImageError, InputFileError, InputNotFoundError, OptionError, OutputPathError
from talkingface.media import (
    VideoWriter,
    check_output_path,
    contact_sheet,
    image_from_array,
    load_image,
    probe_video,
    read_video,
    resample_frames_to_fps,
    write_video,
)
from talkingface.media import images as images_module
from talkingface.media import paths as paths_module


def raises_naming(exc_type, path, *words):
    """pytest.raises that also checks the message names ``path`` and contains ``words``."""

    class _Check:
        def __enter__(self):
            self._ctx = pytest.raises(exc_type)
            self._info = self._ctx.__enter__()
            return self._info

        def __exit__(self, *exc):
            handled = self._ctx.__exit__(*exc)
            message = str(self._info.value)
            assert os.fspath(path) in message, message
            for word in words:
                assert word in message, message
            return handled

    return _Check()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height (8-bit grey) with almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


def frame(h=32, w=32) -> np.ndarray:
    return np.full((h, w, 3), 120, np.uint8)


# ----------------------------------------------------------------------------- load_image


def test_missing_file(tmp_path):
    path = tmp_path / "nope.jpg"
    with raises_naming(InputNotFoundError, path, "no such file"):
        load_image(path)


def test_directory(tmp_path):
    with raises_naming(InputNotFoundError, tmp_path, "directory"):
        load_image(tmp_path)


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("hello, this is text\n")
    with raises_naming(ImageError, path, "not an image"):
        load_image(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with raises_naming(ImageError, path, "empty"):
        load_image(path)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.98])
def test_truncated_jpeg(tmp_path, keep):
    buf = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buf, "JPEG", quality=90)
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[: int(len(buf.getvalue()) * keep)])
    with raises_naming(ImageError, path, "truncated"):
        load_image(path)


def test_corrupt_png(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    data[len(data) // 2: len(data) // 2 + 64] = bytes(64)  # garbage inside IDAT
    path = tmp_path / "bad.png"
    path.write_bytes(bytes(data))
    with raises_naming(ImageError, path):
        load_image(path)


def test_animated_gif(tmp_path):
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (40, 40), (i * 60, 0, 0)) for i in range(3)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with raises_naming(ImageError, path, "animated (3 frames)", "still image"):
        load_image(path)


def test_animated_png(tmp_path):
    path = tmp_path / "anim.png"
    frames = [Image.new("RGB", (40, 40), (0, i * 60, 0)) for i in range(2)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    with raises_naming(ImageError, path, "animated (2 frames)"):
        load_image(path)


def test_decompression_bomb_pillow_limit(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(30000, 30000))  # 900 Mpx declared, 60-odd bytes on disk
    with raises_naming(ImageError, path, "900,000,000", "40,000,000"):
        load_image(path)


def test_decompression_bomb_our_limit(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(png_header_only(8000, 6000))  # 48 Mpx: under Pillow's limit, over ours
    with raises_naming(ImageError, path, "8000x6000", "40,000,000"):
        load_image(path)
    small = tmp_path / "small.png"
    Image.new("RGB", (64, 64)).save(small)
    with raises_naming(ImageError, small, "64x64", "1,000"):
        load_image(small, max_pixels=1000)


def test_tiny_image(tmp_path):
    path = tmp_path / "tiny.png"
    Image.new("RGB", (16, 200)).save(path)
    with raises_naming(ImageError, path, "too small", "16x200"):
        load_image(path)


def test_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "secret.png"
    Image.new("RGB", (40, 40)).save(path)
    if os.geteuid() != 0:
        path.chmod(0)
    else:  # root reads anything: simulate the refusal
        def deny(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(images_module, "open", deny, raising=False)
    with raises_naming(ImageError, path, "cannot be read"):
        load_image(path)


def test_bad_max_pixels(tmp_path):
    with pytest.raises(OptionError, match="max_pixels"):
        load_image(tmp_path / "x.png", max_pixels=0)


@pytest.mark.parametrize(
    "array",
    [np.zeros((4, 4, 2), np.uint8), np.zeros((3, 4, 4, 3), np.uint8), np.zeros((0, 4, 3), np.uint8),
     np.full((4, 4), 2.0), np.full((4, 4), np.nan), np.full((4, 4), 300, np.int32), np.zeros((4, 4), complex)],
)
def test_image_from_array_rejects(array):
    with pytest.raises(OptionError, match="image"):
        image_from_array(array)


def test_contact_sheet_rejects():
    with pytest.raises(OptionError, match="images"):
        contact_sheet([], 2)
    with pytest.raises(OptionError, match="labels"):
        contact_sheet([frame()], 2, labels=["a", "b"])


# ----------------------------------------------------------------------------- output paths


def test_output_is_an_input(tmp_path):
    portrait = tmp_path / "face.mp4"
    portrait.write_bytes(b"x")
    with raises_naming(OutputPathError, portrait, "input"):
        check_output_path(portrait, inputs=[portrait])
    link = tmp_path / "link.mp4"
    link.symlink_to(portrait)
    with raises_naming(OutputPathError, portrait, "input"):
        check_output_path(link, inputs=[portrait])
    hard = tmp_path / "hard.mp4"
    os.link(portrait, hard)
    with raises_naming(OutputPathError, hard, "input"):
        check_output_path(hard, inputs=[str(portrait)])


def test_output_folder_missing(tmp_path):
    path = tmp_path / "no" / "such" / "out.mp4"
    with raises_naming(OutputPathError, path, "does not exist"):
        check_output_path(path)


def test_output_is_a_directory(tmp_path):
    folder = tmp_path / "film.mp4"
    folder.mkdir()
    with raises_naming(OutputPathError, folder, "directory"):
        check_output_path(folder)


def test_output_folder_not_writable(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() != 0:
        locked.chmod(0o555)
    else:  # root writes anywhere: simulate a read-only folder
        real_access = os.access
        monkeypatch.setattr(paths_module.os, "access",
                            lambda p, mode: False if os.fspath(p) == os.fspath(locked) else real_access(p, mode))
    path = locked / "out.mp4"
    try:
        with raises_naming(OutputPathError, path, "not writable"):
            check_output_path(path)
    finally:
        locked.chmod(0o755)


def test_output_wrong_suffix(tmp_path):
    path = tmp_path / "out.avi"
    with raises_naming(OutputPathError, path, ".avi", ".mp4"):
        check_output_path(path)
    with raises_naming(OutputPathError, tmp_path / "noext", "(none)"):
        check_output_path(tmp_path / "noext")


# ----------------------------------------------------------------------------- video


def test_writer_aborted_on_exception_leaves_nothing(tmp_path):
    out = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="render failed"):
        with VideoWriter(out, fps=25, width=32, height=32, audio=np.zeros(16000, np.float32)) as writer:
            for _ in range(10):
                writer.write(frame())
            raise RuntimeError("render failed")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError, match="aborted"):
        writer.write(frame())


def test_writer_abort_keeps_existing_file(tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous video")
    writer = VideoWriter(out, fps=25, width=32, height=32)
    writer.write(frame())
    writer.abort()
    writer.abort()
    assert out.read_bytes() == b"previous video" and list(tmp_path.iterdir()) == [out]


def test_writer_never_closed_leaves_nothing(tmp_path):
    writer = VideoWriter(tmp_path / "out.mp4", fps=25, width=32, height=32)
    writer.write(frame())
    del writer
    import gc

    gc.collect()
    assert list(tmp_path.iterdir()) == []


def test_writer_without_frames(tmp_path):
    out = tmp_path / "out.mp4"
    with raises_naming(OptionError, out, "no frames"):
        with VideoWriter(out, fps=25, width=32, height=32):
            pass
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OptionError, match="frames"):
        write_video(out, [], fps=25)


def test_writer_wrong_frame(tmp_path):
    out = tmp_path / "out.mp4"
    with pytest.raises(OptionError, match=r"\(32, 32, 3\)"):
        with VideoWriter(out, fps=25, width=32, height=32) as writer:
            writer.write(frame(32, 32).astype(np.float32))
    with pytest.raises(OptionError, match="frame"):
        with VideoWriter(out, fps=25, width=32, height=32) as writer:
            writer.write(frame(30, 32))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"fps": 0}, "fps"),
        ({"fps": float("nan")}, "fps"),
        ({"width": 1}, "width"),
        ({"height": 0}, "height"),
        ({"crf": 60}, "crf"),
        ({"preset": "warp"}, "preset"),
        ({"threads": -1}, "threads"),
        ({"audio": np.zeros((100, 2), np.float32)}, "audio"),
        ({"audio": np.zeros(0, np.float32)}, "audio"),
        ({"audio": np.array([0.0, np.inf])}, "audio"),
        ({"audio": np.zeros(100, np.int16)}, "audio"),
        ({"audio": np.zeros(100, np.float32), "audio_rate": 0}, "audio_rate"),
    ],
)
def test_writer_bad_options(tmp_path, kwargs, name):
    args = {"fps": 25, "width": 32, "height": 32, **kwargs}
    with pytest.raises(OptionError, match=name):
        VideoWriter(tmp_path / "out.mp4", **args)
    assert list(tmp_path.iterdir()) == []


def test_writer_bad_output_paths(tmp_path):
    with raises_naming(OutputPathError, tmp_path / "x.avi", ".avi"):
        VideoWriter(tmp_path / "x.avi", fps=25, width=32, height=32)
    with raises_naming(OutputPathError, tmp_path / "missing" / "x.mp4", "does not exist"):
        VideoWriter(tmp_path / "missing" / "x.mp4", fps=25, width=32, height=32)


def test_reading_missing_or_bad_videos(tmp_path):
    missing = tmp_path / "none.mp4"
    with raises_naming(InputNotFoundError, missing, "no such file"):
        probe_video(missing)
    with raises_naming(InputNotFoundError, tmp_path, "directory"):
        read_video(tmp_path)
    text = tmp_path / "fake.mp4"
    text.write_text("not a video at all\n" * 10)
    with raises_naming(InputFileError, text, "not a video"):
        probe_video(text)
    with raises_naming(InputFileError, text):
        read_video(text)
    still = tmp_path / "still.png"
    Image.new("RGB", (40, 40)).save(still)
    # a PNG opens as a one-frame video in FFmpeg: reading it works, which is fine
    assert read_video(still)[0].shape == (1, 40, 40, 3)


def test_reading_audio_only_file(tmp_path):
    import av

    path = tmp_path / "voice.m4a"
    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=16000, layout="mono")
        af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        af.sample_rate, af.pts = 16000, 0
        c.mux(s.encode(af))
        c.mux(s.encode())
    with raises_naming(InputFileError, path, "no video stream"):
        probe_video(path)


@pytest.mark.parametrize("keep", [0.05, 0.6])
def test_truncated_video(tmp_path, keep):
    path = tmp_path / "whole.mp4"
    noise = np.random.default_rng(0).integers(0, 255, (30, 64, 64, 3), dtype=np.uint8)
    write_video(path, noise, fps=25)
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * keep)])
    with raises_naming(InputFileError, cut, "truncated"):
        read_video(cut)


@pytest.mark.parametrize(
    "args, name",
    [
        (([], 25, 1.0), "timestamps"),
        (([0.0, 0.2, 0.1], 25, 1.0), "timestamps"),
        (([0.0], 0, 1.0), "fps"),
        (([0.0], 25, -1.0), "duration_s"),
    ],
)
def test_resample_rejects(args, name):
    with pytest.raises(OptionError, match=name):
        resample_frames_to_fps(*args)
    with pytest.raises(OptionError, match="method"):
        resample_frames_to_fps([0.0], 25, 1.0, method="linear")
