"""The learned audio -> lips models: a window of feature frames mapped to the lip parameters (linear
or a small tanh perceptron), run with numpy (about 0.1 ms a call).

Inputs per 10 ms frame, as the spec says: the engine's log-mel bands (``audio.acoustic``, through the
causal MelNormaliser: the live model); the leading principal components of Whisper's encoder states
(``audio.whisper.speech_encoding``, projected by the model's own ``Projection``: the offline model);
and the rule-based lip curves of the recognised or given words (visemes with coarticulation,
``motion.generate.rule_lips``), which the model learns to correct from real speakers. A window of
``past`` frames before and ``future`` frames after the predicted one (every ``stride``-th frame) is
standardised, flattened and mapped to the lip parameters; the outputs are de-standardised and scaled
around their mean by per-output gains that give the real speakers' spread (a regression alone
would mumble).

Weights are trained by ``python -m talkingface.train`` and committed as .npz files beside this
module (see docs/MODEL_CARD.md); ``load_model`` checks their format version and checksum.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from talkingface.audio.acoustic import MEL, MelNormaliser
from talkingface.audio.whisper import ENCODING_WIDTH, encoding_on_grid
from talkingface.errors import InputFileError

FORMAT = "talkingface.motion-model"
VERSION = 2  # 2: Whisper encoder inputs (spec "encoding", projection arrays)
MODELS_PACKAGE = "talkingface.motion.models"


@dataclass(frozen=True)
class ModelSpec:
    """What a model looks at and predicts.

    mel: log-mel bands used (the first `mel` of audio.acoustic's); rules: how many rule-based lip
    curves (motion.generate.rule_lips, from the words) come as inputs too; past / future: context in
    feature frames (10 ms) before and after the predicted frame; stride: every stride-th frame of that
    window is used; outputs: parameter names; encoding: how many principal components of Whisper's
    encoder states come as inputs (0: none, the model runs live). Per frame the inputs are
    [mel bands, encoding components, rule curves]."""

    mel: int
    rules: int
    past: int
    future: int
    stride: int
    outputs: tuple[str, ...]
    encoding: int = 0

    @property
    def inputs(self) -> int:
        """Input values per frame."""
        return self.mel + self.encoding + self.rules

    @property
    def rule_columns(self) -> slice:
        """Where the rule curves sit among a frame's inputs."""
        return slice(self.mel + self.encoding, self.inputs)

    @property
    def offsets(self) -> np.ndarray:
        """Frame offsets of the window relative to the predicted frame, (K,)."""
        return np.arange(-self.past, self.future + 1, self.stride)

    @property
    def lookahead_s(self) -> float:
        return self.future / 100.0


@dataclass(frozen=True)
class Projection:
    """Whisper encoder states -> their leading principal components: mean (ENCODING_WIDTH,) and
    basis (ENCODING_WIDTH, components); empty (components 0) for models without encoder inputs."""

    mean: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    basis: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))

    @property
    def components(self) -> int:
        return int(self.basis.shape[1]) if self.basis.ndim == 2 else 0

    def apply(self, states: np.ndarray) -> np.ndarray:
        """(T, components) float32 components of encoder states (T, ENCODING_WIDTH)."""
        return ((np.asarray(states, np.float32) - self.mean) @ self.basis).astype(np.float32)

    def on_grid(self, encoding: np.ndarray, frames: int) -> np.ndarray:
        """(frames, components) components of encoder states (E, ENCODING_WIDTH) at 50 Hz, on the
        100 Hz feature grid of `frames` frames (audio.whisper.encoding_on_grid): the same mapping
        in training and at run time."""
        return self.apply(encoding_on_grid(encoding, frames))


def normalised_mel(bands: np.ndarray) -> np.ndarray:
    """(T, bands) float32 log-mel bands through the causal MelNormaliser (the models' mel inputs)."""
    return MelNormaliser().step(bands).astype(np.float32)


def stacked_inputs(spec: ModelSpec, normalised: np.ndarray, rules: np.ndarray | None = None,
                   components: np.ndarray | None = None) -> np.ndarray:
    """Inputs (T, spec.inputs) from normalised log-mel (T, >= spec.mel), for a model with encoder
    inputs the projected encoder states (T, spec.encoding) on the same grid, and for a model with
    rule inputs the rule lip curves (T, spec.rules) (zeros when not given: no words)."""
    parts = [normalised[:, :spec.mel]]
    if spec.encoding:
        if components is None or components.shape != (len(normalised), spec.encoding):
            raise ValueError(f"the model needs {spec.encoding} encoder components per frame for "
                             f"{len(normalised)} frames")
        parts.append(np.asarray(components, np.float32))
    if spec.rules:
        parts.append(np.zeros((len(normalised), spec.rules), np.float32) if rules is None
                     else np.asarray(rules, np.float32)[:, :spec.rules])
    return np.concatenate(parts, axis=1)


