"""Phones -> visemes, with the 15 Oculus / MPEG-4 style viseme classes.

======  =====================  ============================================
viseme  ARPAbet phones         mouth shape
======  =====================  ============================================
sil     SIL (and noises)       neutral, closed or relaxed
PP      P B M                  lips pressed together
FF      F V                    lower lip tucked under the upper teeth
TH      TH DH                  tongue tip between the teeth
DD      T D                    tongue on the ridge, jaw slightly open
kk      K G NG                 back of tongue raised, jaw slightly open
CH      CH JH SH ZH            lips forward and flared, teeth close
SS      S Z                    teeth close, lips spread
nn      N L                    tongue on the ridge, slightly open
RR      R ER                   lips slightly rounded
aa      AA AE AH AY AW         jaw open
E       EH EY                  mid-open, spread
ih      IH IY Y                nearly closed, spread
oh      AO OW OY               open and rounded
ou      UW UH W                small rounded opening
======  =====================  ============================================

``HH`` has no mouth shape of its own: it takes the viseme of the vowel that follows it (the
mouth already shapes that vowel), or ``kk`` when no vowel follows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

VISEMES: tuple[str, ...] = ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa",
                            "E", "ih", "oh", "ou")
"""The viseme inventory, in Oculus viseme order."""

_TABLE = {
    "sil": "SIL", "PP": "P B M", "FF": "F V", "TH": "TH DH", "DD": "T D", "kk": "K G NG",
    "CH": "CH JH SH ZH", "SS": "S Z", "nn": "N L", "RR": "R ER", "aa": "AA AE AH AY AW",
    "E": "EH EY", "ih": "IH IY Y", "oh": "AO OW OY", "ou": "UW UH W",
}
PHONE_TO_VISEME: dict[str, str] = {p: v for v, phones in _TABLE.items() for p in phones.split()}
"""ARPAbet phone (no stress digits) -> viseme; ``HH`` is resolved by context, see the module."""

VOWELS = frozenset("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())
"""ARPAbet vowels (ER included)."""


@dataclass(frozen=True)
class TimedViseme:
    """A viseme from ``start_s`` to ``end_s`` seconds, and the phone it was made from."""

    viseme: str
    start_s: float
    end_s: float
    phone: str


class _PhoneLike(Protocol):
    phone: str
    start_s: float
    end_s: float


def phone_viseme(phone: str, next_phone: str | None = None) -> str:
    """Viseme of one ARPAbet phone (stress digits and case ignored; unknown phones -> ``sil``).

    ``next_phone`` decides the viseme of ``HH``: the following vowel's, else ``kk``.
    """
    p = phone.rstrip("012").upper()
    if p == "HH":
        n = (next_phone or "").rstrip("012").upper()
        return PHONE_TO_VISEME[n] if n in VOWELS else "kk"
    return PHONE_TO_VISEME.get(p, "sil")


def phones_to_visemes(phones: Iterable[_PhoneLike]) -> tuple[TimedViseme, ...]:
    """One ``TimedViseme`` per phone, same timing (``TimedPhone`` or anything with
    ``phone``, ``start_s`` and ``end_s``)."""
    seq: Sequence[_PhoneLike] = list(phones)
    out = []
    for i, ph in enumerate(seq):
        touching = i + 1 < len(seq) and seq[i + 1].start_s <= ph.end_s + 1e-6
        nxt = seq[i + 1].phone if touching else None
        out.append(TimedViseme(phone_viseme(ph.phone, nxt), float(ph.start_s), float(ph.end_s),
                               ph.phone))
    return tuple(out)
