"""`talkingface batch` on a real local Ray runtime: good and bad rows, resume, a killed worker, an
interrupted run, and the server handing its jobs to Ray.

Ray is started once for the module (2 CPUs); run_batch joins that runtime. Portraits are a small
crop of the bundled example, audio is generated.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from talkingface.batch import BatchOptions, load_manifest, run_batch
from talkingface.cli import main
from talkingface.media import count_video_packets, load_image, probe_video, save_png
from tests.synthetic import write_wav

ray = pytest.importorskip("ray")
RATE = 16000
FPS = 20


@pytest.fixture(scope="module", autouse=True)
def ray_runtime():
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, portrait_path) -> Path:
    """A folder with face.png (288 px), blank.png (no face), speech.wav (1 s), long.wav (8 s), corrupt.wav."""
    folder = tmp_path_factory.mktemp("batch-inputs")
    save_png(folder / "face.png", np.ascontiguousarray(load_image(portrait_path)[:288, 112:400]))
    save_png(folder / "blank.png", np.full((128, 128, 3), 128, np.uint8))
    for name, seconds in (("speech.wav", 1.0), ("long.wav", 8.0)):
        t = np.arange(int(seconds * RATE)) / RATE
        write_wav(folder / name, (0.3 * np.sin(2 * np.pi * 150 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))))
    (folder / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(range(256)) * 4)
    return folder


def manifest(folder: Path, name: str, rows: list[str]) -> Path:
    path = folder / name
    path.write_text("portrait,audio,output,size,fps,seed,no-phonetic\n" + "\n".join(rows) + "\n")
    return path


def report(outdir: Path) -> dict[int, dict]:
    lines = (outdir / "batch-report.jsonl").read_text().splitlines()
    return {record["row"]: record for record in map(json.loads, lines)}


def assert_valid(video: Path, seconds: float, size: int = 64) -> None:
    info = probe_video(video)
    assert (info.width, info.height, info.fps, info.has_audio) == (size, size, FPS, True)
    assert count_video_packets(video) == round(seconds * FPS)


def leftovers(outdir: Path) -> list[str]:
    return [p.name for p in outdir.rglob("*") if ".tmp-" in p.name]


def test_good_and_bad_rows_then_a_rerun_skips_finished_jobs(inputs, tmp_path, capsys):
    jobs = manifest(inputs, "mixed.csv", [
        "face.png,speech.wav,a.mp4,64,20,1,true",
        "face.png,speech.wav,nested/b.mp4,64,20,2,true",
        "missing.png,speech.wav,c.mp4,64,20,1,true",
        "blank.png,speech.wav,d.mp4,64,20,1,true",
        "face.png,corrupt.wav,e.mp4,64,20,1,true",
    ])
    outdir = tmp_path / "out"
    assert main(["batch", str(jobs), "-o", str(outdir)]) == 1
    records = report(outdir)
    assert [records[row]["status"] for row in range(1, 6)] == ["ok", "ok", "failed", "failed", "failed"]
    assert_valid(outdir / "a.mp4", 1.0)
    assert_valid(outdir / "nested" / "b.mp4", 1.0)
    assert "missing.png" in records[3]["error"] and "no such file" in records[3]["error"]
    assert "blank.png" in records[4]["error"] and "no face" in records[4]["error"]
    assert "corrupt.wav" in records[5]["error"]
    assert records[1]["details"]["frames"] == FPS and records[1]["seconds"] > 0
    assert records[1]["details"]["threads"] == 1  # 2 CPUs, 2 jobs at once: each worker pinned to 1 thread
    assert not {"c.mp4", "d.mp4", "e.mp4"} & {p.name for p in outdir.iterdir()}
    assert not leftovers(outdir)
    err = capsys.readouterr().err
    assert "row 4 failed" in err and "blank.png" in err
    assert '"ok": 2, "failed": 3' in err and "batch:" in err  # the summary line and the progress bar

    made = (outdir / "a.mp4").stat().st_mtime_ns
    assert main(["batch", str(jobs), "-o", str(outdir), "--quiet"]) == 1
    records = report(outdir)
    assert [records[row]["status"] for row in range(1, 6)] == ["skipped", "skipped", "failed", "failed", "failed"]
    assert (outdir / "a.mp4").stat().st_mtime_ns == made

    (outdir / "a.mp4").write_bytes(b"not a video")  # a damaged output is rendered again
    only_good = manifest(inputs, "good.csv", ["face.png,speech.wav,a.mp4,64,20,1,true",
                                              "face.png,speech.wav,nested/b.mp4,64,20,2,true"])
    summary = run_batch(load_manifest(only_good), outdir, BatchOptions(progress=False))
    assert [o.status for o in summary.outcomes] == ["ok", "skipped"] and summary.succeeded
    assert_valid(outdir / "a.mp4", 1.0)


def ray_task_processes(name: str) -> list[int]:
    """Pids of Ray workers running a task called ``name`` (Ray titles them "ray::<task>")."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                command = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if command.split(b"\0")[0] == f"ray::{name}".encode():
                pids.append(int(entry))
    return pids


