"""The learned lips: model files (format, checksum, clear errors), the committed models, and the
training command on a tiny dataset rendered here with a planted audio -> jaw mapping."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from talkingface.audio import analyse_audio, audio_from_array
from talkingface.errors import InputFileError
from talkingface.motion.generate import MotionOptions, generate_motion
from talkingface.motion.lips import LIP_PARAMETERS
from talkingface.motion.head import load_head_motion
from talkingface.audio.whisper import ENCODING_WIDTH, encoding_on_grid, speech_encoding
from talkingface.motion.generate import OFFLINE_LIPS_MODEL, rule_lips
from talkingface.motion.model import ModelSpec, MotionModel, Projection, load_model, model_from_bytes, save_model
from talkingface.motion.params import PARAMETER_INDEX, PARAMETERS, Motion
from tests.synthetic import speech_like, write_rendered_video

SPEC = ModelSpec(mel=40, rules=0, past=6, future=2, stride=2, outputs=("jawOpen", "mouthFunnel"))


def _tiny_model(seed: int = 0) -> MotionModel:
    rng = np.random.default_rng(seed)
    width = len(SPEC.offsets) * SPEC.inputs
    layers = ((rng.normal(0, 0.1, (width, 8)).astype(np.float32), np.zeros(8, np.float32)),
              (rng.normal(0, 0.1, (8, 2)).astype(np.float32), np.zeros(2, np.float32)))
    ones = np.ones(2, np.float32)
    return MotionModel(SPEC, np.zeros(40, np.float32), np.ones(40, np.float32), layers, ones * 0.2, ones * 0.1, ones)


def test_model_file_round_trip(tmp_path):
    model = _tiny_model()
    path = save_model(model, tmp_path / "m.npz")
    again = load_model(path)
    frames = np.random.default_rng(1).normal(size=(50, 40)).astype(np.float32)
    assert np.allclose(model.predict(frames), again.predict(frames))
    assert again.spec == SPEC


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_damaged_model_files_are_refused_by_name(tmp_path, damage):
    data = bytearray(_tiny_model().to_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":  # change one weight: the checksum no longer matches
        model = _tiny_model()
        other = MotionModel(model.spec, model.input_mean, model.input_std,
                            ((model.layers[0][0] * 1.01, model.layers[0][1]), model.layers[1]),
                            model.output_mean, model.output_std, model.gain)
        import io
        with np.load(io.BytesIO(bytes(data))) as npz:
            files = dict(npz)
        files.update({"w0": other.layers[0][0]})
        buffer = io.BytesIO()
        np.savez(buffer, **files)
        data = buffer.getvalue()
    else:
        data = b"not a model"
    path = tmp_path / "bad.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(InputFileError, match="bad.npz"):
        load_model(path)


def test_missing_model_file(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        load_model(tmp_path / "none.npz")
    with pytest.raises(InputFileError, match="not found"):
        load_model("no_such_model")


def test_other_format_version_is_refused():
    import io

    with np.load(io.BytesIO(_tiny_model().to_bytes())) as npz:
        files = dict(npz)
    files["header"] = np.array(str(files["header"]).replace('"version": 2', '"version": 9'))
    buffer = io.BytesIO()
    np.savez(buffer, **files)
    with pytest.raises(InputFileError, match="version 2"):
        model_from_bytes(buffer.getvalue(), "model.npz")


def _encoded_model(seed: int = 0) -> MotionModel:
    """A tiny model over 3 Whisper encoder components and 2 rule curves, no mel."""
    rng = np.random.default_rng(seed)
    spec = ModelSpec(mel=0, rules=2, past=2, future=2, stride=2, outputs=("jawOpen", "mouthFunnel"), encoding=3)
    width = len(spec.offsets) * spec.inputs
    ones = np.ones(2, np.float32)
    projection = Projection(rng.normal(size=ENCODING_WIDTH).astype(np.float32),
                            rng.normal(size=(ENCODING_WIDTH, 3)).astype(np.float32))
    return MotionModel(spec, np.zeros(5, np.float32), np.ones(5, np.float32),
                       ((rng.normal(0, 0.1, (width, 2)).astype(np.float32), np.zeros(2, np.float32)),),
                       ones * 0.2, ones * 0.1, ones, projection)


def test_encoder_model_file_round_trip_keeps_its_projection(tmp_path):
    model = _encoded_model()
    again = load_model(save_model(model, tmp_path / "m.npz"))
    encoding = np.random.default_rng(2).normal(size=(30, ENCODING_WIDTH)).astype(np.float16)
    features = np.zeros((60, 46), np.float32)
    rules = np.random.default_rng(3).random((60, 2)).astype(np.float32)
    assert again.spec == model.spec
    assert np.allclose(model.predict(model.inputs(features, rules, encoding)),
                       again.predict(again.inputs(features, rules, encoding)))
    other = replace(model, projection=Projection(model.projection.mean, model.projection.basis[:, :2]))
    with pytest.raises(InputFileError, match="projection shapes"):
        model_from_bytes(other.to_bytes(), "m.npz")
    with pytest.raises(ValueError, match="Whisper encoding"):
        model.inputs(features, rules)


def test_a_clip_is_steadied_to_the_typical_speech_spread_within_bounds(tmp_path):
    model = replace(_encoded_model(), speech_spread=np.array([0.5, 0.5], np.float32))
    again = load_model(save_model(model, tmp_path / "m.npz"))
    assert np.array_equal(again.speech_spread, model.speech_spread)
    rng = np.random.default_rng(4)
    features = np.zeros((400, 46), np.float32)
    rules = rng.random((400, 2)).astype(np.float32)
    inputs = model.inputs(features, rules, rng.normal(size=(200, ENCODING_WIDTH)).astype(np.float16))
    speech = np.zeros(400, bool)
    speech[50:350] = True
    plain, steady = model.predict(inputs), model.predict(inputs, speech=speech)
    raw_spread = (plain[speech] - 0.2).std(axis=0) / 0.1  # back to raw units: mean 0.2, std 0.1, gain 1
    factor = np.clip(0.5 / raw_spread, 2 / 3, 1.5)
    assert np.allclose(steady[speech].std(axis=0), plain[speech].std(axis=0) * factor, rtol=1e-3)
    assert np.allclose(steady[speech].mean(axis=0), plain[speech].mean(axis=0), atol=1e-5)  # centred on the clip
    few = np.zeros(400, bool)
    few[:10] = True  # too little speech to judge: left alone
    assert np.allclose(model.predict(inputs, speech=few), plain)
    assert np.allclose(replace(model, speech_spread=np.zeros(0, np.float32)).predict(inputs, speech=speech), plain)


def test_encoder_inputs_follow_the_sound_20_ms_at_a_time():
    encoding = np.arange(5, dtype=np.float16)[:, None] * np.ones((1, ENCODING_WIDTH), np.float16)
    grid = encoding_on_grid(encoding, 12)
    assert grid[:, 0].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4, 4]


@pytest.mark.parametrize("name", ["lips_acoustic", OFFLINE_LIPS_MODEL])
def test_committed_models_load_and_predict(name):
    model = load_model(name)
    assert set(model.spec.outputs) == set(LIP_PARAMETERS)
    assert model.spec.lookahead_s <= (0.1 if name == "lips_acoustic" else 0.3)
    assert (model.spec.encoding > 0) == (name == OFFLINE_LIPS_MODEL)  # live has no Whisper
    rng = np.random.default_rng(0)
    features = rng.normal(-30, 10, (120, 46)).astype(np.float32)
    rules = np.zeros((120, model.spec.rules), np.float32) if model.spec.rules else None
    encoding = rng.normal(0, 0.5, (60, ENCODING_WIDTH)).astype(np.float16)
    out = model.predict(model.inputs(features, rules, encoding))
    assert out.shape == (120, len(LIP_PARAMETERS)) and np.isfinite(out).all()


@pytest.mark.parametrize("phonetic", [False, True], ids=["live-engine", "offline-whisper"])
def test_learned_lips_move_with_speech_and_rest_in_silence(phonetic, speech_path):
    from talkingface.audio import load_audio

    speech = load_audio(speech_path).samples[:32000] if phonetic else speech_like(2.0)  # Whisper needs real speech
    samples = np.concatenate([np.zeros(16000, np.float32), speech, np.zeros(16000, np.float32)])
    track = analyse_audio(audio_from_array(samples, 16000), phonetic=phonetic)
    assert (track.encoding is not None) == phonetic
    motion = generate_motion(track, MotionOptions(lips="learned"))
    jaw = motion["jawOpen"]
    speech, silence = jaw[30:70], np.concatenate([jaw[:15], jaw[-10:]])
    assert speech.std() > 0.02 and speech.mean() > silence.mean() + 0.03


def test_offline_lips_hold_their_timing_and_size_in_noise(speech_path):
    from talkingface.audio import load_audio

    speech = load_audio(speech_path).samples[:16000 * 8]
    noise = np.random.default_rng(0).normal(size=len(speech)).astype(np.float32)
    noise *= np.sqrt(np.mean(speech ** 2) / np.mean(noise ** 2)) / 10 ** (5 / 20)  # 5 dB SNR
    clean, noisy = (generate_motion(analyse_audio(audio_from_array(x, 16000)))["jawOpen"]
                    for x in (speech, speech + noise))
    count = min(len(clean), len(noisy))
    assert np.corrcoef(clean[:count], noisy[:count])[0, 1] > 0.75
    assert 0.8 < noisy.std() / clean.std() < 1.25


def test_offline_lips_come_from_the_whisper_model_without_words():
    track = analyse_audio(audio_from_array(speech_like(2.0), 16000))
    assert not track.words  # nothing English to hear: the encoding still drives the lips
    offline = generate_motion(track, MotionOptions(lips="learned"))
    engine = generate_motion(replace(track, encoding=None), MotionOptions(lips="learned"))
    jaw = PARAMETER_INDEX["jawOpen"]
    assert not np.allclose(offline.values[:, jaw], engine.values[:, jaw], atol=0.02)
    head = PARAMETER_INDEX["headYaw"]
    assert np.array_equal(offline.values[:, head], engine.values[:, head])  # only the lips change


def test_speech_encoding_has_one_state_per_20_ms_across_windows():
    samples = speech_like(31.0, seed=2)
    encoding = speech_encoding(samples)
    assert encoding.shape == (-(-len(samples) // 320), ENCODING_WIDTH) and encoding.dtype == np.float16
    assert np.isfinite(encoding.astype(np.float32)).all()
    assert np.array_equal(encoding, speech_encoding(samples))  # deterministic
    assert np.abs(encoding[1500:].astype(np.float32)).mean() > 0.1  # the second 30 s window is encoded too


def test_lips_rest_where_silero_hears_no_speech_unless_it_hears_none_of_a_stretch():
    from talkingface.motion.generate import _heard_speech

    track = analyse_audio(audio_from_array(speech_like(1.0), 16000), phonetic=False)
    energy = np.zeros(300, np.float32)
    energy[20:120] = 1  # Silero hears only part of this stretch: its verdict holds
    energy[200:260] = 1  # Silero hears none of this one (a sung or synthetic voice): the energy's holds
    silero = np.zeros(300, np.float32)
    silero[40:90] = 1
    silero[150:170] = 1  # a quiet syllable the energy threshold dropped
    heard = _heard_speech(replace(track, speech_activity=energy, voice_activity=silero))
    assert heard[40:90].all() and not heard[20:40].any() and not heard[90:120].any()
    assert heard[150:170].all() and heard[200:260].all() and not heard[260:].any()
    assert np.array_equal(_heard_speech(replace(track, speech_activity=energy)), energy)


def test_motion_is_deterministic_per_seed():
    track = analyse_audio(audio_from_array(speech_like(2.0), 16000), phonetic=False)
    a, b = (generate_motion(track, MotionOptions(seed=3)).values for _ in range(2))
    c = generate_motion(track, MotionOptions(seed=4)).values
    assert np.array_equal(a, b) and not np.array_equal(a, c)


# ------------------------------------------------------------------------------ training command


def _planted_motion(samples: np.ndarray, fps: float = 25.0) -> Motion:
    """The planted mapping: the jaw opens with the audio's loudness, 80 ms ahead of it."""
    from talkingface.audio.features import loudness_db

    loud = loudness_db(samples)
    level = np.clip((loud - loud.max() + 30) / 30, 0, 1)
    frames = int(len(samples) / 16000 * fps)
    times = np.arange(frames) / fps + 0.08
    values = np.zeros((frames, len(PARAMETERS)), np.float32)
    values[:, PARAMETER_INDEX["jawOpen"]] = 0.8 * np.interp(times * 100, np.arange(len(level)), level)
    return Motion(fps=fps, values=values)