def standard_windows(spec: ModelSpec, mean: np.ndarray, std: np.ndarray, frames: np.ndarray,
                     at: np.ndarray | None = None) -> np.ndarray:
    """Flattened windows (N, K * inputs) of a feature sequence (T, inputs) standardised by mean and
    std (inputs,), around frames `at` (default all), at spec.offsets; frames beyond either end
    repeat the end frame."""
    standard = ((frames - mean) / std).astype(np.float32)
    at = np.arange(len(frames)) if at is None else np.asarray(at)
    index = np.clip(at[:, None] + spec.offsets[None, :], 0, len(frames) - 1)
    return standard[index].reshape(len(at), -1)


MIN_STEADY_FRAMES = 25
"""Speech frames a clip needs before its outputs' spread is steadied (see MotionModel.predict)."""
STEADY_RANGE = (2 / 3, 1.5)
"""Bounds of the steadying factor: a clip's lips move at most 1.5 times more or less than the model says."""


@dataclass(frozen=True)
class MotionModel:
    """A trained model: spec, input standardisation (mean, std: (inputs,)), layers [(W (in, out),
    b (out,)), ...], output de-standardisation (mean, std: (outputs,)), amplitude gains (outputs,),
    for a model with encoder inputs the Projection of the encoder states, and speech_spread
    (outputs,): the typical standard deviation of the raw outputs over a training clip's speech (empty:
    no per-clip steadying; see ``predict``)."""

    spec: ModelSpec
    input_mean: np.ndarray
    input_std: np.ndarray
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    output_mean: np.ndarray
    output_std: np.ndarray
    gain: np.ndarray
    projection: Projection = field(default_factory=Projection)
    speech_spread: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    def inputs(self, features: np.ndarray, rules: np.ndarray | None = None,
               encoding: np.ndarray | None = None) -> np.ndarray:
        """The model's inputs (T, spec.inputs) from acoustic features (T, F) of audio.acoustic on the
        100 Hz grid, rule lip curves (T, spec.rules) on the same grid (None: no words) and Whisper
        encoder states (E, ENCODING_WIDTH) at 50 Hz (needed when spec.encoding)."""
        components = None
        if self.spec.encoding:
            if encoding is None:
                raise ValueError("this model needs the Whisper encoding of the speech")
            components = self.projection.on_grid(encoding, len(features))
        mel = normalised_mel(features[:, MEL]) if self.spec.mel else np.zeros((len(features), 0), np.float32)
        return stacked_inputs(self.spec, mel, rules, components)

    def windows(self, frames: np.ndarray, at: np.ndarray | None = None) -> np.ndarray:
        """Flattened standardised windows (N, K * inputs) around frames `at` (default all) of a feature
        sequence (T, inputs); see ``standard_windows``."""
        return standard_windows(self.spec, self.input_mean, self.input_std, frames, at)

    def forward(self, windows: np.ndarray) -> np.ndarray:
        """Raw network output (N, outputs), standardised units, for windows (N, K * inputs)."""
        hidden = windows
        for weight, bias in self.layers[:-1]:
            hidden = np.tanh(hidden @ weight + bias)
        weight, bias = self.layers[-1]
        return hidden @ weight + bias

    def predict_window(self, window: np.ndarray) -> np.ndarray:
        """Parameters (outputs,) for one window (K, inputs) of frames at spec.offsets (streaming)."""
        standard = ((window - self.input_mean) / self.input_std).astype(np.float32).reshape(1, -1)
        return self._parameters(self.forward(standard))[0]

    def predict(self, frames: np.ndarray, at: np.ndarray | None = None, speech: np.ndarray | None = None
                ) -> np.ndarray:
        """Parameters (N, outputs) for frames `at` (default all) of a feature sequence (T, inputs).

        speech: (N,) bool, which of those frames are speech, for a whole clip. Then each output's
        spread over the speech is steadied to the model's speech_spread (by a factor within
        STEADY_RANGE, given at least MIN_STEADY_FRAMES speech frames): the sound does not tell how
        wide a speaker opens (over the 50 dev-data clips the predicted and the real jaw spread
        correlate at r 0.09), but noise and recording shrink the predictions; so every clip moves
        with a typical speaker's spread."""
        raw = self.forward(self.windows(frames, at))
        if speech is not None and len(self.speech_spread) and int(np.sum(speech)) >= MIN_STEADY_FRAMES:
            spoken = raw[np.asarray(speech, bool)]
            centre = spoken.mean(axis=0)
            factor = np.clip(self.speech_spread / np.maximum(spoken.std(axis=0), 1e-6), *STEADY_RANGE)
            raw = centre + (raw - centre) * factor
        return self._parameters(raw)

    def _parameters(self, raw: np.ndarray) -> np.ndarray:
        """Network output (N, outputs) in standardised units -> parameters, spread by the gains."""
        return self.output_mean + self.output_std * self.gain * raw

    # ------------------------------------------------------------------------------------ files

    def to_bytes(self) -> bytes:
        """The .npz file content (spec as JSON, arrays, and a checksum of both)."""
        arrays = self._arrays()
        header = json.dumps({"format": FORMAT, "version": VERSION, "spec": _spec_dict(self.spec)}, sort_keys=True)
        digest = _checksum(header, arrays)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, header=np.array(header), sha256=np.array(digest), **arrays)
        return buffer.getvalue()

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = {"input_mean": self.input_mean, "input_std": self.input_std, "output_mean": self.output_mean,
                  "output_std": self.output_std, "gain": self.gain, "projection_mean": self.projection.mean,
                  "projection_basis": self.projection.basis, "speech_spread": self.speech_spread}
        for k, (weight, bias) in enumerate(self.layers):
            arrays[f"w{k}"], arrays[f"b{k}"] = weight, bias
        return {name: np.asarray(value, np.float32) for name, value in arrays.items()}


