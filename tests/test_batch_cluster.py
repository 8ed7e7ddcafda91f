"""`talkingface batch` on a multi-node Ray cluster (Ray's own test cluster: several raylets on this
machine): a node that disappears mid-job costs that job one retry, on another node."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from talkingface.batch import BatchOptions, load_manifest, run_batch
from talkingface.media import count_video_packets, load_image, probe_video, save_png
from tests.synthetic import write_wav
from tests.test_batch import ray_task_processes, leftovers

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")


@pytest.fixture(scope="module")
def cluster():
    """A head without CPUs and two 1-CPU nodes; the driver joins it by address, like --ray-address."""
    test_cluster = cluster_utils.Cluster(initialize_head=True,
                                         head_node_args={"num_cpus": 0, "include_dashboard": False})
    nodes = [test_cluster.add_node(num_cpus=1) for _ in range(2)]
    test_cluster.wait_for_nodes()
    ray.init(address=test_cluster.address, logging_level="ERROR", log_to_driver=False)
    yield test_cluster, nodes
    ray.shutdown()
    test_cluster.shutdown()


def test_node_lost_mid_job_the_job_is_retried_elsewhere(cluster, tmp_path, portrait_path):
    test_cluster, nodes = cluster
    save_png(tmp_path / "face.png", np.ascontiguousarray(load_image(portrait_path)[:288, 112:400]))
    t = np.arange(12 * 16000) / 16000
    write_wav(tmp_path / "long.wav", 0.3 * np.sin(2 * np.pi * 150 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)))
    (tmp_path / "jobs.csv").write_text("portrait,audio,output,size,no-phonetic\nface.png,long.wav,n.mp4,128,true\n")
    outdir = tmp_path / "out"
    removed = []

    def remove_the_busy_node() -> None:  # the raylet is the parent of the worker writing the video
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if outdir.is_dir() and leftovers(outdir):
                for pid in ray_task_processes("run_job"):
                    raylet = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
                    for node in nodes:
                        if node.all_processes["raylet"][0].process.pid == raylet:
                            test_cluster.remove_node(node)
                            removed.append(node)
                            return
                return
            time.sleep(0.005)

    remover = threading.Thread(target=remove_the_busy_node)
    remover.start()
    summary = run_batch(load_manifest(tmp_path / "jobs.csv"), outdir, BatchOptions(workers=1, progress=False))
    remover.join()
    assert removed, "the job finished before its node could be removed"
    (outcome,) = summary.outcomes
    assert outcome.status == "ok", outcome.error
    info = probe_video(outdir / "n.mp4")
    assert (info.width, info.fps) == (128, 25) and count_video_packets(outdir / "n.mp4") == 12 * 25
    assert not leftovers(outdir)
