"""Audio stage: decoding many formats, acoustic features, phones, visemes, alignment.

Inputs are synthesised here (tones, noise, silence in many containers); speech tests use the
project's example recording ``examples/speech.ogg`` and skip when it is absent.
"""

from __future__ import annotations

import difflib
import itertools
import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from talkingface.audio import (
    SAMPLE_RATE,
    VISEMES,
    Audio,
    AudioTrack,
    TimedPhone,
    TimedViseme,
    TimedWord,
    analyse_audio,
    audio_from_array,
    load_audio,
    phones_to_visemes,
)
from talkingface.audio import features as F
from talkingface.audio.align import coverage, share_words
from talkingface.audio.phones import SpanResult, clean_phone
from talkingface.audio.text import integer_words, normalise_transcript
from talkingface.audio.track import fill_timeline
from talkingface.audio.visemes import PHONE_TO_VISEME, phone_viseme
from tests.synthetic import write_wav

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SPEECH, SPEECH_TEXT = EXAMPLES / "speech.ogg", EXAMPLES / "speech.txt"
ARPABET = ("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH "
           "UH UW V W Y Z ZH").split()


def tone(seconds: float, rate: int, *, freq: float = 220.0, amp: float = 0.4) -> np.ndarray:
    """Amplitude-modulated tone, shape (2, N) float32: right channel at 0.8 x left."""
    t = np.arange(round(seconds * rate)) / rate
    x = amp * np.sin(2 * np.pi * freq * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    return np.stack([x, 0.8 * x]).astype(np.float32)


def write_media(path: Path, codec: str, *, rate: int = 44100, seconds: float = 1.5,
                fmt: str | None = None, video: bool = False,
                options: dict[str, str] | None = None) -> Path:
    """Encode ``tone`` with PyAV (optionally after a 64x64 H.264 video stream)."""
    x = tone(seconds, rate)
    with av.open(str(path), "w", format=fmt) as out:
        vs = out.add_stream("libx264", rate=25) if video else None
        st = out.add_stream(codec, rate=rate, layout="stereo")
        if options:
            st.codec_context.options = options
        if vs is not None:
            vs.width = vs.height = 64
            vs.pix_fmt = "yuv420p"
            for i in range(int(seconds * 25)):
                frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 9 % 255, np.uint8),
                                                   format="rgb24")
                frame.pts = i
                out.mux(vs.encode(frame))
            out.mux(vs.encode(None))
        for i in range(0, x.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x[:, i:i + 1024]),
                                               format="fltp", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = rate, i, Fraction(1, rate)
            out.mux(st.encode(frame))
        out.mux(st.encode(None))
    return path




# ----------------------------------------------------------------------------------------------
# decoding


FORMATS = [
    ("s16.wav", "pcm_s16le", {}),
    ("s24.wav", "pcm_s24le", {}),
    ("s32.wav", "pcm_s32le", {}),
    ("float.wav", "pcm_f32le", {}),
    ("lossless.flac", "flac", {}),
    ("lossy.mp3", "libmp3lame", {}),
    ("vorbis.ogg", "vorbis", {"options": {"strict": "experimental"}}),
    ("voice.opus", "libopus", {"rate": 48000}),
    ("music.m4a", "aac", {}),
    ("clip.webm", "libopus", {"rate": 48000}),
    ("talk.mp4", "aac", {"video": True}),
]


@pytest.mark.parametrize(("name", "codec", "kwargs"), FORMATS, ids=[f[0] for f in FORMATS])
def test_load_audio_formats(tmp_path, name, codec, kwargs):
    path = write_media(tmp_path / name, codec, **kwargs)
    audio = load_audio(path)
    assert isinstance(audio, Audio)
    assert audio.sample_rate == SAMPLE_RATE and audio.source == str(path)
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert audio.duration_s == pytest.approx(1.5, abs=0.03)
    assert np.abs(audio.samples).max() <= 1.0
    # channels are averaged: peak 0.4 * (1 + 0.8) / 2 = 0.36, lossy codecs within ~10 %
    assert np.abs(audio.samples).max() == pytest.approx(0.36, rel=0.12)


def test_load_audio_keeps_pitch_when_resampling(tmp_path):
    path = write_media(tmp_path / "tone.wav", "pcm_s16le", rate=44100)
    x = load_audio(path).samples
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    assert np.fft.rfftfreq(x.size, 1 / SAMPLE_RATE)[spectrum.argmax()] == pytest.approx(220, abs=2)


def test_load_audio_accepts_pathlike_and_max_seconds(tmp_path):
    path = write_wav(tmp_path / "a.wav", tone(2.0, SAMPLE_RATE)[0])
    assert load_audio(path, max_seconds=2.2).duration_s == pytest.approx(2.0)
    assert load_audio(str(path)).source == str(path)


