"""Words and phones with timings, from pocketsphinx (English acoustic model, CMU dictionary).

Two ways in:

- ``recognise_and_align``: recognise English words with the n-gram language model, then
  force-align the recognised words (a second, state-level pass) to get phone timings.
- ``align_transcript``: force-align a given transcript: a word-level pass over the whole speech,
  then a state-level pass for phone timings (in chunks when the speech is long).

Both work on one span of audio at a time and report times in seconds from the start of the whole
audio. A span that cannot be decoded (not English, singing, noise, alignment fails) yields no
phones: callers treat it as acoustic-only. Decoders are built per call, never at import time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pocketsphinx

from talkingface.audio.decode import SAMPLE_RATE

FRAME_RATE = 100  # pocketsphinx frames per second (frate)
SIL = "SIL"


@dataclass(frozen=True)
class TimedPhone:
    """An ARPAbet phone (uppercase, no stress digit, ``SIL`` for pauses) from ``start_s`` to
    ``end_s`` seconds."""

    phone: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class TimedWord:
    """A word (lowercase) from ``start_s`` to ``end_s`` seconds."""

    word: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class DecoderSettings:
    """pocketsphinx options (names as in ``pocketsphinx.Config``) for one kind of pass.

    The recognition defaults trade a little accuracy for speed (no flat-lexicon and lattice
    passes, a cap on active HMMs); the alignment defaults use the wide beams that long
    utterances need.
    """

    beam: float = 1e-48
    wbeam: float = 7e-29
    pbeam: float = 1e-48
    maxhmmpf: int = 30000
    maxwpf: int = -1
    topn: int = 4
    ds: int = 1
    fwdflat: bool = False
    bestpath: bool = False
    use_lm: bool = True
    extra: tuple[tuple[str, object], ...] = field(default=())

    def kwargs(self) -> dict[str, object]:
        """Keyword arguments for ``pocketsphinx.Decoder``."""
        opts = {k: v for k, v in asdict(self).items() if k not in ("use_lm", "extra")}
        opts.update(dict(self.extra))
        model = pocketsphinx.get_model_path()
        opts["hmm"] = os.path.join(model, "en-us", "en-us")
        opts["dict"] = os.path.join(model, "en-us", "cmudict-en-us.dict")
        opts["lm"] = os.path.join(model, "en-us", "en-us.lm.bin") if self.use_lm else None
        opts["loglevel"] = "FATAL"
        opts["logfn"] = os.devnull
        return opts


RECOGNITION = DecoderSettings(beam=1e-40, wbeam=1e-30, pbeam=1e-40, maxhmmpf=2000, maxwpf=10,
                              topn=2)
ALIGNMENT = DecoderSettings(beam=1e-80, wbeam=1e-60, pbeam=1e-80, use_lm=False)

MAX_ALIGN_CHUNK_S = 30.0
"""The state-level alignment pass keeps a table of (states x frames); longer speech is aligned
in chunks of at most this many seconds, cut at pauses found by the word-level pass."""


def make_decoder(settings: DecoderSettings) -> pocketsphinx.Decoder:
    """A new pocketsphinx decoder with ``settings`` (loads the model: ~0.1-0.3 s)."""
    return pocketsphinx.Decoder(**settings.kwargs())


def to_pcm16(samples: np.ndarray) -> bytes:
    """float32 [-1, 1] samples, shape (N,) -> little-endian int16 bytes for pocketsphinx."""
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


@dataclass(frozen=True)
class SpanResult:
    """Words and phones of a span of audio.

    ``unaligned`` lists (start_s, end_s) intervals that could not be decoded or aligned: they
    have no phones (acoustic-only). Elsewhere in the span, time without phones is silence.
    """

    words: tuple[TimedWord, ...] = ()
    phones: tuple[TimedPhone, ...] = ()
    unaligned: tuple[tuple[float, float], ...] = ()

    @staticmethod
    def failed(start_s: float, end_s: float) -> SpanResult:
        """A span with nothing aligned."""
        return SpanResult(unaligned=((round(start_s, 4), round(end_s, 4)),))


def recognise_and_align(decoder: pocketsphinx.Decoder, samples: np.ndarray,
                        offset_s: float) -> SpanResult:
    """Recognise the words in one utterance and align them to get phones.

    Parameters
    ----------
    decoder : pocketsphinx.Decoder
        Made with an n-gram language model (``RECOGNITION``); left on its n-gram search.
    samples : np.ndarray, shape (N,), float32 at 16 kHz
        One utterance, ideally under ~15 s, with a little silence around it.
    offset_s : float
        Start time of ``samples`` within the whole audio, added to every time.
    """
    pcm = to_pcm16(samples)
    failed = SpanResult.failed(offset_s, offset_s + samples.size / SAMPLE_RATE)
    try:
        _decode(decoder, pcm)
        if decoder.hyp() is None or not _real_words(seg.word for seg in decoder.seg()):
            return failed
        decoder.set_alignment()
        _decode(decoder, pcm)
        result = _read_alignment(decoder.get_alignment(), offset_s)
    except RuntimeError:
        return failed
    finally:
        decoder.activate_search()
    return result if result.phones else failed


def align_transcript(decoder: pocketsphinx.Decoder, samples: np.ndarray, words: Sequence[str],
                     offset_s: float) -> SpanResult | None:
    """Force-align ``words`` (all in the dictionary) to ``samples``.

    Parameters
    ----------
    decoder : pocketsphinx.Decoder
        Made with ``ALIGNMENT`` settings (no language model needed).
    samples : np.ndarray, shape (N,), float32 at 16 kHz
    words : sequence of str
        Dictionary words, in order.
    offset_s : float
        Start time of ``samples`` within the whole audio.

    Returns
    -------
    SpanResult, or None when the words cannot be aligned to this audio at all.
    """
    pcm = to_pcm16(samples)
    word_segments = _align_words(decoder, pcm, words)
    if word_segments is None:
        return None
    total = len(pcm) // 320
    chunks = _chunks(word_segments, total, int(MAX_ALIGN_CHUNK_S * FRAME_RATE))
    if len(chunks) == 1:
        return (_phone_pass(decoder, pcm, 0, offset_s)
                or _words_only(word_segments, 0, total, offset_s))
    results = []
    for start_fr, end_fr, chunk_words in chunks:
        if not chunk_words:
            continue  # a pause: silence
        part = pcm[start_fr * 320:end_fr * 320]
        result = None
        if _align_words(decoder, part, chunk_words) is not None:
            result = _phone_pass(decoder, part, start_fr, offset_s)
        results.append(result or _words_only(word_segments, start_fr, end_fr, offset_s))
    return SpanResult(tuple(w for r in results for w in r.words),
                      tuple(p for r in results for p in r.phones),
                      tuple(u for r in results for u in r.unaligned))


def dictionary_words(decoder: pocketsphinx.Decoder, words: Sequence[str]) -> list[str]:
    """Keep the words the decoder's dictionary knows; ``x's`` falls back to ``x`` + /Z/ (added to
    the decoder's dictionary); other unknown words are dropped."""
    known = []
    for word in words:
        if decoder.lookup_word(word) is not None:
            known.append(word)
        elif word.endswith("'s") and (base := decoder.lookup_word(word[:-2])) is not None:
            decoder.add_word(word, base + " Z", True)
            known.append(word)
    return known


# ----------------------------------------------------------------------------------------------


def _decode(decoder: pocketsphinx.Decoder, pcm: bytes) -> None:
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()


def _real_words(names) -> list[str]:
    """Dictionary words among segment names, without fillers (``<s>``, ``<sil>``, ``[NOISE]``)
    or alternate-pronunciation markers (``word(2)``)."""
    return [n.split("(")[0] for n in names if n and n[0] not in "<[+"]


def _align_words(decoder: pocketsphinx.Decoder, pcm: bytes,
                 words: Sequence[str]) -> list[tuple[str, int, int]] | None:
    """Word-level forced alignment: [(word or filler, start frame, end frame exclusive)]."""
    try:
        decoder.set_align_text(" ".join(words))
        _decode(decoder, pcm)
        if decoder.hyp() is None:
            return None
        return [(s.word, s.start_frame, s.end_frame + 1) for s in decoder.seg()]
    except RuntimeError:
        return None


def _phone_pass(decoder: pocketsphinx.Decoder, pcm: bytes, start_fr: int,
                offset_s: float) -> SpanResult | None:
    """State-level pass on the current word hypothesis; None if it fails."""
    try:
        decoder.set_alignment()
        _decode(decoder, pcm)
        result = _read_alignment(decoder.get_alignment(), offset_s + start_fr / FRAME_RATE)
    except RuntimeError:
        return None
    return result if result.phones else None


def _read_alignment(alignment, offset_s: float) -> SpanResult:
    """Words and phones (fillers -> SIL, adjacent SILs merged) of a pocketsphinx alignment."""
    words: list[TimedWord] = []
    phones: list[TimedPhone] = []
    if alignment is None:
        return SpanResult()
    for word in alignment:
        names = _real_words([word.name])
        if names:
            words.append(TimedWord(names[0], _t(word.start, offset_s),
                                   _t(word.start + word.duration, offset_s)))
        for phone in word:
            name = clean_phone(phone.name) if names else SIL
            start, end = _t(phone.start, offset_s), _t(phone.start + phone.duration, offset_s)
            if phones and phones[-1].phone == SIL == name:
                phones[-1] = TimedPhone(SIL, phones[-1].start_s, end)
            elif end > start:
                phones.append(TimedPhone(name, start, end))
    return SpanResult(tuple(words), tuple(phones))


def clean_phone(name: str) -> str:
    """ARPAbet phone, uppercase without stress digit; fillers (``+NSN+``, ``SIL``) -> ``SIL``."""
    name = name.strip().upper().rstrip("012")
    return name if name.isalpha() else SIL


def _t(frame: int, offset_s: float) -> float:
    return round(offset_s + frame / FRAME_RATE, 4)


def _words_only(segments: Sequence[tuple[str, int, int]], start_fr: int, end_fr: int,
                offset_s: float) -> SpanResult:
    """Words of a word-level alignment within frames [start_fr, end_fr), without phones."""
    words = [TimedWord(w, _t(s, offset_s), _t(e, offset_s))
             for (name, s, e) in segments if start_fr <= s < end_fr for w in _real_words([name])]
    return SpanResult(tuple(words), (), ((_t(start_fr, offset_s), _t(end_fr, offset_s)),))


def _chunks(segments: Sequence[tuple[str, int, int]], total_frames: int,
            max_frames: int) -> list[tuple[int, int, list[str]]]:
    """Cut a word alignment into contiguous (start frame, end frame, words) chunks covering
    ``[0, total_frames)``, each at most about ``max_frames`` long, cut in the middle of the
    longest pause (filler segment) available."""
    chunks: list[tuple[int, int, list[str]]] = []
    start, words = 0, []
    pause: tuple[int, int, int] | None = None  # (start, end, number of words before it)
    for name, s, e in segments:
        real = _real_words([name])
        if not real and words and (pause is None or e - s >= pause[1] - pause[0]):
            pause = (s, e, len(words))
        words.extend(real)
        if e - start > max_frames and pause is not None:
            cut = (pause[0] + pause[1]) // 2
            chunks.append((start, cut, words[:pause[2]]))
            start, words, pause = cut, words[pause[2]:], None
    chunks.append((start, max(total_frames, start + 1), words))
    return chunks
