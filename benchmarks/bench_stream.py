"""Streaming benchmark: prints one JSON object.

1. ``latency``: one in-process StreamSession fed 20 ms chunks paced in real time (as a microphone
   would), rendering every frame at 25 fps 512² and JPEG-encoding it; latency of a frame = wall
   time it is ready - wall time the audio sample at its timestamp was pushed.
2. ``memory``: a long synthetic stream (speech-like bursts and pauses) through MotionStream (no
   rendering, 1 s chunks): tracemalloc growth and RSS growth; plus a few minutes with rendering.
3. ``load``: a loopback load test (127.0.0.1 only, bounded): N concurrent WebSocket clients each
   stream real-time PCM16 in 20 ms chunks; per-session fps and latency percentiles (send time of the
   chunk holding a frame's timestamp -> arrival of that frame); N grows until a session no longer
   keeps real time (fps < 90 % of the target or p90 latency > 200 ms) or max N is reached.

    python benchmarks/bench_stream.py [--quick] [--size 512] [--max-sessions 6]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
RATE = 16000
CHUNK = 320  # 20 ms


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p90/p99/max of values in seconds, reported in ms."""
    if not values:
        return {}
    array = np.asarray(values) * 1000
    return {"p50_ms": round(float(np.percentile(array, 50)), 1), "p90_ms": round(float(np.percentile(array, 90)), 1),
            "p99_ms": round(float(np.percentile(array, 99)), 1), "max_ms": round(float(array.max()), 1)}


def speech_samples() -> np.ndarray:
    from talkingface.audio import load_audio

    return load_audio(EXAMPLES / "speech.ogg").samples


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


# ------------------------------------------------------------------------------------- 1. latency

def bench_latency(avatar, samples: np.ndarray, *, size: int, fps: float, lookahead_s: float, seconds: float) -> dict:
    import cv2

    from talkingface.motion.params import PARAMETERS
    from talkingface.stream import StreamOptions, StreamSession

    session = StreamSession(avatar, StreamOptions(size=size, fps=fps, lookahead_s=lookahead_s))
    session.renderer.render(np.zeros(len(PARAMETERS), np.float32))  # warm-up (numba, caches)
    total = int(seconds * RATE)
    audio = np.resize(samples, total)
    start = time.perf_counter() + 0.05
    latencies, compute = [], []
    frames = 0
    for offset in range(0, total, CHUNK):
        due = start + (offset + CHUNK) / RATE  # the chunk is complete (recorded) at this wall time
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        begin = time.perf_counter()
        for frame in session.push(audio[offset:offset + CHUNK]):
            cv2.imencode(".jpg", frame.image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 80])
            ready = time.perf_counter()
            pushed = start + (np.floor(frame.pts_s * RATE / CHUNK) + 1) * CHUNK / RATE  # chunk holding pts
            latencies.append(ready - pushed)
            frames += 1
        compute.append(time.perf_counter() - begin)
    elapsed = time.perf_counter() - start
    return {"size": size, "fps_target": fps, "lookahead_ms": lookahead_s * 1000, "seconds": seconds,
            "frames": frames, "fps": round(frames / elapsed, 2),
            "algorithmic_latency_ms": round(session.motion.latency_s * 1000, 1),
            "latency": percentiles(latencies),
            "cpu_per_audio_second": round(sum(compute) / seconds, 3)}


# ------------------------------------------------------------------------------------- 2. memory

def synthetic_speech(seconds: float) -> np.ndarray:
    """10 s pattern of voiced bursts (varying pitch) and pauses, tiled."""
    t = np.arange(10 * RATE) / RATE
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 15)) * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t) ** 2)
    envelope = ((t % 5) < 3.2).astype(float)
    pattern = (0.08 * voiced * envelope + np.random.default_rng(0).normal(0, 3e-4, t.size)).astype(np.float32)
    return np.resize(pattern, int(seconds * RATE))


