"""Batch benchmark: 8 short render jobs via `talkingface batch` with 1 and 2 workers (local Ray runtime)
against `talkingface render` run 8 times in a row. Prints one JSON object. Run with `make bench-batch`.

Each job: the bundled portrait, a 4 s piece of the bundled speech, a 256 px crop, its own seed.
Times are wall-clock for the whole command (process start, Ray start, imports, portrait analysis
included), since that is what a user waits for. Memory: peak resident set of each Ray worker
process that ran jobs, of Ray's own processes together (with the progress actor), and of one
`talkingface render` process.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
JOBS, CLIP_S, SIZE = 8, 4.0, 256


def make_inputs(folder: Path) -> list[tuple[Path, Path, int]]:
    """(portrait, audio, seed) of each job: 4 pieces of the example speech x 2 seeds."""
    from talkingface.audio import load_audio

    sys.path.insert(0, str(ROOT))
    from tests.synthetic import write_wav

    speech = load_audio(EXAMPLES / "speech.ogg")
    clip = int(CLIP_S * speech.sample_rate)
    clips = [write_wav(folder / f"clip{i}.wav", speech.samples[i * clip:(i + 1) * clip]) for i in range(JOBS // 2)]
    return [(EXAMPLES / "astronaut.jpg", clips[i % len(clips)], i) for i in range(JOBS)]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "talkingface.cli", *args]


class RayMemory:
    """Samples /proc while a batch runs: peak RSS (MiB) of each Ray worker and of Ray's own processes."""

    SYSTEM = ("raylet", "gcs_server", "ray/_private", "ray/autoscaler", "ray/dashboard", "ray/util",
              "ray::ProgressBoard")

    def __init__(self) -> None:
        self.workers: dict[int, float] = {}
        self.system: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> RayMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.is_set():
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                peak = next((int(line.split()[1]) / 1024 for line in status.splitlines()
                             if line.startswith("VmHWM:")), 0.0)
                if command.startswith("ray::") and not command.startswith(("ray::IDLE", "ray::ProgressBoard")):
                    self.workers[int(pid)] = max(self.workers.get(int(pid), 0.0), peak)
                elif any(name in command for name in self.SYSTEM):
                    self.system[int(pid)] = max(self.system.get(int(pid), 0.0), peak)
            time.sleep(0.2)


def run_sequential(jobs: list[tuple[Path, Path, int]], out: Path) -> dict:
    start = time.perf_counter()
    for index, (portrait, audio, seed) in enumerate(jobs):
        subprocess.run(cli("render", str(portrait), str(audio), "-o", str(out / f"seq{index}.mp4"),
                           "--size", str(SIZE), "--seed", str(seed), "--quiet"), check=True)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": round(seconds, 2), "jobs_per_min": round(JOBS / seconds * 60, 2),
            "process_peak_rss_mb": round(peak_mb)}


def run_batch(jobs: list[tuple[Path, Path, int]], folder: Path, workers: int) -> dict:
    manifest = folder / f"jobs{workers}.csv"
    manifest.write_text("portrait,audio,output,size,seed\n" + "".join(
        f"{portrait},{audio},job{index}.mp4,{SIZE},{seed}\n" for index, (portrait, audio, seed) in enumerate(jobs)))
    outdir = folder / f"batch{workers}"
    start = time.perf_counter()
    with RayMemory() as memory:
        subprocess.run(cli("batch", str(manifest), "-o", str(outdir), "--workers", str(workers), "--quiet"),
                       check=True)
    seconds = time.perf_counter() - start
    report = [json.loads(line) for line in (outdir / "batch-report.jsonl").read_text().splitlines()]
    assert all(record["status"] == "ok" for record in report), report
    busy = sorted(memory.workers.values(), reverse=True)[:workers]
    return {"seconds": round(seconds, 2), "jobs_per_min": round(JOBS / seconds * 60, 2),
            "threads_per_job": max(1, (os.cpu_count() or 1) // workers),
            "render_seconds_per_job": round(sum(r["seconds"] for r in report) / len(report), 2),
            "worker_peak_rss_mb": [round(mb) for mb in busy],
            "ray_system_rss_mb": round(sum(memory.system.values()))}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="talkingface-bench-batch-") as name:
        folder = Path(name)
        jobs = make_inputs(folder)
        result = {
            "jobs": JOBS, "audio_s_per_job": CLIP_S, "size": SIZE,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "sequential_render": run_sequential(jobs, folder),
            "batch_1_worker": run_batch(jobs, folder, 1),
            "batch_2_workers": run_batch(jobs, folder, 2),
        }
    base = result["sequential_render"]["jobs_per_min"]
    for key in ("batch_1_worker", "batch_2_workers"):
        result[key]["speedup_vs_sequential"] = round(result[key]["jobs_per_min"] / base, 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
