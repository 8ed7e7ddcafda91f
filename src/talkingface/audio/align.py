"""Words and phones for a whole audio: which spans to decode, and how.

- No transcript: Whisper (``audio.whisper``) hears the words of the whole audio; the speech is cut
  at pauses into utterances of at most ~12 s, each gets the words heard in it, force-aligned for
  phone timings (or, if they will not align, the words' dictionary phones spread over Whisper's
  word times).
- A transcript, audio up to ``MAX_DIRECT_S``: the whole transcript is force-aligned at once.
- A transcript, longer audio: the speech is cut into blocks of at most ~30 s, the words Whisper
  hears in each block anchor the transcript words to blocks (text alignment), and
  each block is force-aligned with its share of the transcript.

A transcript whose alignment leaves most of the detected speech without phones is taken to be
wrong for this audio: the words are recognised instead (per block for long audio).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np
import pocketsphinx

from talkingface.audio import features as F
from talkingface.audio import phones as P
from talkingface.audio.decode import SAMPLE_RATE
from talkingface.audio.phones import SIL, SpanResult, TimedWord
from talkingface.audio.text import normalise_transcript
from talkingface.audio.whisper import hear_words, words_by_utterance

MAX_DIRECT_S = 60.0
"""Longest audio whose transcript is aligned in one piece."""
BLOCK_TARGET_S, BLOCK_MAX_S = 20.0, 30.0
"""Sizes of the blocks that long audio with a transcript is cut into."""
MIN_COVERAGE = 0.3
"""A transcript alignment must put phones on at least this fraction of the detected speech."""


def transcribe(samples: np.ndarray, activity: np.ndarray, loudness: np.ndarray,
               transcript: str | None) -> tuple[list[SpanResult], str]:
    """Words and phones of ``samples`` and where they came from.

    Parameters
    ----------
    samples : np.ndarray, shape (N,), float32 at 16 kHz
    activity : np.ndarray, shape (T,), speech activity per 10 ms frame
    loudness : np.ndarray, shape (T,), dBFS per 10 ms frame
    transcript : str or None

    Returns
    -------
    (spans, source) : list of SpanResult, and "given" or "recognized".
    """
    aligner = P.make_aligner(P.ALIGNMENT)
    words = P.add_words(aligner, normalise_transcript(transcript)) if transcript else []
    if words:
        spans = _given(samples, activity, loudness, words, aligner)
        if spans is not None:
            return spans, "given"
    utterances = F.split_utterances(activity, loudness)
    heard = words_by_utterance(hear_words(samples), utterances)
    return [_align_heard(aligner, samples, lo, hi, words) for (lo, hi), words in zip(utterances, heard)], "recognized"


def _given(samples: np.ndarray, activity: np.ndarray, loudness: np.ndarray, words: list[str],
           aligner: pocketsphinx.Decoder) -> list[SpanResult] | None:
    """Spans aligned to the transcript, or None when it does not fit the audio."""
    if samples.size <= MAX_DIRECT_S * SAMPLE_RATE:
        result = P.align(aligner, samples, words, 0.0)
        if result is None or coverage(result, activity, 0, activity.size) < MIN_COVERAGE:
            return None
        return [result]
    blocks = F.split_utterances(activity, loudness, target_s=BLOCK_TARGET_S, max_s=BLOCK_MAX_S,
                                join_gap_s=BLOCK_MAX_S, pad_s=0.3)
    heard = words_by_utterance(hear_words(samples), blocks)
    shares = share_words(words, [[w.word for w in block] for block in heard], [hi - lo for lo, hi in blocks])
    spans = []
    for (lo, hi), share, heard_here in zip(blocks, shares, heard, strict=True):
        result = P.align(aligner, _cut(samples, lo, hi), share, lo / F.FEATURE_RATE)
        if result is None or coverage(result, activity, lo, hi) < MIN_COVERAGE:
            result = _align_heard(aligner, samples, lo, hi, heard_here)
        spans.append(result)
    return spans


def _align_heard(aligner: pocketsphinx.Decoder, samples: np.ndarray, lo: int, hi: int,
                 words: Sequence[TimedWord]) -> SpanResult:
    """Frames [lo, hi) of ``samples`` aligned to the words heard in them; where they will not align,
    their dictionary phones spread over the words' own times."""
    offset = lo / F.FEATURE_RATE
    part = _cut(samples, lo, hi)
    known = P.add_words(aligner, [w.word for w in words])
    result = P.align(aligner, part, known, offset) if known else None
    if words and (result is None or not result.phones or result.unaligned):
        return P.spread_phones(words, offset, offset + part.size / SAMPLE_RATE)
    return result or SpanResult.failed(offset, offset + part.size / SAMPLE_RATE)


def _cut(samples: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return samples[lo * F.HOP:min(hi * F.HOP, samples.size)]


def coverage(result: SpanResult, activity: np.ndarray, lo: int, hi: int) -> float:
    """Fraction of the speech frames in [lo, hi) that lie inside a non-SIL phone of ``result``."""
    speech = activity[lo:hi] > 0.5
    if not speech.any():
        return 1.0
    covered = np.zeros(hi - lo, bool)
    for p in result.phones:
        if p.phone != SIL:
            covered[max(0, round(p.start_s * F.FEATURE_RATE) - lo):
                    max(0, round(p.end_s * F.FEATURE_RATE) - lo)] = True
    return float(np.mean(covered[speech]))


def share_words(words: Sequence[str], recognised: Sequence[Sequence[str]],
                weights: Sequence[float]) -> list[list[str]]:
    """Split transcript ``words`` into consecutive shares, one per block.

    Words that match the words recognised in a block (a longest-common-subsequence text
    alignment) go to that block; the words between two anchors are spread over the blocks
    from the left anchor's to the right anchor's in proportion to ``weights`` (block lengths).
    """
    n_blocks = len(recognised)
    heard = [(w, b) for b, block in enumerate(recognised) for w in block]
    owner: list[int | None] = [None] * len(words)
    matcher = difflib.SequenceMatcher(a=list(words), b=[w for w, _ in heard], autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            owner[a + k] = heard[b + k][1]
    i = 0
    while i < len(words):
        if owner[i] is not None:
            i += 1
            continue
        j = i
        while j < len(words) and owner[j] is None:
            j += 1
        left = owner[i - 1] if i else 0
        right = owner[j] if j < len(words) else n_blocks - 1
        _spread(owner, i, j, left, right, weights)
        i = j
    shares: list[list[str]] = [[] for _ in range(n_blocks)]
    for word, block in zip(words, owner, strict=True):
        shares[block].append(word)  # type: ignore[index]
    return shares


def _spread(owner: list[int | None], i: int, j: int, left: int, right: int,
            weights: Sequence[float]) -> None:
    """Give words [i, j) to blocks left..right in proportion to the blocks' weights."""
    w = np.asarray(weights[left:right + 1], float)
    edges = np.cumsum(w) / max(w.sum(), 1e-9)
    for k in range(i, j):
        position = (k - i + 0.5) / (j - i)
        owner[k] = left + min(int(np.searchsorted(edges, position)), right - left)
