"""Fit a motion model (motion.model.MotionModel) to clips.

The shipped models are linear (``train_linear``: ridge regression in closed form over standardised
windows of inputs, targets standardised per clip, gains and correlations from speaker-disjoint
folds); ``train_model`` fits a small tanh network with numpy minibatch Adam and early stopping
instead (it generalised worse on this little data). A model with rule inputs learns from every clip
twice, with its words and as if none were heard, so it works without words. Optional augmentation in
the log-mel domain (random gain; noise of random colour and level added as power) is off by default:
it did not help on held-out speakers. Regression shrinks the outputs towards their mean (the
mumbling of averaged lips): per-output gains, measured on the validation speakers, restore the real
spread.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from threadpoolctl import threadpool_limits

from talkingface.audio.acoustic import MEL
from talkingface.motion.model import (ModelSpec, MotionModel, Projection, normalised_mel, stacked_inputs,
                                     standard_windows)
from talkingface.motion.params import PARAMETER_INDEX
from talkingface.train.dataset import Clip


@dataclass(frozen=True)
class TrainOptions:
    """hidden: units per hidden layer; epochs (max) and patience (early stopping, epochs); batch;
    learning_rate; weight_decay (L2 on weights); input_dropout; phone_dropout: share of training
    stretches with the phones blanked; noise_probability: share of stretches with added noise;
    frame_step: use every n-th frame of the clips; seed."""

    hidden: tuple[int, ...] = (128, 64)
    epochs: int = 40
    patience: int = 6
    batch: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    input_dropout: float = 0.1
    phone_dropout: float = 0.1
    noise_probability: float = 0.5
    frame_step: int = 2
    seed: int = 0


def symmetric_targets(motion: np.ndarray, outputs: tuple[str, ...]) -> np.ndarray:
    """(T, len(outputs)) targets, each Left/Right pair averaged (speech moves both sides alike; what is
    left of asymmetry is the speaker's, not the sound's)."""
    columns = []
    for name in outputs:
        mirror = name.replace("Left", "Right") if name.endswith("Left") else name.replace("Right", "Left")
        pair = {name, mirror} if mirror in PARAMETER_INDEX else {name}
        columns.append(np.mean([motion[:, PARAMETER_INDEX[n]] for n in sorted(pair)], axis=0))
    return np.stack(columns, axis=1)


def clip_targets(clip: Clip, outputs: tuple[str, ...]) -> np.ndarray:
    """(T, len(outputs)) symmetric targets standardised per clip (over its valid frames): speakers
    differ in how wide they open and where their rest sits, and the sound cannot tell; standardising
    each clip lets the model learn the timing and relative size that the sound does tell. A clip
    where an output hardly moves is scaled by a floor, not blown up."""
    y, rest, spread = _own_scale(clip, outputs)
    return ((y - rest) / spread).astype(np.float32)


_SPREAD_FLOOR = 0.02  # parameter units: below this an output is at rest in the clip


def _own_scale(clip: Clip, outputs: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A clip's symmetric targets (T, outputs) and their rest (mean) and spread (std, at least
    _SPREAD_FLOOR) (outputs,) over its valid frames (all frames when none is valid)."""
    y = symmetric_targets(clip.motion, outputs)
    seen = y[clip.valid] if clip.valid.any() else y
    return y, seen.mean(axis=0), np.maximum(seen.std(axis=0), _SPREAD_FLOOR)


def target_scale(clips: list[Clip], outputs: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) (outputs,) of a typical speaker: the medians over clips (with valid frames) of each
    clip's own rest and spread, to turn standardised predictions back into parameters."""
    scales = [_own_scale(clip, outputs)[1:] for clip in clips if clip.valid.any()]
    if not scales:
        return np.zeros(len(outputs), np.float32), np.ones(len(outputs), np.float32)
    means, spreads = zip(*scales)
    return np.median(means, axis=0).astype(np.float32), np.median(spreads, axis=0).astype(np.float32)