def test_audio_from_array_layouts_and_dtypes():
    stereo = tone(1.0, 44100)  # (2, N)
    a = audio_from_array(stereo, 44100)
    b = audio_from_array(stereo.T.copy(), 44100)  # (N, 2)
    assert a.sample_rate == SAMPLE_RATE and a.samples.dtype == np.float32
    assert a.duration_s == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_allclose(a.samples, b.samples)
    assert np.abs(a.samples).max() == pytest.approx(0.36, rel=0.02)
    pcm16 = (stereo[0] * 32767).astype(np.int16)
    c = audio_from_array(pcm16, 16000, source="mic")
    assert c.source == "mic" and np.abs(c.samples).max() == pytest.approx(0.4, rel=0.01)
    u8 = (stereo[0] * 127 + 128).astype(np.uint8)
    assert np.abs(audio_from_array(u8, 16000).samples).max() == pytest.approx(0.4, rel=0.02)
    assert audio_from_array(np.zeros(0, np.float32), 48000).duration_s == 0.0


# ----------------------------------------------------------------------------------------------
# acoustic features


def test_loudness_of_a_sine_is_its_rms_level():
    x = (0.5 * np.sin(2 * np.pi * 400 * np.arange(SAMPLE_RATE) / SAMPLE_RATE)).astype(np.float32)
    db = F.loudness_db(x)
    assert db.shape == (100,) and db.dtype == np.float32
    assert np.median(db) == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.1)
    assert F.loudness_db(np.zeros(800, np.float32)).max() == F.FLOOR_DB


