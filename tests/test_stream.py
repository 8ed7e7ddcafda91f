"""The streaming engine: chunking invariance, continuity, flush, constant memory, lips, controls."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

from talkingface.audio import SAMPLE_RATE, load_audio
from talkingface.errors import OptionError
from talkingface.motion.controls import EMOTIONS
from talkingface.motion.params import PARAMETER_INDEX
from talkingface.stream import MotionStream, StreamControls, StreamError, StreamOptions, StreamSession, to_mono_float
from talkingface.audio.acoustic import FeatureExtractor
from tests.synthetic import REAL_HEAD_JERK_DEG, REAL_HEAD_STEP_DEG

FPS = 25
HEAD = [PARAMETER_INDEX[n] for n in ("headYaw", "headPitch", "headRoll")]
JAW = PARAMETER_INDEX["jawOpen"]


def voiced(seconds: float, *, f0: float = 140.0, level: float = 0.25, seed: int = 0) -> np.ndarray:
    """Loud voiced sound (harmonics of f0 with a vowel-like envelope and syllable rhythm), float32."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    harmonics = sum(np.sin(2 * np.pi * f0 * k * t) / k * (1.5 if 4 <= k <= 6 else 1.0) for k in range(1, 20))
    syllables = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t) ** 2
    noise = np.random.default_rng(seed).normal(0, 0.002, t.size)
    return (level * harmonics / 3.0 * syllables + noise).astype(np.float32)


def silence(seconds: float, *, seed: int = 1) -> np.ndarray:
    """Room-tone silence (-70 dBFS noise)."""
    return np.random.default_rng(seed).normal(0, 3e-4, int(seconds * SAMPLE_RATE)).astype(np.float32)


def run(samples: np.ndarray, chunk: int | list[int], options: StreamOptions | None = None) -> np.ndarray:
    """All frames' params (T, P) of a MotionStream fed ``samples`` in chunks, then flushed."""
    stream = MotionStream(options)
    sizes = iter(chunk) if isinstance(chunk, list) else None
    frames, start = [], 0
    while start < samples.size:
        size = next(sizes) if sizes is not None else chunk
        frames += stream.push(samples[start:start + size])
        start += size
    frames += stream.flush()
    assert [f.index for f in frames] == list(range(len(frames)))
    return np.stack([f.params for f in frames])


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "speech.ogg"
    return load_audio(path).samples[: 6 * SAMPLE_RATE]


# ------------------------------------------------------------------------------------- invariance

def test_same_frames_for_20ms_and_500ms_chunks(speech):
    small = run(speech, 320)
    large = run(speech, 8000)
    assert small.shape == large.shape == (round(speech.size / SAMPLE_RATE * FPS), len(PARAMETER_INDEX))
    np.testing.assert_allclose(small, large, atol=1e-6)