class WriterKiller(threading.Thread):
    """Once a job's video file is being written in ``outdir``, SIGKILL the worker running it (once)."""

    def __init__(self, outdir: Path) -> None:
        super().__init__(daemon=True)
        self.outdir, self.killed = outdir, []

    def run(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.outdir.is_dir() and leftovers(self.outdir):
                for pid in ray_task_processes("run_job")[:1]:
                    os.kill(pid, signal.SIGKILL)
                    self.killed.append(pid)
                return
            time.sleep(0.005)


def test_worker_killed_mid_job_is_retried_and_completes(inputs, tmp_path):
    jobs = manifest(inputs, "kill.csv", ["face.png,long.wav,k.mp4,128,20,3,true"])
    outdir = tmp_path / "out"
    killer = WriterKiller(outdir)
    killer.start()
    summary = run_batch(load_manifest(jobs), outdir, BatchOptions(retries=1, progress=False))
    killer.join()
    assert killer.killed, "the job finished before its worker could be killed"
    (outcome,) = summary.outcomes
    assert outcome.status == "ok", outcome.error
    assert_valid(outdir / "k.mp4", 8.0, size=128)
    assert not leftovers(outdir)


def test_without_retries_a_killed_worker_fails_only_its_job(inputs, tmp_path):
    jobs = manifest(inputs, "kill-once.csv", ["face.png,long.wav,k.mp4,128,20,3,true",
                                              "face.png,speech.wav,fine.mp4,64,20,1,true"])
    outdir = tmp_path / "out"
    killer = WriterKiller(outdir)
    killer.start()
    summary = run_batch(load_manifest(jobs), outdir, BatchOptions(workers=1, retries=0, progress=False))
    killer.join()
    assert killer.killed
    killed, fine = summary.outcomes
    assert (killed.status, fine.status) == ("failed", "ok") and not summary.succeeded
    assert "k.mp4" in killed.error and "1 attempt" in killed.error and "long.wav" in killed.error
    assert not (outdir / "k.mp4").exists() and not leftovers(outdir)
    assert_valid(outdir / "fine.mp4", 1.0)


def test_interrupted_run_leaves_no_partial_output_and_resumes(inputs, tmp_path):
    rows = [f"face.png,long.wav,i{n}.mp4,128,20,{n},true" for n in range(4)]
    jobs = manifest(inputs, "interrupt.csv", rows)
    outdir = tmp_path / "out"
    command = [sys.executable, "-m", "talkingface.cli", "batch", str(jobs), "-o", str(outdir), "--workers", "2",
               "--quiet"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while not (outdir.is_dir() and leftovers(outdir)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert leftovers(outdir), "no job started writing"
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "interrupted" in err
    assert not leftovers(outdir)
    records = report(outdir)
    assert "interrupted" in {record["status"] for record in records.values()}
    for record in records.values():  # whatever was finished is complete
        if record["status"] == "ok":
            assert_valid(Path(record["output"]), 8.0, size=128)
        else:
            assert not Path(record["output"]).exists()

    summary = run_batch(load_manifest(jobs), outdir, BatchOptions(progress=False))
    assert summary.succeeded and summary.counts["interrupted"] == 0
    for n in range(4):
        assert_valid(outdir / f"i{n}.mp4", 8.0, size=128)


def test_video_driven_rows_render_on_ray(inputs, tmp_path, avatar):
    from talkingface.motion.params import PARAMETER_INDEX, PARAMETERS, Motion
    from tests.synthetic import speech_like, write_rendered_video

    values = np.zeros((30, len(PARAMETERS)), np.float32)
    values[:, PARAMETER_INDEX["headPitch"]] = 8 * np.sin(np.linspace(0, 2 * np.pi, 30))
    write_rendered_video(tmp_path / "talk.mp4", avatar, Motion(fps=25.0, values=values), size=192,
                         audio=speech_like(1.2))
    jobs = tmp_path / "drive.jsonl"
    face = inputs / "face.png"
    jobs.write_text(json.dumps({"portrait": str(face), "drive": "talk.mp4", "regions": "head", "size": 64,
                                "fps": FPS, "no-phonetic": True}) + "\n")
    summary = run_batch(load_manifest(jobs), tmp_path / "out", BatchOptions(progress=False))
    (outcome,) = summary.outcomes
    assert outcome.status == "ok", outcome.error
    assert_valid(Path(outcome.output), 1.2)


def test_dub_rows_run_on_ray_beside_render_rows(inputs, tmp_path, avatar):
    from talkingface.motion.params import PARAMETER_INDEX, PARAMETERS, Motion
    from tests.synthetic import speech_like, write_rendered_video

    values = np.zeros((30, len(PARAMETERS)), np.float32)
    values[:, PARAMETER_INDEX["jawOpen"]] = 0.5 * np.clip(np.sin(np.linspace(0, 6 * np.pi, 30)), 0, None)
    write_rendered_video(tmp_path / "talk.mp4", avatar, Motion(fps=25.0, values=values), size=160,
                         audio=speech_like(1.2))
    jobs = tmp_path / "dub.jsonl"
    rows = [{"video": "talk.mp4", "audio": str(inputs / "speech.wav"), "no-phonetic": True, "extend": "hold"},
            {"portrait": str(inputs / "face.png"), "audio": str(inputs / "speech.wav"), "size": 64, "fps": FPS,
             "no-phonetic": True}]
    jobs.write_text("".join(json.dumps(row) + "\n" for row in rows))
    summary = run_batch(load_manifest(jobs), tmp_path / "out", BatchOptions(progress=False))
    dubbed, rendered = sorted(summary.outcomes, key=lambda outcome: outcome.row)
    assert dubbed.status == rendered.status == "ok", (dubbed.error, rendered.error)
    assert Path(dubbed.output).name == "talk-speech.mp4"
    info = probe_video(dubbed.output)
    assert (info.width, info.height, info.frame_count, info.has_audio) == (160, 160, 25, True)


def test_second_run_on_the_same_folder_is_refused(inputs, tmp_path):
    from talkingface.batch.outputs import OutputFolderBusy, output_folder_lock

    jobs = load_manifest(manifest(inputs, "busy.csv", ["face.png,speech.wav,a.mp4,64,20,1,true"]))
    tmp_path.joinpath("out").mkdir()
    with output_folder_lock(tmp_path / "out"), pytest.raises(OutputFolderBusy, match="another talkingface batch"):
        run_batch(jobs, tmp_path / "out", BatchOptions(progress=False))


def test_server_hands_render_jobs_to_ray(avatar, tmp_path):
    from tests.test_server import client_for, submit, wait_for

    client = client_for(avatar, tmp_path, ray_address="auto", job_workers=2)
    try:
        assert client.app.state.talkingface.ray_renderer is not None
        job = wait_for(client, submit(client, seconds=1.0, fps=str(FPS))["id"])
        assert job["state"] == "done", job
        assert job["done"] == job["total"] == FPS  # frame progress came back from the Ray worker
        video = tmp_path / "served.mp4"
        video.write_bytes(client.get(f"/api/jobs/{job['id']}/video").content)
        assert_valid(video, 1.0)
    finally:
        client.__exit__(None, None, None)
    assert ray.is_initialized()  # the server kept the connection it found


def test_render_motion_and_serve_do_not_import_ray():
    code = ("import sys, talkingface.cli, talkingface.server.app, talkingface.pipeline, talkingface.batch.manifest;"
            "talkingface.cli.build_parser(); assert 'ray' not in sys.modules, 'ray imported'")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
