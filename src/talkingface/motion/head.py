"""How the head moves while someone talks: the constants of the performance's head process, fitted to
real talking videos (``python -m talkingface.train``) and committed as ``models/head_motion.json``.

The process (motion.performance) is, per axis (yaw, pitch, roll), a slow drift plus a faster wobble,
each smooth Gaussian noise of a given size (degrees, standard deviation) and feature width (sigma,
seconds); the wobble grows with speech energy and emphasis adds nods. The fit matches the drift and
the wobble to real speakers' spread, speed and autocorrelation (train.head), so the head moves as
much and as fast as a real speaker's, sampled from a seed rather than averaged.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from talkingface.errors import InputFileError
from talkingface.media.paths import atomic_output
from talkingface.media.structured import (
    Limits,
    checked_document,
    read_bounded,
    signed_document,
)

FORMAT = "talkingface.head-motion"
VERSION = 1
_LIMITS = Limits(max_bytes=64 * 1024, max_depth=6)
_RANGES = {"drift_deg": (0.0, 20.0), "drift_sigma_s": (0.05, 5.0), "wobble_deg": (0.0, 20.0),
           "wobble_sigma_s": (0.05, 5.0)}


@dataclass(frozen=True)
class HeadMotion:
    """Head process constants, each (yaw, pitch, roll): drift_deg and wobble_deg, standard deviations
    in degrees; drift_sigma_s and wobble_sigma_s, feature widths in seconds; source: what they were
    fitted on."""

    drift_deg: tuple[float, float, float]
    drift_sigma_s: tuple[float, float, float]
    wobble_deg: tuple[float, float, float]
    wobble_sigma_s: tuple[float, float, float]
    source: str = ""

    def __post_init__(self) -> None:
        for name, (low, high) in _RANGES.items():
            values = getattr(self, name)
            if len(values) != 3 or not all(low <= float(v) <= high for v in values):
                raise ValueError(f"{name} {values!r} must be 3 values in [{low}, {high}]")


RULES = HeadMotion(drift_deg=(2.6, 1.6, 1.8), drift_sigma_s=(0.75, 0.62, 0.88), wobble_deg=(1.0, 0.7, 0.8),
                   wobble_sigma_s=(0.22, 0.18, 0.28), source="hand-tuned (before learning from video)")
"""The hand-tuned constants the learned ones replaced (kept to measure against)."""


def save_head_motion(head: HeadMotion, path: str | os.PathLike[str]) -> Path:
    """Write head motion constants as versioned, checksummed JSON (atomically)."""
    document = signed_document(FORMAT, VERSION, _body(head))
    with atomic_output(path) as temporary:
        Path(temporary).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return Path(path)


def load_head_motion(path: str | os.PathLike[str] | None = None) -> HeadMotion:
    """The committed head motion constants (or those at ``path``), validated.

    Raises InputFileError naming the file when it is missing, malformed or of another version."""
    if path is None:
        return _packaged()
    data = read_bounded(path, limits=_LIMITS, kind="head motion constants") if Path(path).is_file() else None
    return _parse(data, os.fspath(path))


@lru_cache(maxsize=1)
def _packaged() -> HeadMotion:
    resource = resources.files("talkingface.motion.models") / "head_motion.json"
    return _parse(resource.read_bytes() if resource.is_file() else None, str(resource))


def _body(head: HeadMotion) -> dict:
    return {name: [round(float(v), 6) for v in getattr(head, name)] for name in _RANGES} | {"source": head.source}


def _parse(data: bytes | None, where: str) -> HeadMotion:
    if data is None:
        raise InputFileError(where, "head motion constants not found (run python -m talkingface.train)")
    try:
        document = checked_document(data, FORMAT, VERSION, (*_RANGES, "source"), source=where, limits=_LIMITS)
        head = HeadMotion(**{name: tuple(float(v) for v in document[name]) for name in _RANGES},
                          source=str(document["source"]))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise InputFileError(where, f"is not valid head motion constants ({error})") from error
    return head

