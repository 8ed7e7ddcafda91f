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