def clip_inputs(clip: Clip, spec: ModelSpec, mel: np.ndarray | None = None, *, words: bool = True) -> np.ndarray:
    """(T, spec.inputs) model inputs of a clip (of its log-mel bands `mel` (T, bands) when given; else
    its own, normalised once per clip however many folds and models ask); its encoder components
    (see dataset.projected) and its rule curves, as if no word was heard when not `words`."""
    normalised = clip.normalised_mel if mel is None else normalised_mel(mel)
    rules = (clip.rule_curves if words else clip.wordless_rule_curves) if spec.rules else None
    return stacked_inputs(spec, normalised, rules, clip.components)


def fit_projection(clips: list[Clip], components: int) -> Projection:
    """The leading `components` principal components of the clips' Whisper encoder states (every
    second state of every clip): a Projection (empty when components is 0)."""
    if not components:
        return Projection()
    missing = [clip.name for clip in clips if clip.encoding is None]
    if missing or not clips:
        raise ValueError(f"no Whisper encoding for {', '.join(missing) or 'any clip'}")
    states = np.concatenate([clip.encoding[::2].astype(np.float32) for clip in clips])
    mean = states.mean(axis=0)
    with threadpool_limits(2):
        _, _, axes = np.linalg.svd(states - mean, full_matrices=False)
    return Projection(mean.astype(np.float32), axes[:components].T.astype(np.float32))


# ------------------------------------------------------------------------------------ augmentation

_NOISE_SLOPES_DB = (0.0, -3.0, -6.0)  # white, pink, brown: dB per octave over the mel bands


def augmented_inputs(clip: Clip, spec: ModelSpec, rng: np.random.Generator, options: TrainOptions,
                     segment: int = 300) -> np.ndarray:
    """Model inputs (T, spec.inputs) of a randomly changed copy of a clip, per stretch of `segment`
    frames: gain, additive noise (as power in each mel band, before the normaliser), blanked rule curves."""
    mel = clip.features[:, MEL].astype(np.float64).copy()
    octave = np.log2(np.linspace(1.0, 2 ** 6.9, mel.shape[1]))  # about the mel bands' octaves from 60 Hz
    speech_level = float(np.percentile(mel, 90)) if len(mel) else 0.0
    blank = np.zeros(len(mel), bool)
    for start in range(0, len(mel), segment):
        part = slice(start, start + segment)
        mel[part] += rng.uniform(-12.0, 12.0)
        if rng.random() < options.noise_probability:
            level = speech_level - rng.uniform(0.0, 30.0) + rng.choice(_NOISE_SLOPES_DB) * octave
            noise = level + rng.normal(0.0, 1.5, mel[part].shape)  # 0-30 dB below the speech peaks
            mel[part] = 10.0 * np.log10(10 ** (mel[part] / 10.0) + 10 ** (noise / 10.0))
        blank[part] = rng.random() < options.phone_dropout
    inputs = clip_inputs(clip, spec, mel)
    if spec.rules:
        inputs[blank, spec.rule_columns] = clip.wordless_rule_curves[blank, :spec.rules]
    return inputs


# ------------------------------------------------------------------------------------ the network


