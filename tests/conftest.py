"""Shared fixtures: the bundled example portrait, analysed once per test session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="session")
def portrait_path() -> Path:
    return EXAMPLES / "astronaut.jpg"


@pytest.fixture(scope="session")
def speech_path() -> Path:
    return EXAMPLES / "speech.ogg"


@pytest.fixture(scope="session")
def transcript() -> str:
    return (EXAMPLES / "speech.txt").read_text()


@pytest.fixture(scope="session")
def portrait_rgb(portrait_path: Path) -> np.ndarray:
    from talkingface.media import load_image

    return load_image(portrait_path)


@pytest.fixture(scope="session")
def avatar(portrait_rgb: np.ndarray):
    from talkingface.face.avatar import analyse_portrait

    return analyse_portrait(portrait_rgb, source="astronaut.jpg")


# Property-based fuzzing (tests/test_fuzz.py): deterministic in `make test` (derandomized, no example
# database), so CI is stable; TALKINGFACE_FUZZ=deep explores with random seeds and 20x the examples.
def _hypothesis_profiles() -> None:
    import os
    from datetime import timedelta

    from hypothesis import HealthCheck, settings

    common = dict(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                  deadline=timedelta(seconds=5), print_blob=True)
    settings.register_profile("ci", derandomize=True, database=None, **common)
    settings.register_profile("deep", derandomize=False, **common)
    settings.load_profile(os.environ.get("TALKINGFACE_FUZZ", "ci"))


_hypothesis_profiles()