@pytest.fixture(scope="module")
def planted_videos(avatar, tmp_path_factory):
    folder = tmp_path_factory.mktemp("train-videos")
    for seed in range(3):
        samples = speech_like(4.0, seed=seed) * np.repeat(np.random.default_rng(seed).uniform(0.2, 1, 16), 4000)
        write_rendered_video(folder / f"planted{seed}.mp4", avatar, _planted_motion(samples), size=192,
                             audio=samples)
    return folder


def test_training_command_recovers_the_planted_mapping(planted_videos, tmp_path, capsys):
    from talkingface.train.__main__ import main

    code = main([str(planted_videos), "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "models")])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["clips"] == 3
    assert load_head_motion(report["head_motion"]["path"]).source.startswith("fitted to 3 ")
    samples = speech_like(4.0, seed=7) * np.repeat(np.random.default_rng(7).uniform(0.2, 1, 16), 4000)
    track = analyse_audio(audio_from_array(samples, 16000))
    planted = _planted_motion(samples, fps=100.0)["jawOpen"]
    grid = (np.arange(track.n_frames) + 0.5) / 100
    for name in ("lips_acoustic", "lips_offline"):
        model = load_model(tmp_path / "models" / f"{name}.npz")
        inputs = model.inputs(track.acoustic, rule_lips(track, grid), track.encoding)
        predicted = model.predict(inputs)[:, model.spec.outputs.index("jawOpen")]
        count = min(len(planted), len(predicted))
        assert np.corrcoef(predicted[:count], planted[:count])[0, 1] > 0.8, name


def test_training_command_refuses_a_missing_folder(tmp_path, capsys):
    from talkingface.train.__main__ import main

    assert main([str(tmp_path / "nothing")]) == 2
    assert "nothing" in capsys.readouterr().err


# ------------------------------------------------------------------------------ training data alignment


def _planted_clips(count: int = 6, frames: int = 1500) -> list:
    """Clips whose jaw follows the loudness of a random mel envelope 40 ms ahead of it, each its own
    speaker, with a different jaw scale per speaker."""
    from scipy.ndimage import gaussian_filter1d

    from talkingface.audio.acoustic import FEATURE_NAMES, MEL
    from talkingface.train.dataset import Clip

    clips = []
    for k in range(count):
        rng = np.random.default_rng(k)
        envelope = gaussian_filter1d(rng.random(frames), 4)
        envelope = (envelope - envelope.min()) / np.ptp(envelope)
        features = np.zeros((frames, len(FEATURE_NAMES)), np.float32)
        features[:, MEL] = (-60 + 50 * envelope[:, None] + rng.normal(0, 1, (frames, 40))).astype(np.float32)
        motion = np.zeros((frames, len(PARAMETERS)), np.float32)
        motion[:, PARAMETER_INDEX["jawOpen"]] = (0.2 + 0.3 * k) * np.roll(envelope, -4)
        clips.append(Clip(f"clip{k}", f"speaker{k}", features, np.full(frames, -1, np.int16), motion,
                          np.ones(frames, bool)))
    return clips


def test_lag_estimation_puts_an_out_of_step_clip_back_in_step():
    from talkingface.train.__main__ import SPECS
    from talkingface.train.dataset import shifted, speaker_folds
    from talkingface.train.fit import estimate_lags

    clips = _planted_clips()
    clips[2] = shifted(clips[2], 15)  # its picture 150 ms late against its sound
    lags = estimate_lags(SPECS["lips_acoustic"], speaker_folds(clips, folds=3))
    assert abs(lags["clip2"] + 15) <= 1
    assert all(abs(lags[c.name]) <= 1 for c in clips if c.name != "clip2")
    moved = shifted(clips[2], -15)
    assert not moved.valid[-15:].any() and moved.valid[:-30].all()


def test_speaker_folds_keep_speakers_apart_and_validate_each_once():
    from dataclasses import replace

    from talkingface.train.dataset import speaker_folds

    clips = _planted_clips(7)
    clips.append(replace(clips[0], name="clip0b"))  # a second clip of speaker0
    folds = speaker_folds(clips, folds=4)
    assert len(folds) == 4
    validated = [c.name for _, validation in folds for c in validation]
    assert sorted(validated) == sorted(c.name for c in clips)
    for train, validation in folds:
        assert not {c.speaker for c in train} & {c.speaker for c in validation}
    assert speaker_folds(clips[:1]) == [(clips[:1], [])]


def test_linear_training_learns_timing_not_each_speakers_scale():
    from talkingface.train.__main__ import SPECS
    from talkingface.train.dataset import speaker_folds
    from talkingface.train.fit import clip_targets, train_linear

    clips = _planted_clips()
    spec = SPECS["lips_acoustic"]
    model, report = train_linear(spec, clips, speaker_folds(clips, folds=3))
    assert report.correlation["jawOpen"] > 0.9  # cross-validated: speakers the fold never saw
    jaw = spec.outputs.index("jawOpen")
    standard = clip_targets(clips[3], spec.outputs)[:, jaw]
    assert abs(standard.mean()) < 1e-4 and abs(standard.std() - 1) < 1e-3
    typical = np.median([0.2 + 0.3 * k for k in range(len(clips))])  # the middle speaker's jaw scale
    predicted = model.predict(model.inputs(clips[0].features))[:, jaw]
    assert 0.5 * typical < predicted.max() - predicted.min() < 2.0 * typical


# ------------------------------------------------------------------------------ head motion


def test_committed_head_motion_loads_and_differs_from_the_rules():
    from talkingface.motion.head import RULES, load_head_motion

    head = load_head_motion()
    assert "captured talking clips" in head.source
    assert head != RULES and all(0.5 < d < 10 for d in head.drift_deg)


@pytest.mark.parametrize("damage", ["missing", "version", "checksum", "range", "not json"])
def test_damaged_head_motion_files_are_refused_by_name(tmp_path, damage):
    from talkingface.motion.head import RULES, load_head_motion, save_head_motion

    path = save_head_motion(RULES, tmp_path / "head.json")
    document = json.loads(path.read_text())
    if damage == "missing":
        path.unlink()
    elif damage == "version":
        path.write_text(json.dumps(document | {"version": 99}))
    elif damage == "checksum":
        path.write_text(json.dumps(document | {"drift_deg": [9.0, 1.0, 1.0]}))
    elif damage == "range":
        path.write_text(json.dumps(document | {"wobble_sigma_s": [0.0, 1.0, 1.0]}))
    else:
        path.write_text("{drift")
    with pytest.raises(InputFileError, match="head.json"):
        load_head_motion(path)
    assert load_head_motion(save_head_motion(RULES, tmp_path / "again.json")) == RULES


def test_head_fit_recovers_the_process_it_was_given():
    """Clips of the performance's own head process (in speech, no emphasis) with planted constants:
    the fit gives back their sizes and widths."""
    from talkingface.motion.head import HeadMotion
    from talkingface.motion.performance import CausalPerformance
    from talkingface.train.dataset import Clip
    from talkingface.train.head import fit_head_motion

    planted = HeadMotion(drift_deg=(4.0, 2.0, 1.5), drift_sigma_s=(0.8, 0.6, 0.7), wobble_deg=(1.5, 2.5, 1.0),
                         wobble_sigma_s=(0.2, 0.25, 0.3))
    frames, clips = 1500, []
    for seed in range(30):
        performance = CausalPerformance(seed, 100.0, 0.0, planted)
        pose = np.array([performance.step(t / 100, 1.0, 0.0).pose for t in range(frames + 300)])[300:]
        motion = np.zeros((frames, len(PARAMETERS)), np.float32)
        motion[:, [PARAMETER_INDEX[a] for a in ("headYaw", "headPitch", "headRoll")]] = pose
        clips.append(Clip(f"c{seed}", f"s{seed}", np.zeros((frames, 46), np.float32), np.full(frames, -1, np.int16),
                          motion, np.ones(frames, bool)))
    head, report = fit_head_motion(clips)
    total = lambda h: np.hypot(h.drift_deg, h.wobble_deg)  # noqa: E731
    assert np.allclose(total(head), total(planted), rtol=0.2)
    assert np.allclose(head.drift_deg, planted.drift_deg, rtol=0.35)
    assert report["headYaw"]["fitted"]["speed_deg_s"] == pytest.approx(report["headYaw"]["real"]["speed_deg_s"], rel=0.1)
