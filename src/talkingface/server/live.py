"""The live WebSocket session: PCM16 audio in, JPEG frames out (protocol in docs/STREAMING.md).

One ``LiveConnection`` per socket runs two tasks: a reader that validates every message (errors
are answered with an ``error`` message and the session goes on) and queues audio and controls in
arrival order, and a worker that feeds the queue to a ``StreamSession`` in a thread, renders the
frames (skipping stale ones when it falls behind, so latency stays bounded) and sends them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import struct
import time
from collections import deque
from concurrent.futures import Executor
from dataclasses import dataclass

import cv2
import numpy as np
from starlette.websockets import WebSocket, WebSocketDisconnect

from talkingface.errors import InputFileError, OptionError, TalkingFaceError, show
from talkingface.media.structured import Limits, parse_json
from talkingface.stream import MotionFrame, StreamControls, StreamSession, to_mono_float

FRAME_MAGIC = b"TFJ1"
FRAME_HEADER = struct.Struct("<4sIdd")  # magic, frame index, pts_s, ready_s -> 24 bytes
CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_INTERNAL = 1011
CLOSE_BUSY = 1013
CLOSE_UNKNOWN_PORTRAIT = 4404
CLOSE_IDLE = 4408
MAX_LAG_S = 0.25  # frames older than this behind the newest audio are skipped, not rendered
MAX_BACKLOG_S = 3.0  # queued, unprocessed audio beyond this is dropped (with an error message)
STATS_PERIOD_S = 1.0


@dataclass(frozen=True)
class LiveParams:
    """Per-connection parameters, from the WebSocket URL's query: portrait id, fps, size (px),
    lookahead_ms, seed, quality (JPEG 30-95), rate (Hz of the PCM16 the client sends),
    realtime: True (live microphone): when the client sends nothing the server pushes silence so the
    face keeps moving, and when processing falls behind, frames more than MAX_LAG_S older than the
    newest are skipped; False (streaming a file): every frame is rendered, nothing is added."""

    portrait: str = "astronaut"
    fps: float = 25.0
    size: int = 512
    lookahead_ms: float = 60.0
    seed: int = 0
    quality: int = 80
    rate: int = 16000
    realtime: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.quality, bool) or not isinstance(self.quality, int) or not 30 <= self.quality <= 95:
            raise OptionError("quality", self.quality, "must be a whole number from 30 to 95")


def encode_frame(index: int, pts_s: float, ready_s: float, image: np.ndarray, quality: int) -> bytes:
    """Binary frame message: 24-byte header (see FRAME_HEADER) + JPEG of the RGB image (H, W, 3)."""
    ok, jpeg = cv2.imencode(".jpg", np.ascontiguousarray(image[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - cv2 encodes any uint8 image
        raise RuntimeError("JPEG encoding failed")
    return FRAME_HEADER.pack(FRAME_MAGIC, index, pts_s, ready_s) + jpeg.tobytes()


def decode_frame(message: bytes) -> tuple[int, float, float, bytes]:
    """(index, pts_s, ready_s, jpeg bytes) of a binary frame message."""
    magic, index, pts, ready = FRAME_HEADER.unpack_from(message)
    if magic != FRAME_MAGIC:
        raise ValueError("not a talkingface frame message")
    return index, pts, ready, message[FRAME_HEADER.size:]


class LiveConnection:
    """Runs one accepted WebSocket until the client leaves, flushes, idles out or errs."""

    def __init__(self, websocket: WebSocket, session: StreamSession, params: LiveParams, *,
                 executor: Executor, idle_s: float, max_message_bytes: int) -> None:
        self.ws = websocket
        self.session = session
        self.params = params
        self._executor = executor
        self._idle_s = idle_s
        self._max_bytes = max_message_bytes
        self._queue: asyncio.Queue = asyncio.Queue()
        self._queued_samples = 0
        self._send_lock = asyncio.Lock()
        self._started = time.monotonic()
        self._sent = 0
        self._skipped = 0
        self._recent: deque[float] = deque(maxlen=64)  # send times, for the fps in stats

    async def run(self) -> None:
        await self._send_json({"type": "ready", "fps": self.session.options.fps,
                               "size": self.session.options.size, "sample_rate": self.params.rate,
                               "lookahead_ms": round(self.session.options.lookahead_s * 1000, 3),
                               "latency_ms": round(self.session.motion.latency_s * 1000, 3),
                               "controls": _controls_dict(self.session.controls)})
        reader = asyncio.create_task(self._read())
        worker = asyncio.create_task(self._work())
        done, _ = await asyncio.wait({reader, worker}, return_when=asyncio.FIRST_COMPLETED)
        code, reason = await self._outcome(reader, worker, done)
        if code is not None:
            with contextlib.suppress(Exception):  # already closed by the client
                await self.ws.close(code=code, reason=reason)

    async def _outcome(self, reader: asyncio.Task, worker: asyncio.Task, done: set) -> tuple[int | None, str]:
        """Wind both tasks down; returns the close code to send (None: the client left)."""
        if reader in done:
            try:
                code, reason = reader.result()
            except WebSocketDisconnect:  # the socket broke while reading: the client is gone
                code, reason = None, ""
            except Exception as error:  # noqa: BLE001 - a message could not be handled: say so, close
                await self._try_error("internal", f"the session failed: {type(error).__name__}")
                code, reason = CLOSE_INTERNAL, "internal error"
            if code == CLOSE_NORMAL:  # flush: the worker sends the last frames, then stops
                failed = await _settle(worker)
                return (CLOSE_INTERNAL, "internal error") if failed else (code, reason)
            self._queue.put_nowait(("stop", None))
            worker.cancel()
            await _settle(worker)
            return code, reason
        reader.cancel()
        await _settle(reader)
        if worker.cancelled() or worker.exception() is not None:
            why = "cancelled" if worker.cancelled() else type(worker.exception()).__name__
            await self._try_error("internal", f"the session failed: {why}")
            return CLOSE_INTERNAL, "internal error"
        return CLOSE_NORMAL, "flushed"

    async def _try_error(self, code: str, text: str) -> None:
        with contextlib.suppress(Exception):  # best effort: the socket may be gone
            await self._error(code, text)

    # ------------------------------------------------------------------------------ reading

    async def _read(self) -> tuple[int | None, str]:
        """Receive until the end; returns the close code to send (None: the client left)."""
        while True:
            try:
                message = await asyncio.wait_for(self.ws.receive(), timeout=self._idle_s)
            except TimeoutError:
                await self._error("idle", f"no message for {self._idle_s:g} s; closing")
                return CLOSE_IDLE, "idle timeout"
            if message["type"] == "websocket.disconnect":
                return None, ""
            if message.get("bytes") is not None:
                await self._on_audio(message["bytes"])
            elif message.get("text") is not None and await self._on_text(message["text"]):
                return CLOSE_NORMAL, "flushed"

    async def _on_audio(self, data: bytes) -> None:
        if len(data) > self._max_bytes:
            await self._error("too_large", f"audio message of {len(data)} bytes is larger than "
                                           f"{self._max_bytes} bytes; send smaller chunks")
            return
        try:
            samples = to_mono_float(data)
        except OptionError as error:
            await self._error("bad_audio", str(error))
            return
        while not self.params.realtime and self._queued_samples / self.params.rate > MAX_BACKLOG_S:
            await asyncio.sleep(0.02)  # back-pressure: stop reading until the worker catches up
        if (self._queued_samples + samples.size) / self.params.rate > MAX_BACKLOG_S:
            await self._error("overloaded", "audio arrives faster than it can be processed; "
                                            "dropping a chunk")
            return
        self._queued_samples += samples.size
        self._queue.put_nowait(("audio", samples))

    async def _on_text(self, text: str) -> bool:
        """Handle a JSON message; True when it asks to flush and end."""
        try:
            message = parse_client_message(text, max_bytes=self._max_bytes)
            if message["type"] == "control":
                changes = control_changes(self.session.controls, message)
        except LiveMessageError as error:
            await self._error(error.code, error.message)
            return False
        kind = message["type"]
        if kind == "control":
            self._queue.put_nowait(("control", changes))
        elif kind == "flush":
            self._queue.put_nowait(("flush", None))
            return True
        elif kind == "ping":
            await self._send_json({"type": "pong", "t": message.get("t")})
        return False

    # ------------------------------------------------------------------------------ working

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        next_stats = time.monotonic() + STATS_PERIOD_S
        while True:
            try:
                items = [await asyncio.wait_for(self._queue.get(), timeout=0.05)]
            except TimeoutError:
                items = []
            while not self._queue.empty():
                items.append(self._queue.get_nowait())
            for kind, value in _batched(items):
                if kind == "stop":
                    return
                if kind == "control":
                    self.session.set_controls(**value)
                    await self._send_json({"type": "controls", "controls": _controls_dict(self.session.controls)})
                elif kind == "audio":
                    self._queued_samples -= value.size
                    await self._process(loop, value)
                elif kind == "flush":
                    frames = await loop.run_in_executor(self._executor, self.session.motion.flush)
                    await self._render_and_send(loop, frames)
                    await self._send_json({"type": "end", "frames": self.session.motion.frames_emitted,
                                           "sent": self._sent, "skipped": self._skipped})
                    return
            if not items and self.params.realtime:
                await self._keep_alive(loop)
            if time.monotonic() >= next_stats:
                next_stats = time.monotonic() + STATS_PERIOD_S
                await self._send_stats()

    async def _process(self, loop: asyncio.AbstractEventLoop, samples: np.ndarray) -> None:
        frames = await loop.run_in_executor(self._executor, self.session.motion.push, samples)
        await self._render_and_send(loop, frames)

    async def _keep_alive(self, loop: asyncio.AbstractEventLoop) -> None:
        """Push silence when the audio falls behind the wall clock by more than MAX_LAG_S."""
        behind = (time.monotonic() - self._started) - self.session.motion.samples_received / 16000
        if behind > MAX_LAG_S:
            frames = await loop.run_in_executor(self._executor, self.session.motion.push_silence,
                                                behind - MAX_LAG_S / 2)
            await self._render_and_send(loop, frames)

    async def _render_and_send(self, loop: asyncio.AbstractEventLoop, frames: list[MotionFrame]) -> None:
        if not frames:
            return
        newest = frames[-1].pts_s
        keep = [f for f in frames if newest - f.pts_s <= MAX_LAG_S or not self.params.realtime]
        self._skipped += len(frames) - len(keep)
        for frame in keep:
            message = await loop.run_in_executor(self._executor, self._encode, frame)
            await self._send_bytes(message)

    def _encode(self, frame: MotionFrame) -> bytes:
        image = self.session.renderer.render(frame.params)
        return encode_frame(frame.index, frame.pts_s, frame.ready_s, image, self.params.quality)

    # ------------------------------------------------------------------------------ sending

    async def _send_stats(self) -> None:
        now = time.monotonic()
        recent = [t for t in self._recent if now - t <= 2.0]
        fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 and recent[-1] > recent[0] else 0.0
        await self._send_json({"type": "stats", "sent": self._sent, "skipped": self._skipped,
                               "fps": round(fps, 2),
                               "audio_s": round(self.session.motion.samples_received / 16000, 3),
                               "backlog_s": round(self._queued_samples / self.params.rate, 3),
                               "realtime": self.params.realtime})

    async def _send_bytes(self, data: bytes) -> None:
        async with self._send_lock:
            await self.ws.send_bytes(data)
        self._sent += 1
        self._recent.append(time.monotonic())

    async def _send_json(self, message: dict) -> None:
        async with self._send_lock:
            await self.ws.send_text(json.dumps(message))

    async def _error(self, code: str, text: str) -> None:
        await self._send_json({"type": "error", "code": code, "message": text})


async def _settle(task: asyncio.Task) -> bool:
    """Wait for a task to end; True if it failed (raised something other than cancellation)."""
    try:
        await task
    except asyncio.CancelledError:
        return False
    except Exception:  # noqa: BLE001 - reported by the caller
        return True
    return False


class LiveMessageError(TalkingFaceError, ValueError):
    """A client message the session refuses; ``code`` is the ``error`` message's code (bad_json,
    bad_message, unknown_type, bad_control, too_large). The session goes on."""

    def __init__(self, code: str, message: str) -> None:
        self.code, self.message = code, message
        super().__init__(f"{code}: {message}")


MESSAGE_TYPES = ("control", "flush", "ping")
MESSAGE_DEPTH = 4
"""Deepest JSON nesting of a client message ({"type": "control", "gaze": [x, y]} is 2)."""


def parse_client_message(text: str, *, max_bytes: int) -> dict:
    """A client's JSON text message as a dict with a known "type"; LiveMessageError otherwise.
    Bounded by media.structured: at most ``max_bytes`` and MESSAGE_DEPTH levels, finite numbers."""
    size = len(text.encode("utf-8", "surrogatepass")) if len(text) * 4 > max_bytes else len(text)
    if size > max_bytes:
        raise LiveMessageError("too_large", f"text message of {size} bytes is larger than {max_bytes} bytes")
    try:
        message = parse_json(text, source="message", limits=Limits(max_bytes=max_bytes, max_depth=MESSAGE_DEPTH))
    except InputFileError as error:
        raise LiveMessageError("bad_json", f"not usable JSON: {error.problem}") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise LiveMessageError("bad_message", 'a message must be a JSON object with a "type"')
    if message["type"] not in MESSAGE_TYPES:
        raise LiveMessageError("unknown_type", f"unknown message type {show(message['type'])}; "
                                               f"expected {', '.join(MESSAGE_TYPES)}")
    return message


def control_changes(controls: StreamControls, message: dict) -> dict:
    """The changes a "control" message asks for, checked against ``controls`` (LiveMessageError
    "bad_control" naming the problem; the controls are left as they were)."""
    changes = {key: value for key, value in message.items() if key != "type"}
    unknown = set(changes) - set(StreamControls.__dataclass_fields__)
    if unknown:
        raise LiveMessageError("bad_control", f"unknown controls {show(sorted(unknown))}; known are "
                                              f"{sorted(StreamControls.__dataclass_fields__)}")
    if isinstance(changes.get("gaze"), list):
        changes["gaze"] = tuple(changes["gaze"])
    try:
        StreamControls(**{**_controls_dict(controls), **changes})
    except OptionError as error:
        raise LiveMessageError("bad_control", str(error)) from None
    return changes


def _controls_dict(controls: StreamControls) -> dict:
    return {"emotion": controls.emotion, "emotion_intensity": controls.emotion_intensity,
            "gaze": list(controls.gaze), "head_motion": controls.head_motion,
            "articulation": controls.articulation, "head_distance": controls.head_distance,
            "transition_s": controls.transition_s}


def _batched(items: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """Consecutive audio items joined into one (fewer, larger pushes when behind)."""
    out: list[tuple[str, object]] = []
    for kind, value in items:
        if kind == "audio" and out and out[-1][0] == "audio":
            out[-1] = ("audio", np.concatenate([out[-1][1], value]))  # type: ignore[list-item]
        else:
            out.append((kind, value))
    return out


def live_params(query: dict[str, str], *, max_size: int) -> LiveParams:
    """LiveParams from the URL query (strings); OptionError naming the bad parameter."""
    def number(name: str, kind: type, default: object) -> object:
        text = query.get(name)
        if text is None:
            return default
        if len(text) > 24:
            raise OptionError(name, text, "is too long for a number")
        try:
            value = kind(text)
        except ValueError:
            raise OptionError(name, text, f"must be a {kind.__name__}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise OptionError(name, text, "must be finite")
        return value

    defaults = LiveParams()
    params = LiveParams(
        portrait=query.get("portrait", defaults.portrait), fps=number("fps", float, defaults.fps),
        size=number("size", int, defaults.size), lookahead_ms=number("lookahead_ms", float, defaults.lookahead_ms),
        seed=number("seed", int, defaults.seed), quality=number("quality", int, defaults.quality),
        rate=number("rate", int, defaults.rate),
        realtime=query.get("realtime", "1").lower() not in ("0", "false", "no"))
    if params.size > max_size:
        raise OptionError("size", params.size, f"must be at most {max_size} px for live sessions")
    return params