class _Network:
    """Weights of the tanh MLP with Adam state."""

    def __init__(self, sizes: list[int], rng: np.random.Generator) -> None:
        self.params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            self.params += [rng.normal(0, 1 / np.sqrt(fan_in), (fan_in, fan_out)).astype(np.float32),
                            np.zeros(fan_out, np.float32)]
        self._m = [np.zeros_like(p) for p in self.params]
        self._v = [np.zeros_like(p) for p in self.params]
        self._t = 0

    def layers(self) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        return tuple((self.params[i].copy(), self.params[i + 1].copy()) for i in range(0, len(self.params), 2))

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        activations = [x]
        for i in range(0, len(self.params) - 2, 2):
            activations.append(np.tanh(activations[-1] @ self.params[i] + self.params[i + 1]))
        return activations[-1] @ self.params[-2] + self.params[-1], activations

    def step(self, x: np.ndarray, y: np.ndarray, weight: np.ndarray, rate: float, decay: float) -> float:
        """One Adam step on the weighted mean squared error; returns the loss."""
        prediction, activations = self.forward(x)
        error = (prediction - y) * weight
        loss = float(np.mean(error * (prediction - y)))
        delta = 2.0 * error / len(x)
        grads = [None] * len(self.params)
        for i in range(len(self.params) - 2, -1, -2):
            grads[i] = activations[i // 2].T @ delta + decay * self.params[i]
            grads[i + 1] = delta.sum(axis=0)
            if i:
                delta = (delta @ self.params[i].T) * (1.0 - activations[i // 2] ** 2)
        self._t += 1
        for p, g, m, v in zip(self.params, grads, self._m, self._v):
            m += 0.1 * (g - m)
            v += 0.001 * (g * g - v)
            p -= rate * (m / (1 - 0.9 ** self._t)) / (np.sqrt(v / (1 - 0.999 ** self._t)) + 1e-8)
        return loss


@dataclass(frozen=True)
class TrainReport:
    """epochs run, best validation loss (standardised MSE), per-output validation correlation and the
    amplitude gains applied."""

    epochs: int
    validation_loss: float
    correlation: dict[str, float]
    gain: dict[str, float]


def _samples(clips: list[Clip], step: int) -> tuple[np.ndarray, np.ndarray]:
    """(clip index, frame) pairs of every used frame: valid, every step-th."""
    pairs = [(k, t) for k, clip in enumerate(clips) for t in np.flatnonzero(clip.valid)[::step]]
    array = np.array(pairs, np.int64).reshape(-1, 2)
    return array[:, 0], array[:, 1]


def _windows(spec: ModelSpec, mean: np.ndarray, std: np.ndarray, inputs: list[np.ndarray],
             clip_index: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Standardised windows (N, K * inputs) of the (clip, frame) pairs."""
    out = np.empty((len(frames), len(spec.offsets) * spec.inputs), np.float32)
    for k in np.unique(clip_index):
        rows = np.flatnonzero(clip_index == k)
        out[rows] = standard_windows(spec, mean, std, inputs[k], frames[rows])
    return out


def train_model(spec: ModelSpec, train: list[Clip], validation: list[Clip],
                options: TrainOptions = TrainOptions(), *, projection: Projection | None = None,
                log=None) -> tuple[MotionModel, TrainReport]:
    """Train a model of `spec` on clips, stopping early on the validation clips' loss (the clips'
    encoder components must come from `projection`, which the model keeps)."""
    say = log or (lambda _: None)
    rng = np.random.default_rng(options.seed)
    val_inputs = [clip_inputs(c, spec) for c in validation]
    train_targets = [clip_targets(c, spec.outputs) for c in train]
    val_targets = [clip_targets(c, spec.outputs) for c in validation]
    mean, std = input_statistics(train, spec)
    y_mean, y_std = target_scale(train, spec.outputs)
    weight = np.ones(len(spec.outputs), np.float32)
    weight[[i for i, n in enumerate(spec.outputs) if n == "jawOpen"]] = 3.0
    sizes = [len(spec.offsets) * spec.inputs, *options.hidden, len(spec.outputs)]
    network = _Network(sizes, rng)

    def model_now(gain: np.ndarray | None = None) -> MotionModel:
        return MotionModel(spec, mean.astype(np.float32), std.astype(np.float32), network.layers(),
                           y_mean.astype(np.float32), y_std.astype(np.float32),
                           np.ones(len(spec.outputs), np.float32) if gain is None else gain,
                           projection or Projection())

    train_clip, train_frame = _samples(train, options.frame_step)
    val_clip, val_frame = _samples(validation, options.frame_step)
    val_y = (np.concatenate([val_targets[k][[t]] for k, t in zip(val_clip, val_frame)])
             if len(val_clip) else np.zeros((0, len(spec.outputs))))
    best, best_loss, waited, epochs = None, np.inf, 0, 0
    with threadpool_limits(2):
        for epoch in range(options.epochs):
            epochs = epoch + 1
            augmented = [augmented_inputs(c, spec, rng, options) for c in train]
            order = rng.permutation(len(train_frame))
            losses = []
            for start in range(0, len(order), options.batch):
                rows = order[start:start + options.batch]
                x = _windows(spec, mean, std, augmented, train_clip[rows], train_frame[rows])
                x *= rng.random(x.shape) >= options.input_dropout
                x /= 1.0 - options.input_dropout
                y = np.stack([train_targets[k][t] for k, t in zip(train_clip[rows], train_frame[rows])])
                losses.append(network.step(x, y, weight, options.learning_rate, options.weight_decay))
            val_x = _windows(spec, mean, std, val_inputs, val_clip, val_frame)
            val_loss = float(np.mean(weight * (network.forward(val_x)[0] - val_y) ** 2)) if len(val_x) else 0.0
            say(f"epoch {epochs}: train {np.mean(losses):.4f} validation {val_loss:.4f}")
            if val_loss < best_loss - 1e-4:
                best, best_loss, waited = [p.copy() for p in network.params], val_loss, 0
            else:
                waited += 1
                if waited >= options.patience:
                    break
    if best is not None:
        network.params = best
    val_x = _windows(spec, mean, std, val_inputs, val_clip, val_frame)
    predicted = network.forward(val_x)[0] if len(val_x) else np.zeros((0, len(spec.outputs)))
    gain, correlation = amplitude_gains(predicted, val_y)
    report = TrainReport(epochs, best_loss, dict(zip(spec.outputs, correlation.round(3).tolist())),
                         dict(zip(spec.outputs, gain.round(3).tolist())))
    return model_now(gain.astype(np.float32)), report


def input_statistics(clips: list[Clip], spec: ModelSpec) -> tuple[np.ndarray, np.ndarray]:
    """Per-input mean and standard deviation (inputs,) over the clips: every input (normalised mel,
    rule curves an order of magnitude smaller) reaches the network, and the ridge penalty, at unit scale."""
    stacked = np.concatenate([clip_inputs(c, spec) for c in clips])
    return stacked.mean(axis=0).astype(np.float32), (stacked.std(axis=0) + 1e-3).astype(np.float32)


def amplitude_gains(predicted: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-output gains (std target / std predicted, in [1, 2.5]) and correlations, from validation
    predictions and targets (N, outputs) in standardised units."""
    if len(predicted) < 10:
        return np.ones(predicted.shape[1]), np.full(predicted.shape[1], np.nan)
    spread = predicted.std(axis=0)
    gain = np.clip(target.std(axis=0) / np.maximum(spread, 1e-6), 1.0, 2.5)
    centred_p, centred_t = predicted - predicted.mean(axis=0), target - target.mean(axis=0)
    correlation = (centred_p * centred_t).sum(axis=0) / np.maximum(
        np.sqrt((centred_p ** 2).sum(axis=0) * (centred_t ** 2).sum(axis=0)), 1e-12)
    return gain, correlation


def train_linear(spec: ModelSpec, clips: list[Clip], folds: list[tuple[list[Clip], list[Clip]]],
                 options: TrainOptions = TrainOptions(), *, ridge: float = 30000.0, copies: int = 0,
                 projection: Projection | None = None, log=None) -> tuple[MotionModel, TrainReport]:
    """A linear model (ridge regression in closed form) over the same windows, fitted on all clips
    (plus `copies` augmented copies of each; for a model with rule inputs, plus a copy of each as if
    no word was heard, so it also works without words); its correlations and amplitude gains come
    from the cross-validation folds' predictions for speakers each fold did not see. The clips'
    encoder components must come from `projection` (dataset.projected), which the model keeps."""
    say = log or (lambda _: None)
    predicted, actual, spreads = [], [], []
    for train, validation in folds:
        if not validation:
            continue
        model = _ridge_model(spec, train, options, ridge, copies)
        for clip in validation:
            inputs = clip_inputs(clip, spec)
            frames = np.flatnonzero(clip.valid)[::options.frame_step]
            predicted.append(model.forward(model.windows(inputs, frames)))
            actual.append(clip_targets(clip, spec.outputs)[frames])
            speech = np.flatnonzero(clip.track.speech_activity > 0.5)
            if len(speech) >= 100:  # at least 1 s of speech to measure a spread on
                spreads.append(model.forward(model.windows(inputs, speech)).std(axis=0))
    model = _ridge_model(spec, clips, options, ridge, copies)
    say(f"linear model: {len(spec.offsets) * spec.inputs} inputs, {len(clips)} clips x {copies + 1} copies, "
        f"{len(folds)} folds")
    predicted_all = np.concatenate(predicted) if predicted else np.zeros((0, len(spec.outputs)))
    actual_all = np.concatenate(actual) if actual else np.zeros((0, len(spec.outputs)))
    gain, correlation = amplitude_gains(predicted_all, actual_all)
    loss = float(np.mean((predicted_all - actual_all) ** 2)) if len(actual_all) else 0.0
    report = TrainReport(1, loss, dict(zip(spec.outputs, correlation.round(3).tolist())),
                         dict(zip(spec.outputs, gain.round(3).tolist())))
    # the spread a clip is steadied to (offline models): the cross-validated predictions' typical
    # spread over speech, the same predictions whose spread the gains restore to the real one
    spread = (np.median(spreads, axis=0).astype(np.float32) if spec.encoding and spreads
              else np.zeros(0, np.float32))
    return replace(model, gain=gain.astype(np.float32), projection=projection or Projection(),
                   speech_spread=spread), report


def _ridge_model(spec: ModelSpec, clips: list[Clip], options: TrainOptions, ridge: float,
                 copies: int = 0) -> MotionModel:
    """The ridge solution on the clips' standardised windows and per-clip standardised targets, as a
    MotionModel with unit gains (and no projection)."""
    rng = np.random.default_rng(options.seed)
    mean, std = input_statistics(clips, spec)
    width = len(spec.offsets) * spec.inputs
    gram, cross = np.zeros((width + 1, width + 1)), np.zeros((width + 1, len(spec.outputs)))
    for clip in clips:
        y = clip_targets(clip, spec.outputs)
        frames = np.flatnonzero(clip.valid)[::options.frame_step]
        variants = [clip_inputs(clip, spec)] + ([clip_inputs(clip, spec, words=False)] if spec.rules else [])
        variants += [augmented_inputs(clip, spec, rng, options) for _ in range(copies)]
        for inputs in variants:
            x = np.concatenate([standard_windows(spec, mean, std, inputs, frames),
                                np.ones((len(frames), 1), np.float32)], axis=1)
            gram += x.T.astype(np.float64) @ x
            cross += x.T.astype(np.float64) @ y[frames]
    penalty = ridge * np.eye(width + 1)
    penalty[-1, -1] = 0.0
    with threadpool_limits(2):
        solution = np.linalg.solve(gram + penalty, cross)
    y_mean, y_std = target_scale(clips, spec.outputs)
    return MotionModel(spec, mean, std, ((solution[:-1].astype(np.float32), solution[-1].astype(np.float32)),),
                       y_mean, y_std, np.ones(len(spec.outputs), np.float32))


def estimate_lags(spec: ModelSpec, folds: list[tuple[list[Clip], list[Clip]]], options: TrainOptions = TrainOptions(),
                  *, ridge: float = 30000.0, max_lag: int = 25, min_gain: float = 0.03) -> dict[str, int]:
    """Per clip, how many feature frames (10 ms) its motion must move to be in step with its sound:
    the shift (within ±max_lag) that best correlates the clip's jaw with what a model trained on the
    other folds' speakers predicts from the sound, kept only when it raises that correlation by at
    least min_gain (else 0). Research clips are often out of step by 100-300 ms, which teaches a model
    to lag or smear."""
    jaw = spec.outputs.index("jawOpen")
    lags: dict[str, int] = {}
    for train, validation in folds:
        if not validation:
            continue
        model = _ridge_model(spec, train, options, ridge)
        for clip in validation:
            predicted = model.forward(model.windows(clip_inputs(clip, spec)))[:, jaw]
            target = clip_targets(clip, spec.outputs)[:, jaw]
            scores = {lag: _shifted_correlation(predicted, target, clip.valid, lag)
                      for lag in range(-max_lag, max_lag + 1)}
            best = max(scores, key=scores.get)
            lags[clip.name] = best if scores[best] - scores[0] >= min_gain else 0
    return lags


def _shifted_correlation(predicted: np.ndarray, target: np.ndarray, valid: np.ndarray, lag: int) -> float:
    """Correlation of predicted[t] with target[t - lag] over frames valid in both (lag in frames)."""
    moved, seen = np.roll(target, lag), np.roll(valid, lag) & valid
    if lag > 0:
        seen[:lag] = False
    elif lag < 0:
        seen[lag:] = False
    if seen.sum() < 10:
        return -1.0
    a, b = predicted[seen] - predicted[seen].mean(), moved[seen] - moved[seen].mean()
    return float((a * b).sum() / max(np.sqrt((a * a).sum() * (b * b).sum()), 1e-12))