def bench_memory(avatar, *, motion_minutes: float, render_minutes: float, size: int) -> dict:
    from talkingface.stream import MotionStream, StreamOptions, StreamSession

    pattern = synthetic_speech(10.0)
    stream = MotionStream()
    chunk = RATE
    seconds = int(motion_minutes * 60)
    gc.collect()
    rss_start = rss_mb()
    tracemalloc.start()
    traced_after_minute = None
    begin = time.perf_counter()
    frames = 0
    for second in range(seconds):
        frames += len(stream.push(pattern[(second % 10) * chunk:(second % 10 + 1) * chunk]))
        if second == 59:
            gc.collect()
            traced_after_minute = tracemalloc.get_traced_memory()[0]
    elapsed = time.perf_counter() - begin
    gc.collect()
    traced_end, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    motion = {"audio_minutes": motion_minutes, "frames": frames, "seconds": round(elapsed, 1),
              "realtime_factor": round(seconds / elapsed, 1),
              "traced_growth_after_first_minute_kb": round((traced_end - (traced_after_minute or 0)) / 1024, 1),
              "traced_peak_kb": round(traced_peak / 1024, 1),
              "rss_growth_mb": round(rss_mb() - rss_start, 2)}
    session = StreamSession(avatar, StreamOptions(size=size))
    session.push(pattern[:RATE])
    gc.collect()
    rss_before = rss_mb()
    rendered = 0
    for second in range(int(render_minutes * 60)):
        rendered += len(session.push(pattern[(second % 10) * chunk:(second % 10 + 1) * chunk]))
    gc.collect()
    render = {"audio_minutes": render_minutes, "size": size, "frames": rendered,
              "rss_growth_mb": round(rss_mb() - rss_before, 2)}
    return {"motion_only": motion, "rendering": render,
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


# ------------------------------------------------------------------------------------- 3. load

async def live_client(url: str, audio: np.ndarray, seconds: float, fps: float) -> dict:
    """One real-time client: stream PCM16 in 20 ms chunks; collect frame arrival latencies."""
    import websockets

    from talkingface.server.live import decode_frame

    pcm = (np.clip(np.resize(audio, int(seconds * RATE)), -1, 1) * 32767).astype("<i2")
    latencies: list[float] = []
    counts = {"frames": 0, "errors": 0}
    async with websockets.connect(url, max_size=2 ** 24) as ws:
        ready = json.loads(await ws.recv())
        if ready.get("type") != "ready":
            return {"refused": ready}
        start = time.perf_counter()

        async def receive() -> None:
            async for message in ws:
                if isinstance(message, bytes):
                    _, pts, _, _ = decode_frame(message)
                    now = time.perf_counter()
                    pushed = start + (np.floor(pts * RATE / CHUNK) + 1) * CHUNK / RATE
                    if pts * RATE < pcm.size:
                        latencies.append(now - pushed)
                        counts["frames"] += 1
                elif json.loads(message).get("type") == "error":
                    counts["errors"] += 1

        receiver = asyncio.create_task(receive())
        for offset in range(0, pcm.size, CHUNK):
            delay = start + (offset + CHUNK) / RATE - time.perf_counter()  # when a mic has the chunk
            if delay > 0:
                await asyncio.sleep(delay)
            await ws.send(pcm[offset:offset + CHUNK].tobytes())
        elapsed = time.perf_counter() - start
        await ws.send(json.dumps({"type": "flush"}))
        try:
            await asyncio.wait_for(receiver, timeout=30)
        except TimeoutError:
            receiver.cancel()
    return {"frames": counts["frames"], "fps": round(counts["frames"] / elapsed, 2),
            "expected_frames": int(seconds * fps), "errors": counts["errors"], "latency": percentiles(latencies)}


async def load_level(base: str, sessions: int, audio: np.ndarray, seconds: float, size: int, fps: float) -> list[dict]:
    url = f"{base}/api/live?portrait=astronaut&size={size}&fps={fps}"
    return await asyncio.gather(*(live_client(url, np.roll(audio, 8000 * i), seconds, fps) for i in range(sessions)))


def bench_load(avatar, audio: np.ndarray, *, max_sessions: int, seconds: float, size: int, fps: float) -> dict:
    from talkingface.server import ServerSettings
    from talkingface.server.runner import BackgroundServer

    settings = ServerSettings(host="127.0.0.1", port=0, max_sessions=max_sessions, session_idle_s=30)
    levels = []
    breaking_point = None
    with BackgroundServer(settings) as server:
        server.app.state.talkingface.portraits.add_avatar(avatar, "astronaut")
        base = server.url.replace("http://", "ws://")
        for n in range(1, max_sessions + 1):
            results = asyncio.run(load_level(base, n, audio, seconds, size, fps))
            fps_min = min(r.get("fps", 0.0) for r in results)
            p90_max = max(r.get("latency", {}).get("p90_ms", 1e9) for r in results)
            realtime = fps_min >= 0.9 * fps and p90_max <= 200
            levels.append({"sessions": n, "keeps_realtime": realtime, "min_fps": fps_min,
                           "max_p90_latency_ms": p90_max, "per_session": results})
            if not realtime:
                breaking_point = n
                break
    return {"size": size, "fps_target": fps, "seconds_per_level": seconds, "levels": levels,
            "max_realtime_sessions": (breaking_point - 1) if breaking_point else max_sessions,
            "stops_keeping_realtime_at": breaking_point}


# ------------------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter runs (about 1 minute in all)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--lookahead-ms", type=float, default=60.0)
    parser.add_argument("--max-sessions", type=int, default=6, help="upper bound of the load test")
    parser.add_argument("--skip", nargs="*", default=[], choices=["latency", "memory", "load"])
    args = parser.parse_args(argv)
    os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")
    from talkingface.pipeline import prepare_avatar

    avatar = prepare_avatar(EXAMPLES / "astronaut.jpg")
    audio = speech_samples()
    report: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "processor": platform.processor() or platform.machine(),
                                "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}}
    if "latency" not in args.skip:
        seconds = 10.0 if args.quick else 30.0
        report["latency"] = [bench_latency(avatar, audio, size=args.size, fps=args.fps, lookahead_s=la / 1000,
                                           seconds=seconds)
                             for la in sorted({args.lookahead_ms, 80.0})]
    if "memory" not in args.skip:
        report["memory"] = bench_memory(avatar, motion_minutes=10 if args.quick else 60,
                                        render_minutes=0.5 if args.quick else 3, size=args.size)
    if "load" not in args.skip:
        report["load"] = bench_load(avatar, audio, max_sessions=args.max_sessions,
                                    seconds=6.0 if args.quick else 12.0, size=args.size, fps=args.fps)
    report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]  # other work skews timings
    json.dump(report, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