def _spec_dict(spec: ModelSpec) -> dict:
    return {"mel": spec.mel, "rules": spec.rules, "past": spec.past, "future": spec.future,
            "stride": spec.stride, "outputs": list(spec.outputs), "encoding": spec.encoding}


def _checksum(header: str, arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256(header.encode())
    for name in sorted(arrays):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(arrays[name], np.float32).tobytes())
    return digest.hexdigest()


def model_from_bytes(data: bytes, where: str) -> MotionModel:
    """Parse and check a model file's content; InputFileError names `where` and the problem."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            files = {name: npz[name] for name in npz.files}
        header = str(files.pop("header"))
        digest = str(files.pop("sha256"))
        meta = json.loads(header)
        if meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise ValueError(f"not a {FORMAT} file of version {VERSION}")
        if _checksum(header, files) != digest:
            raise ValueError("its checksum does not match its content (damaged or edited)")
        raw = meta["spec"]
        spec = ModelSpec(mel=int(raw["mel"]), rules=int(raw["rules"]), past=int(raw["past"]),
                         future=int(raw["future"]), stride=int(raw["stride"]), outputs=tuple(raw["outputs"]),
                         encoding=int(raw["encoding"]))
        count = sum(1 for name in files if name.startswith("w"))
        layers = tuple((files[f"w{k}"], files[f"b{k}"]) for k in range(count))
        model = MotionModel(spec, files["input_mean"], files["input_std"], layers, files["output_mean"],
                            files["output_std"], files["gain"],
                            Projection(files["projection_mean"], files["projection_basis"]), files["speech_spread"])
        _check_shapes(model)
    except (ValueError, KeyError, TypeError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise InputFileError(where, f"is not a valid motion model ({error})") from error
    return model


def _check_shapes(model: MotionModel) -> None:
    spec = model.spec
    width = len(spec.offsets) * spec.inputs
    for weight, bias in model.layers:
        if weight.ndim != 2 or weight.shape[0] != width or bias.shape != (weight.shape[1],):
            raise ValueError("layer shapes do not chain")
        width = weight.shape[1]
    outputs = len(spec.outputs)
    if width != outputs or any(a.shape != (outputs,) for a in (model.output_mean, model.output_std, model.gain)):
        raise ValueError("output shapes do not match the outputs")
    if model.speech_spread.shape not in ((0,), (outputs,)):
        raise ValueError("the speech spread does not match the outputs")
    if model.input_mean.shape != (spec.inputs,) or model.input_std.shape != (spec.inputs,):
        raise ValueError("input shapes do not match the inputs")
    projection = model.projection
    if spec.encoding and (projection.basis.shape != (ENCODING_WIDTH, spec.encoding)
                          or projection.mean.shape != (ENCODING_WIDTH,)):
        raise ValueError("projection shapes do not match the encoder inputs")
    if not all(np.isfinite(a).all() for layer in model.layers for a in layer):
        raise ValueError("weights are not finite")


def save_model(model: MotionModel, path: str | os.PathLike[str]) -> Path:
    """Write a model file atomically."""
    from talkingface.media import atomic_output

    with atomic_output(path) as temporary:
        Path(temporary).write_bytes(model.to_bytes())
    return Path(path)


def load_model(name_or_path: str | os.PathLike[str]) -> MotionModel:
    """A committed model by name (``"lips_acoustic"``, ``"lips_offline"``) or a model file by path."""
    if isinstance(name_or_path, str) and os.sep not in name_or_path and not name_or_path.endswith(".npz"):
        return _packaged(name_or_path)
    path = Path(name_or_path)
    if not path.is_file():
        raise InputFileError(path, "motion model file not found")
    return model_from_bytes(path.read_bytes(), os.fspath(path))


@lru_cache(maxsize=8)
def _packaged(name: str) -> MotionModel:
    resource = resources.files(MODELS_PACKAGE) / f"{name}.npz"
    if not resource.is_file():
        raise InputFileError(str(resource), "motion model not found (train it with python -m talkingface.train)")
    return model_from_bytes(resource.read_bytes(), str(resource))
