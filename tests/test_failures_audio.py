"""Every way the audio stage refuses input: the error type, and a message naming the file and
the problem."""

from __future__ import annotations

import struct
import time

import av
import numpy as np
import pytest

from talkingface.audio import Audio, analyse_audio, audio_from_array, load_audio
from talkingface.errors import AudioError, InputNotFoundError, OptionError
from tests.synthetic import write_wav

RATE = 16000




def noise(seconds: float, level: float = 0.1) -> np.ndarray:
    return np.random.default_rng(0).normal(0, level, int(seconds * RATE)).astype(np.float32)


def encode_mono(path, samples: np.ndarray, codec: str, frame_samples: int, container: str | None = None) -> None:
    """Encode float mono samples at RATE with a PyAV audio codec, frame_samples per frame."""
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=RATE, layout="mono")
        for i in range(0, samples.size, frame_samples):
            frame = av.AudioFrame.from_ndarray(samples[None, i:i + frame_samples], format="fltp", layout="mono")
            frame.sample_rate, frame.pts = RATE, i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def raises(exc_type, path, *words):
    """Check load_audio(path) raises ``exc_type`` whose message has the path and ``words``."""
    with pytest.raises(exc_type) as info:
        load_audio(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message
    return info.value


def test_missing_file(tmp_path):
    err = raises(InputNotFoundError, tmp_path / "nope.wav", "no such")
    assert isinstance(err, FileNotFoundError)


def test_directory(tmp_path):
    raises(InputNotFoundError, tmp_path, "directory")


def test_text_file_is_not_audio(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio at all\n" * 20)
    err = raises(AudioError, path, "cannot be read")
    assert isinstance(err, ValueError)


def test_random_bytes_are_not_audio(tmp_path):
    path = tmp_path / "noise.mp3"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    raises(AudioError, path)


def test_truncated_header_is_corrupt(tmp_path):
    good = write_wav(tmp_path / "good.wav", noise(1.0))
    path = tmp_path / "cut.wav"
    path.write_bytes(good.read_bytes()[:30])
    raises(AudioError, path)


def test_image_has_no_audio_stream(tmp_path):
    path = tmp_path / "picture.png"
    with av.open(str(path), "w", format="image2") as out:
        st = out.add_stream("png", rate=1)
        st.width = st.height = 8
        st.pix_fmt = "rgb24"
        frame = av.VideoFrame.from_ndarray(np.zeros((8, 8, 3), np.uint8), format="rgb24")
        out.mux(st.encode(frame))
        out.mux(st.encode(None))
    raises(AudioError, path, "no audio stream")


def test_video_without_audio_stream(tmp_path):
    path = tmp_path / "silent_film.mp4"
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=25)
        st.width = st.height = 64
        st.pix_fmt = "yuv420p"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
            frame.pts = i
            out.mux(st.encode(frame))
        out.mux(st.encode(None))
    raises(AudioError, path, "no audio stream")


def test_empty_wav(tmp_path):
    raises(AudioError, write_wav(tmp_path / "empty.wav", np.zeros(0)), "contains no audio samples")


def test_digital_silence(tmp_path):
    raises(AudioError, write_wav(tmp_path / "quiet.wav", np.zeros(RATE)), "is silent")


def test_very_quiet_hiss_is_silent(tmp_path):
    raises(AudioError, write_wav(tmp_path / "hiss.wav", noise(1.0, level=2e-4)), "is silent")


def test_longer_than_max_seconds(tmp_path):
    path = write_wav(tmp_path / "long.wav", noise(3.0))
    with pytest.raises(AudioError) as info:
        load_audio(path, max_seconds=1.0)
    message = str(info.value)
    assert str(path) in message and "3.0 s" in message and "1 s" in message


def test_ten_hour_header_is_rejected_without_decoding(tmp_path):
    """An MP3 whose Info header declares 10 hours is refused from the header alone."""
    path = tmp_path / "ten_hours.mp3"
    x = noise(1.0)
    encode_mono(path, x, "libmp3lame", 1152)
    data = bytearray(path.read_bytes())
    tag = max(data.find(b"Info"), data.find(b"Xing"))
    assert tag > 0 and struct.unpack(">I", data[tag + 4:tag + 8])[0] & 1  # has a frame count
    data[tag + 8:tag + 12] = struct.pack(">I", 10 * 3600 * RATE // 576)  # 576 samples a frame
    path.write_bytes(bytes(data))
    start = time.perf_counter()
    err = raises(AudioError, path, "longer than", "600 s")
    assert time.perf_counter() - start < 1.0
    assert "35999" in str(err) or "36000" in str(err)


def test_unknown_duration_too_long_stops_while_decoding(tmp_path):
    """Raw ADTS AAC declares no duration: the limit is enforced while decoding."""
    path = tmp_path / "stream.aac"
    x = noise(3.0)
    encode_mono(path, x, "aac", 1024, container="adts")
    with pytest.raises(AudioError) as info:
        load_audio(path, max_seconds=1.0)
    assert str(path) in str(info.value) and "longer than" in str(info.value)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "10", True])
def test_bad_max_seconds(tmp_path, bad):
    path = write_wav(tmp_path / "a.wav", noise(0.5))
    with pytest.raises(OptionError) as info:
        load_audio(path, max_seconds=bad)
    assert "max_seconds" in str(info.value)


@pytest.mark.parametrize(("samples", "rate", "name"), [
    (np.zeros(10), 0, "sample_rate"),
    (np.zeros(10), 44100.5, "sample_rate"),
    (np.zeros(10), 5_000_000, "sample_rate"),
    (np.zeros(10), "16000", "sample_rate"),
    (np.zeros((2, 2, 2)), 16000, "samples"),
    (np.array([0.0, np.nan]), 16000, "samples"),
    (np.array(["a", "b"]), 16000, "samples"),
    (np.array([True, False]), 16000, "samples"),
])
def test_audio_from_array_rejects(samples, rate, name):
    with pytest.raises(OptionError) as info:
        audio_from_array(samples, rate)
    assert name in str(info.value)


def test_analyse_audio_rejects_bad_arguments():
    audio = audio_from_array(noise(0.5), RATE)
    with pytest.raises(OptionError, match="audio"):
        analyse_audio(np.zeros(100))  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="transcript"):
        analyse_audio(audio, transcript=["hello"])  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="phonetic"):
        analyse_audio(audio, phonetic="yes")  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="16000"):
        analyse_audio(Audio(np.zeros(10, np.float32), 8000, "<array>"))


def test_undecodable_sounds_give_no_phones_but_never_fail():
    """Noise, tones and clicks: acoustic features only, no crash."""
    rng = np.random.default_rng(2)
    t = np.arange(2 * RATE) / RATE
    bursts = np.where((t % 0.5) < 0.2, np.sin(2 * np.pi * 300 * t), 0.0) * 0.3
    for x in (rng.normal(0, 0.2, 2 * RATE), bursts, np.zeros(1), np.zeros(RATE)):
        track = analyse_audio(audio_from_array(x.astype(np.float32), RATE))
        assert track.loudness_db.shape == (-(-x.size // 160),)
        assert all(p.end_s > p.start_s for p in track.phones)