def test_same_frames_for_irregular_chunks_and_int16(speech):
    sizes = list(np.random.default_rng(3).integers(1, 3000, size=speech.size // 100))
    irregular = run(speech, sizes)
    pcm = (np.clip(speech, -1, 1) * 32767).astype(np.int16)
    np.testing.assert_allclose(irregular, run(speech, 8000), atol=1e-6)
    as_int16 = run(pcm, 1600)
    assert np.array_equal(as_int16, run(pcm, 320))
    np.testing.assert_allclose(as_int16, irregular, atol=0.1)  # 16-bit quantisation only


def test_rendered_frames_do_not_depend_on_chunking(avatar):
    audio = np.concatenate([silence(0.3), voiced(0.7)])
    frames = {}
    for chunk in (320, 8000):
        session = StreamSession(avatar, StreamOptions(size=64))
        out = []
        for start in range(0, audio.size, chunk):
            out += session.push(audio[start:start + chunk])
        out += session.flush()
        frames[chunk] = np.stack([f.image for f in out])
    assert frames[320].shape == (25, 64, 64, 3)
    assert np.array_equal(frames[320], frames[8000])


def test_features_are_exact_for_any_chunking_and_match_offline_loudness(speech):
    from talkingface.audio.features import loudness_db

    whole = FeatureExtractor().push(speech).values
    extractor = FeatureExtractor()
    parts = np.concatenate([extractor.push(speech[i:i + 123]).values for i in range(0, speech.size, 123)])
    assert np.array_equal(whole, parts)
    offline = loudness_db(speech)[: len(whole)]
    np.testing.assert_allclose(whole[:, 0], offline, atol=1e-3)


def test_declared_sample_rate_is_resampled():
    t16 = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    t48 = np.arange(2 * 48000) / 48000
    tone = lambda t: (0.3 * np.sin(2 * np.pi * 180 * t) * (t > 0.5)).astype(np.float32)
    at16 = run(tone(t16), 320)
    at48 = run(tone(t48), 960, StreamOptions(sample_rate=48000))
    assert at16.shape == at48.shape
    assert np.abs(at16[:, JAW] - at48[:, JAW]).max() < 0.03
    with pytest.raises(OptionError, match="sample_rate"):
        MotionStream().push(np.zeros(10, np.float32), sample_rate=44100)


# ------------------------------------------------------------------------------------- continuity

def test_head_moves_smoothly_across_chunks_silence_and_speech():
    audio = np.concatenate([silence(3), voiced(2), silence(2), voiced(2, seed=4)])
    params = run(audio, 160)  # 10 ms chunks: many chunk borders
    head = params[:, HEAD]
    step = np.abs(np.diff(head, axis=0))
    jerk = np.abs(np.diff(head, 2, axis=0))
    assert (step.max(axis=0) < REAL_HEAD_STEP_DEG).all()  # smoother than 99 % of real speakers' frames
    assert (jerk.max(axis=0) < REAL_HEAD_JERK_DEG).all()
    onset = int(3 * FPS)  # silence -> speech: no jump beyond the ordinary motion
    assert step[onset - 5:onset + 10].max() < 1.5 * np.percentile(step, 99)
    quiet = head[FPS: 3 * FPS]  # idle in silence: moving, never frozen
    assert quiet.std(axis=0).max() > 0.3
    assert (np.abs(np.diff(quiet, axis=0)).sum(axis=1) > 1e-4).all()
    assert np.abs(np.diff(params[:, JAW])).max() < 0.3  # lips open within 2+ frames, no popping


def test_idle_motion_continues_in_long_silence_with_blinks():
    params = run(np.zeros(60 * SAMPLE_RATE, np.float32), SAMPLE_RATE)
    blink = params[:, PARAMETER_INDEX["eyeBlinkLeft"]]
    blinks = int((np.diff((blink > 0.5).astype(int)) == 1).sum())
    assert 8 <= blinks <= 30  # ~17 per minute
    assert params[-10 * FPS:, HEAD].std(axis=0).min() > 0.2
    assert np.abs(params[:, JAW]).max() < 1e-6


def test_same_seed_same_motion_other_seed_other_motion(speech):
    a = run(speech[:SAMPLE_RATE * 2], 640, StreamOptions(seed=1))
    b = run(speech[:SAMPLE_RATE * 2], 640, StreamOptions(seed=1))
    c = run(speech[:SAMPLE_RATE * 2], 640, StreamOptions(seed=2))
    assert np.array_equal(a, b)
    assert np.abs(a[:, HEAD] - c[:, HEAD]).max() > 0.5


# ------------------------------------------------------------------------------------- lips

def test_mouth_opens_for_loud_voiced_sound_and_closes_in_silence():
    audio = np.concatenate([silence(1), voiced(1.5), silence(1.5)])
    jaw = run(audio, 320)[:, JAW]
    assert jaw[:FPS - 3].max() < 0.02
    assert jaw[int(1.3 * FPS):int(2.4 * FPS)].mean() > 0.2
    assert jaw[int(3.0 * FPS):].max() < 0.02


def test_quiet_speech_opens_less_than_loud_after_adaptation():
    loud = run(np.concatenate([voiced(2.0, level=0.3), silence(0.5)]), 320)[:, JAW]
    whisper = run(np.concatenate([voiced(2.0, level=0.3), silence(0.3), voiced(1.0, level=0.03)]), 320)[:, JAW]
    assert whisper[int(2.5 * FPS):].mean() < 0.7 * loud[int(1.0 * FPS):int(2 * FPS)].mean()


# ------------------------------------------------------------------------------------- flush, latency

def test_flush_emits_every_frame_and_closes():
    stream = MotionStream()
    audio = voiced(1.03)
    frames = stream.push(audio)
    assert len(frames) < 26
    frames += stream.flush()
    assert len(frames) == round(1.03 * FPS)
    assert np.allclose([f.pts_s for f in frames], np.arange(len(frames)) / FPS)
    assert stream.flush() == []
    with pytest.raises(StreamError):
        stream.push(audio)


def test_frames_wait_only_for_the_lookahead():
    for lookahead in (0.0, 0.06, 0.2):
        stream = MotionStream(StreamOptions(lookahead_s=lookahead))
        frames = []
        for start in range(0, 2 * SAMPLE_RATE, 160):
            frames += stream.push(np.zeros(160, np.float32))
        waits = np.array([f.ready_s - f.pts_s for f in frames])
        assert waits.min() >= lookahead
        assert waits.max() <= stream.latency_s + 0.010 + 1e-9  # + one 10 ms chunk
    assert MotionStream(StreamOptions(lookahead_s=0.08)).latency_s == pytest.approx(0.0925)


def test_push_silence_advances_time():
    stream = MotionStream()
    frames = stream.push_silence(1.0)
    assert stream.samples_received == SAMPLE_RATE
    assert 20 <= len(frames) <= 25


# ------------------------------------------------------------------------------------- memory

def test_memory_stays_constant_over_ten_minutes():
    """10 minutes of synthetic speech and pauses in 1 s chunks; the allocations still alive after
    the last 3 minutes (traced) must not grow with the frames (a leak of even ~20 bytes per frame
    would show). The first 7 minutes run untraced, which is 4x faster."""
    stream = MotionStream()
    pattern = np.concatenate([voiced(3.0), silence(1.0), voiced(2.0, f0=200), silence(4.0)])  # 10 s
    frames = 0
    for second in range(600):
        if second == 420:
            gc.collect()
            tracemalloc.start()
        start = (second % 10) * SAMPLE_RATE
        frames += len(stream.push(pattern[start:start + SAMPLE_RATE]))
    gc.collect()
    grown, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert frames >= 600 * FPS - 5
    assert grown < 64 * 1024


# ------------------------------------------------------------------------------------- controls

def test_controls_change_smoothly():
    stream = MotionStream(StreamOptions(controls=StreamControls(transition_s=0.3)))
    before = stream.push(silence(1.0))
    stream.set_controls(emotion="happy", emotion_intensity=0.8, gaze=(0.5, 0.0))
    after = stream.push(silence(2.0))
    smile = np.array([f.params[PARAMETER_INDEX["mouthSmileLeft"]] for f in before + after])
    assert smile[: len(before)].max() == 0.0
    assert smile[-1] == pytest.approx(EMOTIONS["happy"]["mouthSmileLeft"] * 0.8, abs=0.01)
    assert np.abs(np.diff(smile)).max() < 0.1  # eased in over several frames
    look = np.array([f.params[PARAMETER_INDEX["eyeLookOutLeft"]] for f in after])
    assert look[-FPS:].mean() > 0.3


def test_bad_controls_are_refused_and_leave_controls_unchanged():
    stream = MotionStream()
    with pytest.raises(OptionError, match="emotion"):
        stream.set_controls(emotion="ecstatic")
    with pytest.raises(OptionError, match="gaze"):
        stream.set_controls(gaze=(2.0, 0.0))
    with pytest.raises(OptionError, match="unknown"):
        stream.set_controls(volume=3)
    assert stream.controls == StreamControls()


@pytest.mark.parametrize("changes, name", [
    ({"fps": 0}, "fps"), ({"lookahead_s": 0.9}, "lookahead_s"), ({"size": 32}, "size"),
    ({"sample_rate": 100}, "sample_rate"), ({"seed": -1}, "seed"), ({"blink_rate": 99}, "blink_rate"),
])
def test_bad_options_name_the_option(changes, name):
    with pytest.raises(OptionError, match=name):
        StreamOptions(**changes)


def test_audio_input_forms():
    assert to_mono_float(np.array([0, 16384, -32768], np.int16)).tolist() == [0.0, 0.5, -1.0]
    assert to_mono_float(b"\x00\x40\x00\x80").tolist() == [0.5, -1.0]
    assert to_mono_float(np.ones((4, 2), np.float32) * [1, 0]).tolist() == [0.5] * 4
    with pytest.raises(OptionError, match="even"):
        to_mono_float(b"\x00\x40\x00")
    with pytest.raises(OptionError, match="finite"):
        to_mono_float(np.array([np.nan], np.float32))


# ------------------------------------------------------------------------------------- one engine

@pytest.mark.parametrize("chunk", [160, 1234])
def test_live_mode_equals_the_offline_acoustic_mode(speech, chunk):
    """Offline and live are two run modes of one engine: the streamed frames are the frames the
    offline render makes from the same audio without words (lips, head, blinks, gaze, brows)."""
    from talkingface.audio import analyse_audio, audio_from_array
    from talkingface.motion.generate import MotionOptions, generate_motion

    samples = speech[: 3 * SAMPLE_RATE]
    offline = generate_motion(analyse_audio(audio_from_array(samples, SAMPLE_RATE), phonetic=False),
                              MotionOptions(seed=2, lips="learned"))
    live = run(samples, chunk, StreamOptions(seed=2))
    assert live.shape == offline.values.shape
    assert np.abs(live - offline.values).max() < 1e-5
    assert offline["jawOpen"].std() > 0.02  # and the lips do move