def test_pitch_and_voicing_of_a_harmonic_tone():
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    voiced = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 6)) * 0.2
    x = np.concatenate([voiced, np.zeros(SAMPLE_RATE // 2)]).astype(np.float32)
    track = analyse_audio(audio_from_array(x, SAMPLE_RATE), phonetic=False)
    assert np.median(track.pitch_hz[10:90]) == pytest.approx(150, rel=0.02)
    assert track.voicing[10:90].mean() > 0.95 and track.voicing[-30:].max() == 0
    assert np.all(track.pitch_hz[track.voicing == 0] == 0)


def test_speech_activity_follows_bursts_with_hangover():
    rng = np.random.default_rng(0)
    parts = [np.zeros(8000), rng.normal(0, 0.1, 16000), np.zeros(16000), rng.normal(0, 0.1, 8000),
             np.zeros(8000)]
    loud = F.loudness_db(np.concatenate(parts).astype(np.float32))
    act = F.speech_activity(loud)
    assert act.dtype == np.float32 and set(np.unique(act)) <= {0.0, 1.0}
    assert act[55:145].min() == 1 and act[175:245].max() == 0  # burst, pause (minus hangover)
    assert act[255:295].min() == 1 and act[:45].max() == 0 and act[-30:].max() == 0
    # onsets 30 ms + half a window early, ends 80 ms hangover + half a window late
    assert F.speech_regions(act) == [(46, 159), (246, 309)]


def test_split_utterances_cuts_long_speech_and_pads():
    act = np.zeros(3000, np.float32)
    act[100:1500] = 1  # 14 s without a pause: cut
    act[1600:1700] = 1
    loud = np.where(act > 0, -20.0, -80.0).astype(np.float32)
    loud[900] = -60  # quietest place to cut
    utts = F.split_utterances(act, loud, max_s=12.0, target_s=8.0)
    assert utts[0] == (80, 900) and utts[1][0] == 900
    assert all(b - a <= 1240 for a, b in utts)
    assert all(u[1] <= v[0] for u, v in itertools.pairwise(utts))  # disjoint, sorted


def test_acoustic_only_track_shapes_and_speed():
    x = np.concatenate([tone(2.0, SAMPLE_RATE)[0], np.zeros(SAMPLE_RATE, np.float32)])
    x = np.concatenate([x, x[:123]])
    track = analyse_audio(audio_from_array(x, SAMPLE_RATE), phonetic=False)
    assert isinstance(track, AudioTrack)
    assert track.feature_rate == 100.0 and track.duration_s == pytest.approx(x.size / SAMPLE_RATE)
    t = math.ceil(x.size / 160)
    for arr in (track.loudness_db, track.voicing, track.pitch_hz, track.speech_activity):
        assert arr.shape == (t,) and arr.dtype == np.float32
    assert track.n_frames == t
    assert track.words == () and track.phones == () and track.visemes == ()
    assert track.transcript_source == "none"


# ----------------------------------------------------------------------------------------------
# visemes, text, timeline helpers


def test_every_arpabet_phone_has_a_viseme():
    assert len(VISEMES) == 15 and VISEMES[0] == "sil"
    for phone in ARPABET:
        assert phone == "HH" or PHONE_TO_VISEME[phone] in VISEMES
    assert {phone_viseme(p) for p in "P B M".split()} == {"PP"}
    assert phone_viseme("AA1") == "aa" and phone_viseme("uw") == "ou"
    assert phone_viseme("HH", "IY") == "ih" and phone_viseme("HH", "T") == "kk"
    assert phone_viseme("+NSN+") == "sil"


def test_phones_to_visemes_keeps_timing_and_resolves_hh():
    phones = [TimedPhone("SIL", 0.0, 0.1), TimedPhone("HH", 0.1, 0.15), TimedPhone("OW", 0.15, 0.3),
              TimedPhone("M", 0.3, 0.4), TimedPhone("HH", 0.4, 0.5)]
    vis = phones_to_visemes(phones)
    assert [v.viseme for v in vis] == ["sil", "oh", "oh", "PP", "kk"]
    assert all(isinstance(v, TimedViseme) for v in vis)
    assert [(v.start_s, v.end_s, v.phone) for v in vis] == [(p.start_s, p.end_s, p.phone)
                                                           for p in phones]


def test_normalise_transcript():
    assert normalise_transcript("Hello, World! It's 2 o'clock.") == [
        "hello", "world", "it's", "two", "o'clock"]
    assert normalise_transcript("The 3rd of 1,200 (12.5%) cafés") == [
        "the", "third", "of", "one", "thousand", "two", "hundred", "twelve", "point", "five",
        "percent", "cafes"]
    assert normalise_transcript("  ...  ") == []
    assert integer_words(90210) == ["ninety", "thousand", "two", "hundred", "ten"]
    assert integer_words(21) == ["twenty", "one"]


def test_clean_phone():
    assert clean_phone("ah0") == "AH" and clean_phone("SIL") == "SIL"
    assert clean_phone("+SPN+") == "SIL"


def test_fill_timeline_fills_pauses_and_keeps_unaligned_gaps():
    phones = [TimedPhone("AA", 0.5, 0.7), TimedPhone("B", 0.71, 0.8), TimedPhone("SIL", 0.8, 0.9),
              TimedPhone("M", 2.5, 2.6)]
    out = fill_timeline(phones, [(1.0, 2.0)], 3.0)
    assert out[0] == TimedPhone("SIL", 0.0, 0.5)
    assert out[1] == TimedPhone("AA", 0.5, 0.71)  # 10 ms gap closed by stretching
    assert TimedPhone("SIL", 0.8, 1.0) in out and TimedPhone("SIL", 2.0, 2.5) in out
    assert not any(p.start_s < 2.0 and p.end_s > 1.0 for p in out)  # unaligned span left empty
    assert out[-1] == TimedPhone("SIL", 2.6, 3.0)


def test_share_words_anchors_transcript_to_blocks():
    words = "one two three four five six seven eight".split()
    heard = [["one", "to", "three"], ["five", "sex", "seven"], ["eight"]]
    shares = share_words(words, heard, [3.0, 3.0, 1.0])
    assert [w for share in shares for w in share] == words
    assert shares[0][:3] == ["one", "two", "three"] and shares[1][-2:] == ["six", "seven"]
    assert shares[2] == ["eight"]
    assert share_words(["a", "b"], [[], []], [1.0, 1.0]) == [["a"], ["b"]]


def test_coverage():
    result = SpanResult(phones=(TimedPhone("SIL", 0.0, 0.5), TimedPhone("AA", 0.5, 1.0)))
    act = np.ones(100, np.float32)
    assert coverage(result, act, 0, 100) == pytest.approx(0.5)


# ----------------------------------------------------------------------------------------------
# speech: the example recording


@pytest.fixture(scope="module")
def speech() -> tuple[Audio, str]:
    if not SPEECH.exists() or not SPEECH_TEXT.exists():
        pytest.skip("examples/speech.ogg not present")
    audio = load_audio(SPEECH)
    padded = np.concatenate([audio.samples, np.zeros(int(1.5 * SAMPLE_RATE), np.float32)])
    return audio_from_array(padded, SAMPLE_RATE, source=str(SPEECH)), SPEECH_TEXT.read_text()


@pytest.fixture(scope="module")
def given_track(speech) -> AudioTrack:
    audio, text = speech
    return analyse_audio(audio, transcript=text)


@pytest.fixture(scope="module")
def recognised_track(speech) -> AudioTrack:
    return analyse_audio(speech[0])


def check_timeline(track: AudioTrack) -> None:
    """Phones sorted, contiguous from 0 to the end, positive durations, words inside."""
    phones = track.phones
    assert phones and phones[0].start_s == 0.0
    assert phones[-1].end_s == pytest.approx(track.duration_s, abs=1e-3)
    assert all(p.end_s > p.start_s for p in phones)
    assert all(a.end_s == b.start_s for a, b in itertools.pairwise(phones))
    assert all(p.phone == "SIL" or p.phone in ARPABET for p in phones)
    assert all(0 <= w.start_s < w.end_s <= track.duration_s for w in track.words)
    assert all(isinstance(w, TimedWord) for w in track.words)
    assert len(track.visemes) == len(phones)


def test_given_transcript_is_aligned(speech, given_track):
    check_timeline(given_track)
    assert given_track.transcript_source == "given"
    assert [w.word for w in given_track.words] == normalise_transcript(speech[1])
    starts = [w.start_s for w in given_track.words]
    assert starts == sorted(starts)


def test_recognised_words_follow_the_speech(speech, recognised_track):
    check_timeline(recognised_track)
    assert recognised_track.transcript_source == "recognized"
    ref = normalise_transcript(speech[1])
    hyp = [w.word for w in recognised_track.words]
    matcher = difflib.SequenceMatcher(a=ref, b=hyp, autojunk=False)
    assert sum(m.size for m in matcher.get_matching_blocks()) >= 0.8 * len(ref)  # Whisper: 0.91 here


def test_bilabials_are_pp_and_visemes_follow_phones(given_track):
    lips = [v for v in given_track.visemes if v.phone in ("P", "B", "M")]
    assert len(lips) >= 8 and all(v.viseme == "PP" for v in lips)  # made, from, my, bright, ...
    assert all(v.viseme in VISEMES for v in given_track.visemes)


def test_speech_activity_on_speech_and_appended_silence(speech, given_track):
    track = given_track
    act = track.speech_activity
    speech_end = int((speech[0].duration_s - 1.5) * 100)
    assert act[speech_end + 20:].max() == 0.0
    voiced = [p for p in track.phones if p.phone != "SIL" and p.end_s * 100 < speech_end]
    inside = [act[int(p.start_s * 100):int(p.end_s * 100) + 1].mean() for p in voiced]
    assert np.mean(inside) > 0.9
    assert track.phones[-1].phone == "SIL" and track.phones[-1].start_s < speech[0].duration_s - 1.4


def test_wrong_transcript_falls_back_to_recognition(speech):
    track = analyse_audio(speech[0], transcript="hello")
    assert track.transcript_source == "recognized"
    check_timeline(track)


def test_phonetic_false_skips_words(speech):
    track = analyse_audio(speech[0], phonetic=False, transcript=speech[1])
    assert track.transcript_source == "none" and track.phones == ()
    assert track.speech_activity.mean() > 0.5


# ----------------------------------------------------------------------------------------------
# the recogniser's words -> utterances, and the fallback when they will not align


def test_heard_words_go_to_the_utterance_holding_them():
    from talkingface.audio.whisper import words_by_utterance

    words = [TimedWord("one", 0.10, 0.30), TimedWord("two", 1.05, 1.20), TimedWord("three", 2.50, 2.70)]
    shares = words_by_utterance(words, [(0, 100), (150, 300)])  # feature frames: 0-1 s, 1.5-3 s
    assert [[w.word for w in share] for share in shares] == [["one", "two"], ["three"]]  # "two": nearest
    assert words_by_utterance(words, []) == []


def test_unalignable_words_get_dictionary_phones_over_their_span():
    from talkingface.audio.phones import spread_phones

    result = spread_phones([TimedWord("mop", 1.0, 1.3), TimedWord("qzxv", 1.4, 1.6)], 0.9, 2.0)
    assert [p.phone for p in result.phones] == ["M", "AA", "P"]
    assert result.phones[0].start_s == 1.0 and result.phones[-1].end_s == 1.3
    assert result.unaligned == ((1.4, 1.6),)  # not in the dictionary: no phones, acoustic lips there


def test_doubtful_segments_give_no_words():
    """Whisper's doubtful segments (Japanese heard as English scores -1.19) are dropped, so those lips
    come from the sound, not from a wrong English guess; numbers become dictionary words."""
    from types import SimpleNamespace as Item

    from talkingface.audio.whisper import confident_words, hear_words

    sure = Item(avg_logprob=-0.2, words=[Item(word=" Hello", start=0.5, end=0.8), Item(word=" 42,", start=0.9, end=1.4)])
    unsure = Item(avg_logprob=-1.19, words=[Item(word=" I", start=2.0, end=2.1)])
    words = confident_words([sure, unsure])
    assert [w.word for w in words] == ["hello", "forty", "two"]
    assert words[1].start_s == 0.9 and words[2].end_s == 1.4
    assert hear_words(np.zeros(SAMPLE_RATE, np.float32)) == []  # silence: nothing heard
