"""talkingface.media: images in, MP4 out, video frames back. Inputs are made in tmp_path."""

from __future__ import annotations

from fractions import Fraction

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from talkingface.media import (
    VideoWriter,
    atomic_output,
    check_output_path,
    contact_sheet,
    image_from_array,
    iter_video_frames,
    load_image,
    probe_video,
    read_video,
    resample_frames_to_fps,
    save_png,
    write_video,
)


def gradient_frames(n: int, h: int, w: int) -> list[np.ndarray]:
    """(n) smooth moving RGB gradients, (h, w, 3) uint8."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    out = []
    for i in range(n):
        r = 128 + 100 * np.sin((xs + 3 * i) / 23.0)
        g = 128 + 100 * np.cos((ys - 2 * i) / 31.0)
        b = 128 + 90 * np.sin((xs + ys + 5 * i) / 41.0)
        out.append(np.clip(np.stack([r, g, b], axis=-1), 0, 255).astype(np.uint8))
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


def sine(seconds: float, rate: int = 16000, hz: float = 440.0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


# ----------------------------------------------------------------------------------- video


def test_round_trip_h264_aac(tmp_path):
    frames = gradient_frames(50, 96, 128)
    out = tmp_path / "out.mp4"
    info = write_video(out, frames, fps=25, audio=sine(2.0), audio_rate=16000)

    assert info == probe_video(out)
    assert (info.video_codec, info.pixel_format, info.audio_codec) == ("h264", "yuv420p", "aac")
    assert (info.width, info.height, info.frame_count) == (128, 96, 50)
    assert info.fps == pytest.approx(25.0)
    assert info.duration_s == pytest.approx(2.0, abs=0.04)
    assert info.has_audio and info.audio_rate == 16000
    assert abs(info.audio_duration_s - info.duration_s) <= 1 / 25

    decoded, times = read_video(out)
    assert decoded.shape == (50, 96, 128, 3) and decoded.dtype == np.uint8
    assert times == pytest.approx(np.arange(50) / 25, abs=1e-3)
    assert min(psnr(d, f) for d, f in zip(decoded, frames)) > 30
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]  # no temp files left


def test_colours_survive_round_trip(tmp_path):
    """BT.709 tags are written and honoured on reading, so flat colours come back unchanged."""
    colours = [(200, 30, 60), (20, 180, 90), (40, 60, 220), (250, 250, 250), (5, 5, 5)]
    frames = [np.full((64, 64, 3), c, np.uint8) for c in colours]
    write_video(tmp_path / "c.mp4", frames, fps=10, crf=10)
    decoded, _ = read_video(tmp_path / "c.mp4")
    for frame, colour in zip(decoded, colours):
        assert np.abs(frame[16:48, 16:48].reshape(-1, 3).mean(0) - colour).max() < 3


@pytest.mark.parametrize("audio_seconds", [1.5, 2.0, 2.7])
def test_audio_trimmed_or_padded_to_video(tmp_path, audio_seconds):
    out = tmp_path / "a.mp4"
    info = write_video(out, gradient_frames(50, 32, 32), fps=25, audio=sine(audio_seconds))
    assert abs(info.audio_duration_s - 2.0) <= 1 / 25


def test_audio_rate_not_supported_by_aac_is_resampled(tmp_path):
    frames = gradient_frames(10, 32, 32)
    info = write_video(tmp_path / "r.mp4", frames, fps=10, audio=sine(1.0, 11000), audio_rate=11000)
    assert info.audio_rate == 48000
    assert abs(info.audio_duration_s - 1.0) <= 0.1


def test_odd_sizes_are_cropped_to_even(tmp_path):
    frames = gradient_frames(5, 37, 51)
    info = write_video(tmp_path / "odd.mp4", frames, fps=25)
    assert (info.width, info.height) == (50, 36)
    decoded, _ = read_video(tmp_path / "odd.mp4")
    assert decoded.shape == (5, 36, 50, 3)
    assert psnr(decoded[0], frames[0][:36, :50]) > 30


def test_fractional_fps(tmp_path):
    info = write_video(tmp_path / "ntsc.mp4", gradient_frames(30, 32, 32), fps=Fraction(30000, 1001))
    assert info.fps == pytest.approx(29.97, abs=0.01)
    assert info.duration_s == pytest.approx(30 * 1001 / 30000, abs=0.01)


def test_writer_context_and_properties(tmp_path):
    out = tmp_path / "w.mp4"
    with VideoWriter(out, fps=25, width=32, height=32, preset="ultrafast") as writer:
        for frame in gradient_frames(25, 32, 32):
            writer.write(frame)
        assert not out.exists()  # only renamed into place on close
        assert writer.frame_count == 25 and writer.duration_s == pytest.approx(1.0)
    assert out.exists() and probe_video(out).frame_count == 25
    writer.close()  # idempotent


def write_raw(path, pts_ms, *, size=(48, 64), rotation=None):
    """Write an H.264 file with arbitrary timestamps (ms) straight through PyAV."""
    h, w = size
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        if rotation is not None:
            s.set_display_rotation(rotation)
        for i, pts in enumerate(pts_ms):
            frame = np.zeros((h, w, 3), np.uint8)
            frame[:8, :8] = 255  # marker at the top-left
            frame[..., 1] = i * 10
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts, vf.time_base = pts, Fraction(1, 1000)
            c.mux(s.encode(vf))
        c.mux(s.encode())


def test_variable_frame_rate_timestamps(tmp_path):
    pts = [0, 40, 100, 110, 200, 260, 300, 420, 440, 500]
    write_raw(tmp_path / "vfr.mkv", pts)
    frames, times = read_video(tmp_path / "vfr.mkv")
    assert len(frames) == len(pts)
    assert np.all(np.diff(times) > 0)
    assert times == pytest.approx(np.array(pts) / 1000, abs=1e-3)
    streamed = [t for t, _ in iter_video_frames(tmp_path / "vfr.mkv")]
    assert streamed == pytest.approx(times)
    first3, t3 = read_video(tmp_path / "vfr.mkv", max_frames=3)
    assert first3.shape[0] == 3 and t3 == pytest.approx(times[:3])


def test_display_rotation_is_applied(tmp_path):
    write_raw(tmp_path / "rot.mp4", [0, 40, 80], size=(32, 64), rotation=90)
    info = probe_video(tmp_path / "rot.mp4")
    assert (info.width, info.height, info.rotation) == (32, 64, 90)
    frames, _ = read_video(tmp_path / "rot.mp4")
    assert frames.shape[1:] == (64, 32, 3)
    # 90 degrees counter-clockwise: the top-left marker ends bottom-left
    assert frames[0, -4, 2, 0] > 200 and frames[0, 2, 2, 0] < 50


def test_resample_frames_to_fps():
    ts = np.array([0.0, 0.04, 0.07, 0.11, 0.20])
    assert resample_frames_to_fps(ts, 10, 0.3).tolist() == [0, 3, 4]
    assert resample_frames_to_fps(ts, 10, 0.3, method="hold").tolist() == [0, 2, 4]
    assert resample_frames_to_fps(ts, 25, 0.0).shape == (0,)
    cfr = np.arange(50) / 25
    assert resample_frames_to_fps(cfr, 25, 2.0).tolist() == list(range(50))
    assert resample_frames_to_fps(cfr, 50, 1.0)[:4].tolist() == [0, 0, 1, 1]


# ----------------------------------------------------------------------------------- paths


def test_atomic_output_commits_or_leaves_nothing(tmp_path):
    target = tmp_path / "x.mp4"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".") and tmp.suffix == ".mp4"
            tmp.write_bytes(b"half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []

    with atomic_output(target) as tmp:
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and list(tmp_path.iterdir()) == [target]

    with pytest.raises(KeyError):  # an existing file survives a failed rewrite
        with atomic_output(target) as tmp:
            tmp.write_bytes(b"new")
            raise KeyError("boom")
    assert target.read_bytes() == b"whole" and list(tmp_path.iterdir()) == [target]


def test_check_output_path_accepts_and_resolves(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert check_output_path("out.mp4", inputs=["in.jpg"]) == tmp_path.resolve() / "out.mp4"
    assert check_output_path("OUT.MP4").name == "OUT.MP4"
    assert check_output_path("a.png", suffixes=(".png",)).suffix == ".png"
    assert check_output_path("a.anything", suffixes=None).name == "a.anything"


# ----------------------------------------------------------------------------------- images


def test_load_plain_rgb_jpeg_and_png(tmp_path):
    rgb = gradient_frames(1, 64, 80)[0]
    Image.fromarray(rgb).save(tmp_path / "a.png")
    Image.fromarray(rgb).save(tmp_path / "a.jpg", quality=95)
    assert np.array_equal(load_image(tmp_path / "a.png"), rgb)
    jpg = load_image(str(tmp_path / "a.jpg"))
    assert jpg.shape == (64, 80, 3) and jpg.dtype == np.uint8 and psnr(jpg, rgb) > 30


def test_exif_orientation_is_applied(tmp_path):
    rgb = np.zeros((40, 64, 3), np.uint8)
    rgb[:10, :10] = (255, 0, 0)  # red marker at the top-left of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(rgb).save(tmp_path / "o.jpg", exif=exif, quality=95)
    out = load_image(tmp_path / "o.jpg")
    assert out.shape == (64, 40, 3)
    assert out[3, -3, 0] > 200 and out[3, 3, 0] < 50  # marker now top-right


def test_16_bit_images_are_scaled(tmp_path):
    grey = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (48, 1))
    Image.fromarray(grey).save(tmp_path / "g16.png")
    out = load_image(tmp_path / "g16.png")
    assert out.shape == (48, 64, 3) and out.dtype == np.uint8
    assert out[0, 0].tolist() == [0, 0, 0] and out[0, -1].tolist() == [255, 255, 255]
    assert np.all(np.diff(out[0, :, 0].astype(int)) >= 0)

    rgb16 = np.zeros((40, 40, 3), np.uint16)
    rgb16[..., 2] = 65535  # OpenCV writes BGR: this is red
    rgb16[..., 1] = 32768
    for name in ("c16.png", "c16.tif"):
        cv2.imwrite(str(tmp_path / name), rgb16)
        out = load_image(tmp_path / name)
        assert out.dtype == np.uint8 and np.abs(out[5, 5].astype(int) - [255, 128, 0]).max() <= 1


def test_cmyk_jpeg(tmp_path):
    cmyk = np.zeros((40, 40, 4), np.uint8)
    cmyk[..., 0] = 255  # pure cyan
    Image.fromarray(cmyk, mode="CMYK").save(tmp_path / "c.jpg", quality=95)
    out = load_image(tmp_path / "c.jpg")
    assert out.shape == (40, 40, 3)
    r, g, b = out[20, 20].astype(int)
    assert r < 40 and g > 200 and b > 200


def test_transparency_is_composited_over_white(tmp_path):
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, 20:, 3] = 255  # left half transparent, right half opaque red
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    out = load_image(tmp_path / "a.png")
    assert out[5, 5].tolist() == [255, 255, 255] and out[5, 30].tolist() == [255, 0, 0]

    la = Image.new("LA", (40, 40), (0, 0))
    la.save(tmp_path / "la.png")
    assert load_image(tmp_path / "la.png")[0, 0].tolist() == [255, 255, 255]

    pal = Image.new("P", (40, 40), 0)
    pal.putpalette([0, 0, 255] + [0, 255, 0] * 255)
    pal.paste(1, (20, 0, 40, 40))
    pal.save(tmp_path / "t.png", transparency=1)
    out = load_image(tmp_path / "t.png")
    assert out[5, 5].tolist() == [0, 0, 255] and out[5, 30].tolist() == [255, 255, 255]


def test_grey_palette_and_bilevel(tmp_path):
    Image.new("L", (40, 50), 77).save(tmp_path / "l.png")
    assert load_image(tmp_path / "l.png")[0, 0].tolist() == [77, 77, 77]
    Image.new("1", (40, 50), 1).save(tmp_path / "b.png")
    assert load_image(tmp_path / "b.png")[0, 0].tolist() == [255, 255, 255]
    pal = Image.new("P", (40, 50), 2)
    pal.putpalette([0, 0, 0, 0, 0, 0, 10, 20, 30])
    pal.save(tmp_path / "p.gif")
    out = load_image(tmp_path / "p.gif")
    assert out.shape == (50, 40, 3) and out[0, 0].tolist() == [10, 20, 30]
    Image.fromarray(np.full((40, 40), 0.5, np.float32), mode="F").save(tmp_path / "f.tif")
    assert load_image(tmp_path / "f.tif")[0, 0].tolist() == [128, 128, 128]


def test_icc_profiles_srgb_and_broken(tmp_path):
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    rgb = np.full((40, 40, 3), (180, 90, 40), np.uint8)
    for name, icc in (("srgb.png", srgb), ("broken.png", b"not an icc profile")):
        Image.fromarray(rgb).save(tmp_path / name, icc_profile=icc)
        assert load_image(tmp_path / name)[0, 0].tolist() == [180, 90, 40]


def test_single_frame_gif_is_accepted(tmp_path):
    Image.new("RGB", (40, 40), (1, 2, 3)).save(tmp_path / "one.gif")
    assert load_image(tmp_path / "one.gif").shape == (40, 40, 3)


def test_image_from_array_conversions():
    grey = np.full((4, 5), 7, np.uint8)
    assert image_from_array(grey).shape == (4, 5, 3)
    assert image_from_array(grey[..., None])[0, 0].tolist() == [7, 7, 7]
    assert image_from_array(np.ones((2, 2, 3), np.float32))[0, 0].tolist() == [255, 255, 255]
    assert image_from_array(np.full((2, 2), 65535, np.uint16))[0, 0].tolist() == [255, 255, 255]
    assert image_from_array(np.ones((2, 2), bool))[0, 0].tolist() == [255, 255, 255]
    rgba = np.zeros((2, 2, 4), np.uint8)
    assert image_from_array(rgba)[0, 0].tolist() == [255, 255, 255]
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    out = image_from_array(rgb[:, ::-1])
    assert out.flags.c_contiguous and np.array_equal(out, rgb[:, ::-1])
    assert out is not rgb


def test_save_png_and_contact_sheet(tmp_path):
    tiles = [np.full((40, 60, 3), v, np.uint8) for v in (0, 100, 200)] + [np.zeros((20, 20), np.uint8)]
    sheet = contact_sheet(tiles, 2, labels=["a", "b", "", "d"], pad=2)
    assert sheet.shape == (2 * 42 + 2, 2 * 62 + 2, 3) and sheet.dtype == np.uint8
    assert sheet[30, 30].tolist() == [0, 0, 0] and sheet[0, 0].tolist() == [255, 255, 255]
    assert sheet[2:20, 2:40].max() > 200  # the white label text of "a" on the black tile
    path = save_png(tmp_path / "sheet.png", sheet)
    assert np.array_equal(load_image(path), sheet)
    assert [p.name for p in tmp_path.iterdir()] == ["sheet.png"]
