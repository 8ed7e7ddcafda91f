"""pocketsphinx wrappers: force-align words to get timed phones (the words come from a transcript
or from ``audio.whisper``).

- ``make_aligner`` / ``add_words`` / ``align``: forced alignment of known words to one span of
  at most ~30 s: a word-level pass (wide beams), then a state-level pass for phone timings.

Times are seconds from the start of the whole audio (callers pass each span's offset). Nothing
here raises on undecodable audio: ``align`` returns None.
Decoders are built per call, never at import time; they are not thread-safe.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from types import MappingProxyType

import numpy as np
import pocketsphinx

FRAME_RATE = 100  # pocketsphinx frames per second (frate)
SIL = "SIL"
PHONE_SET = (SIL,) + tuple(sorted("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S "
                                  "SH T TH UH UW V W Y Z ZH".split()))
"""SIL and the 39 ARPAbet phones (no stress): the phone inventory of the learned lips' inputs."""
PHONE_INDEX = {phone: index for index, phone in enumerate(PHONE_SET)}


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

    An aligner starts with an empty dictionary and gets the words it needs added.
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
    extra: tuple[tuple[str, object], ...] = field(default=())

    def kwargs(self) -> dict[str, object]:
        """Keyword arguments for ``pocketsphinx.Decoder`` (without ``dict`` and ``lm``)."""
        opts = {k: v for k, v in asdict(self).items() if k != "extra"}
        opts["hmm"] = os.path.join(_model_dir(), "en-us")
        opts["loglevel"] = "FATAL"
        opts["logfn"] = os.devnull
        opts.update(dict(self.extra))
        return opts


ALIGNMENT = DecoderSettings(beam=1e-80, wbeam=1e-60, pbeam=1e-80, topn=2, ds=2)

FRAME_CENTRE_S = 0.008
"""Added to pocketsphinx boundaries: frame ``i`` analyses a 25.6 ms window starting at
``i / 100`` s, so a boundary between frames ``i - 1`` and ``i`` lies at about ``i / 100 + 8 ms``."""


def _model_dir() -> str:
    return os.path.join(pocketsphinx.get_model_path(), "en-us")


@lru_cache(maxsize=1)
def pronunciations() -> Mapping[str, tuple[str, ...]]:
    """The CMU dictionary shipped with pocketsphinx: word -> pronunciations (ARPAbet strings).

    Read once per process (~0.1 s) and shared read-only.
    """
    prons: dict[str, list[str]] = {}
    with open(os.path.join(_model_dir(), "cmudict-en-us.dict"), encoding="utf-8") as f:
        for line in f:
            word, _, phones = line.strip().partition(" ")
            if phones:
                prons.setdefault(word.split("(")[0], []).append(phones.strip())
    return MappingProxyType({w: tuple(p) for w, p in prons.items()})


def make_aligner(settings: DecoderSettings = ALIGNMENT) -> pocketsphinx.Decoder:
    """A decoder for forced alignment, with an empty dictionary (see ``add_words``)."""
    return pocketsphinx.Decoder(**settings.kwargs(), lm=None, dict=os.devnull)


def add_words(decoder: pocketsphinx.Decoder, words: Sequence[str]) -> list[str]:
    """Add the pronunciations of ``words`` to ``decoder``; return the words it can align.

    Unknown words are dropped, except ``x's`` when ``x`` is known (pronounced ``x`` + /Z/).
    """
    prons = pronunciations()
    known, new, queued = [], [], set()
    for word in words:
        if word not in queued and decoder.lookup_word(word) is None:
            options = prons.get(word)
            if options is None and word.endswith("'s") and word[:-2] in prons:
                options = tuple(p + " Z" for p in prons[word[:-2]])
            if options is None:
                continue
            new.extend((f"{word}({i + 1})" if i else word, p) for i, p in enumerate(options))
            queued.add(word)
        known.append(word)
    for i, (word, phones) in enumerate(new):
        decoder.add_word(word, phones, i == len(new) - 1)
    return known


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


