"""Transcript normalisation for the aligner: lowercase words, numbers spelled out, no punctuation.

>>> normalise_transcript("Hello, World! It's 2 o'clock - 15.5% done.")
['hello', 'world', "it's", 'two', "o'clock", 'fifteen', 'point', 'five', 'percent', 'done']
"""

from __future__ import annotations

import re
import unicodedata

from talkingface.errors import OptionError

MAX_TRANSCRIPT_CHARS = 20_000
"""Longest transcript accepted, in characters: about 3000 words, 20 minutes of speech. Checked before
any work, so a huge text costs nothing."""
_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
            "nine": "ninth", "twelve": "twelfth"}
_SYMBOLS = {"%": " percent ", "&": " and ", "+": " plus ", "@": " at ", "=": " equals "}
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*(?:st|nd|rd|th)?|[a-z]+(?:'[a-z]+)*")


def check_transcript(text: object) -> str | None:
    """``text`` if it is None or a usable transcript; OptionError naming the problem otherwise."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise OptionError("transcript", type(text).__name__, "must be a str or None")
    if len(text) > MAX_TRANSCRIPT_CHARS:
        raise OptionError("transcript", f"<text of {len(text)} characters>",
                          f"must be at most {MAX_TRANSCRIPT_CHARS} characters")
    return text


def normalise_transcript(text: str) -> list[str]:
    """Split ``text`` into lowercase words the pronunciation dictionary can look up.

    Accents are stripped, digits become words ("42" -> "forty two", "3rd" -> "third",
    "1,000" -> "one thousand", "2.5" -> "two point five"), a few symbols are spoken ("%" ->
    "percent"), and all other punctuation is dropped. Apostrophes inside words are kept.
    """
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    for symbol, spoken in _SYMBOLS.items():
        text = text.replace(symbol, spoken)
    words: list[str] = []
    for token in _TOKEN.findall(text):
        words.extend(_number_words(token) if token[0].isdigit() else [token])
    return words


def _number_words(token: str) -> list[str]:
    """Digits (with optional thousands commas, decimal point or ordinal suffix) as words."""
    ordinal = token[-2:] in ("st", "nd", "rd", "th")
    if ordinal:
        token = token[:-2]
    if re.fullmatch(r"\d{1,3}(,\d{3})+", token):
        token = token.replace(",", "")
    whole, _, frac = token.replace(",", ".").partition(".")
    words = integer_words(int(whole)) if len(whole) <= 15 else [_ONES[int(d)] for d in whole]
    if ordinal:
        last = words[-1]
        words[-1] = _ORDINAL.get(last, last[:-1] + "ieth" if last.endswith("y") else last + "th")
    if frac:
        words += ["point", *(_ONES[int(d)] for d in frac if d.isdigit())]
    return words


def integer_words(n: int) -> list[str]:
    """English words for an integer in [0, 10**15): 1204 -> one thousand two hundred four."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    if n < 1000:
        return [_ONES[n // 100], "hundred"] + (integer_words(n % 100) if n % 100 else [])
    for value, name in _SCALES:
        if n >= value:
            rest = n % value
            return integer_words(n // value) + [name] + (integer_words(rest) if rest else [])
    raise AssertionError("unreachable")
