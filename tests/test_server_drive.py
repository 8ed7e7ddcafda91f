"""Server: motion capture of an uploaded video, and render jobs driven by a video."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("multipart")

from talkingface.motion.params import PARAMETER_INDEX, PARAMETERS, Motion
from tests.synthetic import speech_like, write_rendered_video
from tests.test_server import client_for, wait_for


@pytest.fixture(scope="module")
def client(avatar, tmp_path_factory):
    client = client_for(avatar, tmp_path_factory.mktemp("server-drive"), max_upload_bytes=3_000_000,
                        max_audio_s=30.0, job_workers=1)
    yield client
    client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def video_bytes(avatar, tmp_path_factory) -> bytes:
    values = np.zeros((40, len(PARAMETERS)), np.float32)
    values[:, PARAMETER_INDEX["headRoll"]] = 8 * np.sin(np.arange(40) / 6.0)
    path = tmp_path_factory.mktemp("video") / "talk.mp4"
    write_rendered_video(path, avatar, Motion(fps=25.0, values=values), size=160, audio=speech_like(1.6))
    return path.read_bytes()


def test_capture_endpoint_returns_the_motion_timeline(client, video_bytes):
    response = client.post("/api/capture", files={"video": ("talk.mp4", video_bytes, "video/mp4")})
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["format"] == "talkingface.motion" and document["fps"] == 25.0
    assert document["parameters"] == list(PARAMETERS) and len(document["frames"]) == 40
    roll = np.array(document["frames"])[:, PARAMETER_INDEX["headRoll"]]
    assert np.corrcoef(roll, np.sin(np.arange(40) / 6.0))[0, 1] > 0.9
    assert document["missing_spans"] == []


def test_capture_endpoint_refuses_what_is_not_a_video(client):
    response = client.post("/api/capture", files={"video": ("notes.mp4", b"hello", "video/mp4")})
    assert response.status_code == 400 and "notes.mp4" in response.json()["detail"]


def test_job_driven_by_a_video_uses_its_soundtrack(client, video_bytes):
    response = client.post("/api/jobs", data={"portrait_id": "astronaut", "size": "64", "phonetic": "false",
                                              "drive_regions": "head,eyes", "drive_strength": "0.9"},
                           files={"drive": ("talk.mp4", video_bytes, "video/mp4")})
    assert response.status_code == 202, response.text
    job = wait_for(client, response.json()["id"])
    assert job["state"] == "done", job
    assert job["total"] == 40


def test_job_without_audio_or_video_is_400(client):
    response = client.post("/api/jobs", data={"portrait_id": "astronaut"})
    assert response.status_code == 400 and "driving video" in response.json()["detail"]


def test_job_with_a_bad_region_is_400(client, video_bytes):
    response = client.post("/api/jobs", data={"portrait_id": "astronaut", "drive_regions": "head,tail"},
                           files={"drive": ("talk.mp4", video_bytes, "video/mp4")})
    assert response.status_code == 400 and "tail" in response.json()["detail"]
