"""The motion engine: audio in, motion-parameter frames out; one engine, two run modes.

Live, audio arrives in chunks (``push``) and each frame leaves as soon as its look-ahead has arrived;
offline, a whole clip's features go through the same code at once (``run_features``). Per 10 ms
feature frame (``audio.acoustic``: exact for any chunking)::

    samples -> (resample to 16 kHz) -> FeatureExtractor -> SpeechTracker (activity, emphasis)
                                                        -> MelNormaliser (log-mel, causal) -> ring
    video frame k (time t = k / fps), once the audio up to t + look-ahead has arrived:
        lips   = the learned acoustic model (motion.model, "lips_acoustic") on the window around t,
                 closed in silence
        speech = Gaussian-weighted activity and emphasis within [t - 60 ms, t + look-ahead]
        -> CausalPerformance (head, blinks, gaze, brows) -> smoothed controls -> params (P,)

The look-ahead is at least the lips model's own (60 ms). State is a few fixed-size arrays, so memory
stays constant however long the stream runs, and the frames depend only on the audio, the options
and the controls, never on how the audio was chunked or whether it came live or as a file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from talkingface.audio.acoustic import MEL, REACH, FeatureBlock, FeatureExtractor, MelNormaliser
from talkingface.audio.features import FEATURE_RATE, HOP
from talkingface.audio.resample import StreamResampler
from talkingface.errors import OptionError
from talkingface.motion.controls import EMOTIONS, UNBOUNDED, emotion_offsets, gaze_offsets
from talkingface.motion.head import HeadMotion
from talkingface.motion.model import load_model
from talkingface.motion.options import StreamControls, StreamError, StreamOptions
from talkingface.motion.params import PARAMETER_INDEX, PARAMETERS
from talkingface.motion.performance import CausalPerformance
from talkingface.motion.speech import ACTIVITY, EMPHASIS, SpeechTracker

SAMPLE_RATE = 16000
LIPS_MODEL = "lips_acoustic"
_SPEECH_SIGMA_S = 0.02  # temporal smoothing of activity and emphasis (Gaussian sigma)
_PAST_S = 3 * _SPEECH_SIGMA_S
_GATE_TAU_S = 0.05  # time constant of the lips' speech gate
LIP_SPEED_PER_S = 6.0
"""Fastest change of a lip parameter, per second: real speakers' jawOpen changes at most 0.27 in 40 ms
(the 50 dev-data clips, captured), so a sudden onset opens the mouth over two frames at 25 fps."""
_BOUNDED = np.array([name not in UNBOUNDED for name in PARAMETERS])
_MAX_BLOCK = SAMPLE_RATE  # samples processed at once (bounds temporary memory for huge pushes)
_POSE = np.array([PARAMETER_INDEX[n] for n in ("headYaw", "headPitch", "headRoll")])
_HEAD_Y, _SCALE, _BROW = PARAMETER_INDEX["headY"], PARAMETER_INDEX["headScale"], PARAMETER_INDEX["browInnerUp"]
_BLINK = np.array([PARAMETER_INDEX["eyeBlinkLeft"], PARAMETER_INDEX["eyeBlinkRight"]])


@dataclass(frozen=True)
class MotionFrame:
    """One frame of motion.

    index: frame number from 0; pts_s: the time it shows, ``index / fps`` seconds of the audio;
    params: (P,) float32 ordered as ``talkingface.PARAMETERS``; ready_s: seconds of audio that had
    been pushed when the frame could be made (at least ``pts_s + lookahead_s``, except at flush):
    ``ready_s - pts_s`` is the algorithmic latency.
    """

    index: int
    pts_s: float
    params: np.ndarray
    ready_s: float


def to_mono_float(samples: np.ndarray | bytes | bytearray | memoryview) -> np.ndarray:
    """Audio chunk -> (N,) float32 in [-1, 1].

    Accepts float arrays (clipped), integer PCM arrays (int16: divided by 32768, other widths by
    their range), (N, C) multichannel arrays (channels averaged), and bytes (PCM16 little-endian).
    """
    if isinstance(samples, (bytes, bytearray, memoryview)):
        raw = bytes(samples)
        if len(raw) % 2:
            raise OptionError("samples", f"{len(raw)} bytes", "PCM16 audio must have an even number of bytes")
        return np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    array = np.asarray(samples)
    if array.ndim == 2:
        array = array.mean(axis=1) if array.dtype.kind == "f" else _int_to_float(array).mean(axis=1)
    if array.ndim != 1:
        raise OptionError("samples", f"array of shape {array.shape}", "must be (N,) or (N, channels)")
    if array.dtype.kind == "f":
        out = array.astype(np.float32)
        if not np.all(np.isfinite(out)):
            raise OptionError("samples", "array with NaN or infinite values", "must be finite")
        return np.clip(out, -1.0, 1.0)
    return _int_to_float(array).astype(np.float32)


def _int_to_float(array: np.ndarray) -> np.ndarray:
    if array.dtype.kind == "i":
        return array / float(-np.iinfo(array.dtype).min)
    if array.dtype.kind == "u":
        half = float(np.iinfo(array.dtype).max // 2 + 1)
        return (array.astype(np.float64) - half) / half
    raise OptionError("samples", f"array of dtype {array.dtype}", "must be float or integer PCM")


class _Smoothed:
    """A vector that moves towards a target with a first-order lag of ``tau`` seconds."""

    def __init__(self, value: np.ndarray) -> None:
        self.value = value.astype(np.float64)
        self.target = self.value.copy()

    def step(self, dt: float, tau: float) -> np.ndarray:
        alpha = 1.0 if tau <= 0 else 1.0 - math.exp(-dt / tau)
        self.value += alpha * (self.target - self.value)
        return self.value


def _control_vector(controls: StreamControls) -> np.ndarray:
    """Numeric controls: [head_motion, articulation, head_distance, gaze right, gaze up]."""
    return np.array([controls.head_motion, controls.articulation, controls.head_distance, *controls.gaze])


class MotionEngine:
    """Motion for one speaker from audio; no rendering.

        engine = MotionEngine(StreamOptions(fps=25, lookahead_s=0.06))
        for chunk in chunks:              # live: any sizes; float32 or int16 PCM at options.sample_rate
            for frame in engine.push(chunk):
                use(frame.params)         # (P,) float32, frame.pts_s seconds
        last = engine.flush()             # the frames up to the end of the audio

        frames = MotionEngine(options).run_features(track.acoustic, samples)   # offline, same frames

    head: the head process's constants (default: the committed ones learned from video;
    motion.head.RULES are the hand-tuned ones they replaced).

    Frame ``k`` is emitted as soon as the audio up to ``k / fps + lookahead`` (+ 7.5 ms of analysis
    window) has been pushed. The frames depend only on the audio, the options and the controls (set
    at the same audio positions), not on the chunk sizes.
    """

    def __init__(self, options: StreamOptions | None = None, *, head: HeadMotion | None = None) -> None:
        options = StreamOptions() if options is None else options
        if not isinstance(options, StreamOptions):
            raise OptionError("options", type(options).__name__, "must be a StreamOptions")
        self.options = options
        self._dt = 1.0 / options.fps
        self._resampler = (None if options.sample_rate == SAMPLE_RATE
                           else StreamResampler(options.sample_rate, SAMPLE_RATE))
        self._features = FeatureExtractor()
        self._tracker = SpeechTracker()
        self._normaliser = MelNormaliser()
        self._lips = load_model(LIPS_MODEL)
        self._lookahead_s = max(options.lookahead_s, self._lips.spec.lookahead_s)
        self._performance = CausalPerformance(options.seed, options.fps, options.blink_rate, head)
        past = max(math.ceil(_PAST_S * FEATURE_RATE), self._lips.spec.past) + 1
        ahead = math.ceil(self._lookahead_s * FEATURE_RATE) + 1
        size = past + ahead + 4
        self._speech = np.zeros((size, 2), np.float64)  # activity, emphasis per feature frame
        self._mel = np.zeros((size, self._lips.spec.mel), np.float32)  # normalised log-mel
        self._features_done = 0  # feature frames in the rings
        self._end_feature: int | None = None  # at the end: the last feature frame of the audio
        self._controls = options.controls
        self._numeric = _Smoothed(_control_vector(options.controls))
        self._expression = _Smoothed(self._emotion_target(options.controls))
        self._lip_columns = np.array([PARAMETER_INDEX[name] for name in self._lips.spec.outputs])
        self._speaking = 0.0  # the lips' gate: 1 in speech, 0 in silence, smoothed
        self._lips_now = np.zeros(len(self._lip_columns), np.float32)  # the lips of the last frame
        self._next_frame = 0
        self._closed = False

    # ------------------------------------------------------------------------------ public API

    @property
    def controls(self) -> StreamControls:
        """The controls the motion is moving towards."""
        return self._controls

    @property
    def samples_received(self) -> int:
        """Samples pushed so far at 16 kHz (after resampling)."""
        return self._features.samples_received

    @property
    def frames_emitted(self) -> int:
        return self._next_frame

    @property
    def lookahead_s(self) -> float:
        """Audio after a frame's time that the frame uses: options.lookahead_s, or the lips model's
        own look-ahead if that is longer, seconds."""
        return self._lookahead_s

    @property
    def latency_s(self) -> float:
        """Audio a frame waits for beyond its own time: look-ahead + analysis window, seconds."""
        return self._lookahead_s + (HOP // 2 + 200) / SAMPLE_RATE - 0.5 / FEATURE_RATE

    def set_controls(self, controls: StreamControls | None = None, **changes: object) -> StreamControls:
        """Change the controls from the next frame on (smoothly, over ``transition_s``).

        Pass a ``StreamControls``, or keyword changes of the current one (e.g. ``emotion="happy",
        emotion_intensity=0.6, gaze=(0.3, 0.0)``). Returns the new controls; raises OptionError for
        unknown names or out-of-range values (the controls are then unchanged).
        """
        if controls is None:
            unknown = set(changes) - set(StreamControls.__dataclass_fields__)
            if unknown:
                raise OptionError("controls", sorted(unknown),
                                  f"unknown; known are {sorted(StreamControls.__dataclass_fields__)}")
            controls = replace(self._controls, **changes)  # validates
        elif not isinstance(controls, StreamControls):
            raise OptionError("controls", type(controls).__name__, "must be a StreamControls")
        self._controls = controls
        self._numeric.target = _control_vector(controls)
        self._expression.target = self._emotion_target(controls)
        return controls

    def push(self, samples: np.ndarray | bytes, sample_rate: int | None = None) -> list[MotionFrame]:
        """Add an audio chunk; returns the frames it completed (possibly none).

        samples: (N,) or (N, channels) float in [-1, 1] or integer PCM, or PCM16-LE bytes, at
        ``sample_rate`` Hz (default ``options.sample_rate``; a different rate is an OptionError:
        one stream has one rate).
        """
        if self._closed:
            raise StreamError("this stream was flushed; start a new session for more audio")
        if sample_rate is not None and sample_rate != self.options.sample_rate:
            raise OptionError("sample_rate", sample_rate,
                              f"differs from the stream's declared rate {self.options.sample_rate} Hz")
        mono = to_mono_float(samples)
        if self._resampler is not None:
            mono = self._resampler.push(mono)
        frames: list[MotionFrame] = []
        for start in range(0, mono.size, _MAX_BLOCK):
            frames.extend(self._advance(mono[start:start + _MAX_BLOCK]))
        return frames

    def push_silence(self, seconds: float) -> list[MotionFrame]:
        """Push ``seconds`` of silence (keeps the face alive while no audio arrives)."""
        if not (math.isfinite(seconds) and seconds >= 0):
            raise OptionError("seconds", seconds, "must be a duration >= 0")
        count = round(seconds * self.options.sample_rate)
        return self.push(np.zeros(count, np.float32))

    def flush(self) -> list[MotionFrame]:
        """End of the audio: the remaining frames, ``max(1, round(duration * fps))`` frames in all.

        The last feature frames are completed as a whole clip's are (``audio.acoustic.clip_features``)
        and windows reaching past the audio's end repeat its last frame. The stream is then closed:
        further pushes raise StreamError.
        """
        if self._closed:
            return []
        frames = self._advance(self._resampler.flush()) if self._resampler is not None else []
        received = self.samples_received
        block = self._features.push(np.zeros(REACH, np.float32))
        count = -(-received // HOP)  # the audio's feature frames
        keep = max(0, min(len(block.values), count - block.first))
        frames += self._consume(FeatureBlock(block.first, block.values[:keep]), received)
        return frames + self._finish(received)

    def run_features(self, features: np.ndarray, samples: int) -> list[MotionFrame]:
        """Offline run mode: every frame of a clip from its features (T, F) (``audio.acoustic.
        clip_features`` of its `samples` 16 kHz samples); the same frames as pushing the clip's audio
        and flushing. The engine is then closed."""
        if self._closed or self.samples_received or self._features_done:
            raise StreamError("run_features needs a new engine")
        return self._consume(FeatureBlock(0, np.asarray(features, np.float64)), samples) + self._finish(samples)

    # ------------------------------------------------------------------------------ internals

    @staticmethod
    def _emotion_target(controls: StreamControls) -> np.ndarray:
        if controls.emotion not in EMOTIONS:
            return np.zeros(len(PARAMETERS))
        return emotion_offsets(controls.emotion, controls.emotion_intensity).astype(np.float64)

    def _frame_time(self, k: int) -> float:
        return k / self.options.fps

    def _centre(self, k: int) -> int:
        """Feature frame at video frame k's time (the lips model's window is centred there)."""
        return math.floor(self._frame_time(k) * FEATURE_RATE + 1e-9)

    def _last_feature(self, k: int) -> int:
        """Index of the last feature frame that video frame k uses (look-ahead, lips window)."""
        ahead = math.floor((self._frame_time(k) + self._lookahead_s) * FEATURE_RATE - 0.5 + 1e-9)
        return max(ahead, self._centre(k) + self._lips.spec.future)

    def _advance(self, samples: np.ndarray) -> list[MotionFrame]:
        """Feed 16 kHz samples; make every video frame whose look-ahead is now complete."""
        return self._consume(self._features.push(samples), self.samples_received)

    def _consume(self, block: FeatureBlock, received: int) -> list[MotionFrame]:
        """Add feature frames to the rings; make every video frame whose features are all there."""
        frames = []
        if block.values.shape[0]:
            speech = self._tracker.step_block(block.values)
            mel = self._normaliser.step(block.values[:, MEL])[:, :self._lips.spec.mel]
            size = self._speech.shape[0]
            for offset in range(block.values.shape[0]):  # the rings hold only the frames in use
                feature = block.first + offset
                self._speech[feature % size] = speech[offset]
                self._mel[feature % size] = mel[offset]
                self._features_done = feature + 1
                while self._last_feature(self._next_frame) <= feature:
                    frames.append(self._make_frame(self._next_frame, received / SAMPLE_RATE))
                    self._next_frame += 1
        return frames

    def _finish(self, received: int) -> list[MotionFrame]:
        """The frames left at the end of the audio, with windows held at its last feature frame."""
        total = max(1, round(received / SAMPLE_RATE * self.options.fps))
        self._end_feature = max(self._features_done - 1, 0)
        frames = []
        while self._next_frame < total:
            frames.append(self._make_frame(self._next_frame, received / SAMPLE_RATE))
            self._next_frame += 1
        self._closed = True
        return frames

    def _rows(self, index: np.ndarray) -> np.ndarray:
        """Ring rows of feature frames (clamped to the audio's first and, at the end, last frame)."""
        top = self._features_done - 1 if self._end_feature is None else self._end_feature
        return np.clip(index, 0, max(top, 0)) % self._speech.shape[0]

    def _speech_mix(self, k: int) -> np.ndarray:
        """Activity and emphasis around video frame k: Gaussian-weighted over [t - 60 ms, look-ahead]."""
        t = self._frame_time(k)
        last = min(self._last_feature(k), self._features_done - 1)
        first = min(max(0, math.ceil((t - _PAST_S) * FEATURE_RATE - 0.5)), last)
        index = np.arange(first, last + 1)
        weights = np.exp(-0.5 * (((index + 0.5) / FEATURE_RATE - t) / _SPEECH_SIGMA_S) ** 2)
        total = weights.sum()
        weights = weights / total if total > 0 else np.full(index.size, 1.0 / max(index.size, 1))
        return weights @ self._speech[self._rows(index)]

    def _lip_values(self, k: int) -> np.ndarray:
        """The learned acoustic lips (outputs of the model) at video frame k."""
        spec = self._lips.spec
        window = self._mel[self._rows(self._centre(k) + spec.offsets)]
        return self._lips.predict_window(window)

    def _make_frame(self, k: int, ready_s: float) -> MotionFrame:
        mix = self._speech_mix(k)
        t = self._frame_time(k)
        tau = self._controls.transition_s
        head_motion, articulation, distance, gaze_right, gaze_up = self._numeric.step(self._dt, tau).tolist()
        expression = self._expression.step(self._dt, tau)
        perf = self._performance.step(t, float(mix[ACTIVITY]), float(mix[EMPHASIS]))
        params = expression.copy()  # emotion offsets, then everything else on top
        # closed in silence; opening and closing over ~50 ms, so the jaw never pops
        self._speaking += (1.0 - math.exp(-self._dt / _GATE_TAU_S)) * (min(1.5 * float(mix[ACTIVITY]), 1.0) - self._speaking)
        lips = np.maximum(self._lip_values(k), 0.0) * self._speaking * articulation
        step = LIP_SPEED_PER_S * self._dt
        self._lips_now = np.clip(lips, self._lips_now - step, self._lips_now + step)
        params[self._lip_columns] += self._lips_now
        params[_POSE] += perf.pose * head_motion
        params[_HEAD_Y] += perf.head_y
        params[_BLINK] += perf.blink
        right = min(max(perf.gaze[0] + gaze_right, -1.0), 1.0)
        up = min(max(perf.gaze[1] + gaze_up, -1.0), 1.0)
        params += gaze_offsets(right, up)
        params[_BROW] += perf.brow * math.sqrt(head_motion)
        params[_SCALE] += distance - 1.0
        params[_BOUNDED] = np.clip(params[_BOUNDED], 0.0, 1.0)
        return MotionFrame(index=k, pts_s=t, params=params.astype(np.float32), ready_s=ready_s)