def align(aligner: pocketsphinx.Decoder, samples: np.ndarray, words: Sequence[str],
          offset_s: float) -> SpanResult | None:
    """Force-align ``words`` to ``samples``: a word-level pass, then a state-level pass.

    Parameters
    ----------
    aligner : pocketsphinx.Decoder
        From ``make_aligner``, with ``words`` already added (``add_words``).
    samples : np.ndarray, shape (N,), float32 at 16 kHz
        At most ~30 s: the state-level pass keeps a (states x frames) table, and the word-level
        pass slows down with (words x frames).
    words : sequence of str
        The words, in order.
    offset_s : float
        Start time of ``samples`` within the whole audio, added to every time.

    Returns
    -------
    SpanResult, or None when the words cannot be aligned to this audio at all. If only the
    phone-level pass fails, the words come with no phones and the span is ``unaligned``.
    """
    if not words:
        return None
    pcm = to_pcm16(samples)
    segments = _align_words(aligner, pcm, words)
    if segments is None:
        return None
    return _phone_pass(aligner, pcm, offset_s) or _words_only(segments, len(pcm) // 320, offset_s)


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


def _phone_pass(decoder: pocketsphinx.Decoder, pcm: bytes, offset_s: float) -> SpanResult | None:
    """State-level pass on the current word hypothesis; None if it fails."""
    try:
        decoder.set_alignment()
        _decode(decoder, pcm)
        result = _read_alignment(decoder.get_alignment(), offset_s)
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


def spread_phones(words: Sequence[TimedWord], offset_s: float, end_s: float) -> SpanResult:
    """The dictionary phones of timed words spread evenly over each word's span: the fallback when a
    span's words are known (with rough times) but cannot be force-aligned. Words the dictionary does not
    know leave their span unaligned; time between words is silence. offset_s / end_s: the span."""
    prons = pronunciations()
    phones: list[TimedPhone] = []
    unaligned = []
    for word in words:
        start, end = max(word.start_s, offset_s), min(word.end_s, end_s)
        if end <= start:
            continue
        if word.word not in prons:
            unaligned.append((round(start, 4), round(end, 4)))
            continue
        names = [clean_phone(n) for n in prons[word.word][0].split()]
        edges = np.linspace(start, end, len(names) + 1)
        phones += [TimedPhone(n, round(a, 4), round(b, 4)) for n, a, b in zip(names, edges[:-1], edges[1:])]
    return SpanResult(tuple(words), tuple(phones), tuple(unaligned))


def phone_indices(phones, frames: int, rate: float = 100.0) -> np.ndarray:
    """Timed phones (objects with .phone, .start_s, .end_s) -> (frames,) int16 index into PHONE_SET per
    frame of a `rate` grid, -1 where no phone is known (unrecognised or unaligned speech)."""
    track = np.full(frames, -1, np.int16)
    for phone in phones:
        start, end = int(round(phone.start_s * rate)), int(round(phone.end_s * rate))
        track[max(start, 0):min(end, frames)] = PHONE_INDEX.get(clean_phone(phone.phone), PHONE_INDEX[SIL])
    return track


def clean_phone(name: str) -> str:
    """ARPAbet phone, uppercase without stress digit; fillers (``+NSN+``, ``SIL``) -> ``SIL``."""
    name = name.strip().upper().rstrip("012")
    return name if name.isalpha() else SIL


def _t(frame: int, offset_s: float) -> float:
    return round(offset_s + frame / FRAME_RATE + (FRAME_CENTRE_S if frame else 0.0), 4)


def _words_only(segments: Sequence[tuple[str, int, int]], n_frames: int,
                offset_s: float) -> SpanResult:
    """Words of a word-level alignment, without phones: the span is unaligned."""
    words = [TimedWord(w, _t(s, offset_s), _t(e, offset_s))
             for (name, s, e) in segments for w in _real_words([name])]
    return SpanResult(tuple(words), (), ((round(offset_s, 4), _t(n_frames, offset_s)),))
