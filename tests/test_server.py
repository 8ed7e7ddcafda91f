"""The server: REST jobs, limits, malformed input, job ids, the live WebSocket protocol."""

from __future__ import annotations

import io
import json
import time
import wave
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("multipart")
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from talkingface.errors import OptionError
from talkingface.server import ServerSettings, create_app
from talkingface.server.live import CLOSE_BUSY, CLOSE_IDLE, CLOSE_POLICY, CLOSE_UNKNOWN_PORTRAIT, decode_frame

RATE = 16000


def wav_bytes(seconds: float, *, level: float = 0.3, f0: float = 150.0, rate: int = RATE) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    samples = level * np.sin(2 * np.pi * f0 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes((samples * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def pcm(seconds: float, level: float = 0.3) -> bytes:
    t = np.arange(int(seconds * RATE)) / RATE
    return (level * np.sin(2 * np.pi * 150 * t) * 32767).astype("<i2").tobytes()


def client_for(avatar, tmp_path: Path | None = None, **settings) -> TestClient:
    """A started TestClient whose 'astronaut' portrait is the session's prepared avatar."""
    client = TestClient(create_app(ServerSettings(data_dir=tmp_path, **settings)), base_url="http://localhost")
    client.__enter__()
    client.app.state.talkingface.portraits.add_avatar(avatar, "astronaut")
    return client


@pytest.fixture(scope="module")
def client(avatar, tmp_path_factory):
    client = client_for(avatar, tmp_path_factory.mktemp("server"), max_upload_bytes=1_500_000,
                        max_audio_s=30.0, job_workers=1, max_queued_jobs=1, session_idle_s=5.0,
                        max_message_bytes=64_000)
    yield client
    client.__exit__(None, None, None)


def wait_for(client: TestClient, job_id: str, states=("done", "failed", "cancelled"), timeout=60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] in states:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job['state']} after {timeout} s")


def submit(client: TestClient, seconds: float = 1.0, **fields) -> dict:
    data = {"portrait_id": "astronaut", "size": "64", "phonetic": "false", **fields}
    response = client.post("/api/jobs", files={"audio": ("talk.wav", wav_bytes(seconds), "audio/wav")}, data=data)
    assert response.status_code == 202, response.text
    return response.json()


# ------------------------------------------------------------------------------------- basics

def test_openapi_page_and_static_files_are_served(client):
    schema = client.get("/openapi.json")
    assert schema.status_code == 200
    assert {"/api/jobs", "/api/jobs/{job_id}", "/api/portraits"} <= set(schema.json()["paths"])
    page = client.get("/")
    assert page.status_code == 200 and "talkingface" in page.text and "text/html" in page.headers["content-type"]
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/pcm-worklet.js").status_code == 200
    assert client.get("/api/health").json()["status"] == "ok"


def test_render_job_end_to_end(client):
    job = submit(client, 1.0, emotion="happy", emotion_intensity="0.5")
    done = wait_for(client, job["id"])
    assert done["state"] == "done", done
    assert done["progress"] == 1.0 and done["total"] == 25
    video = client.get(f"/api/jobs/{job['id']}/video")
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp"
    assert job["id"] in [j["id"] for j in client.get("/api/jobs").json()]
    folder = client.app.state.talkingface.jobs.root / job["id"]
    assert folder.is_dir()
    assert client.delete(f"/api/jobs/{job['id']}").status_code == 204
    assert client.get(f"/api/jobs/{job['id']}").status_code == 404
    assert not folder.exists()


def test_job_with_uploaded_portrait_file(client, portrait_path):
    response = client.post("/api/jobs", data={"size": "64", "phonetic": "false"},
                           files={"audio": ("a.wav", wav_bytes(0.5), "audio/wav"),
                                  "portrait": ("me.jpg", portrait_path.read_bytes(), "image/jpeg")})
    assert response.status_code == 202, response.text
    assert wait_for(client, response.json()["id"])["state"] == "done"


# ------------------------------------------------------------------------------------- limits

def test_too_big_upload_is_413(client):
    big = b"\0" * 1_600_000
    response = client.post("/api/portraits", files={"portrait": ("big.jpg", big, "image/jpeg")})
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    response = client.post("/api/jobs", files={"audio": ("big.wav", big, "audio/wav")}, data={"portrait_id": "astronaut"})
    assert response.status_code == 413


def test_chunked_upload_without_length_is_refused(client):
    def body():
        yield b"--x\r\n"

    response = client.post("/api/portraits", content=body(), headers={"content-type": "multipart/form-data; boundary=x"})
    assert response.status_code == 411


def test_bad_image_is_400_naming_the_problem(client):
    response = client.post("/api/portraits", files={"portrait": ("holiday.png", b"not an image", "image/png")})
    assert response.status_code == 400
    assert "holiday.png" in response.json()["detail"] and "not an image" in response.json()["detail"]
    blank = cv2.imencode(".png", np.full((120, 120, 3), 128, np.uint8))[1].tobytes()
    response = client.post("/api/portraits", files={"portrait": ("wall.png", blank, "image/png")})
    assert response.status_code == 400 and "no face" in response.json()["detail"]
    empty = client.post("/api/portraits", files={"portrait": ("empty.png", b"", "image/png")})
    assert empty.status_code == 400 and "empty" in empty.json()["detail"]


def test_image_pixel_limit(avatar, tmp_path):
    client = client_for(avatar, tmp_path, max_image_pixels=10_000)
    try:
        image = cv2.imencode(".png", np.zeros((200, 200, 3), np.uint8))[1].tobytes()
        response = client.post("/api/portraits", files={"portrait": ("big.png", image, "image/png")})
        assert response.status_code == 400 and "pixels" in response.json()["detail"]
    finally:
        client.__exit__(None, None, None)


def test_bad_audio_is_400_naming_the_problem(client):
    def post(name: str, data: bytes):
        return client.post("/api/jobs", data={"portrait_id": "astronaut", "phonetic": "false"},
                           files={"audio": (name, data, "audio/wav")})

    garbage = post("noise.wav", b"RIFF....garbage")
    assert garbage.status_code == 400 and "noise.wav" in garbage.json()["detail"]
    silent = post("quiet.wav", wav_bytes(1.0, level=0.0))
    assert silent.status_code == 400 and "silent" in silent.json()["detail"]
    long = post("long.wav", wav_bytes(35.0, level=0.01, rate=8000))
    assert long.status_code == 400 and "longer than" in long.json()["detail"]
    jobs = client.app.state.talkingface.jobs
    known = {job.id for job in jobs.list()}
    assert {folder.name for folder in jobs.root.iterdir()} <= known  # refused uploads left nothing


def test_bad_options_and_missing_portrait_are_400_or_404(client):
    def post(**data):
        return client.post("/api/jobs", data=data, files={"audio": ("a.wav", wav_bytes(0.5), "audio/wav")})

    assert post(portrait_id="astronaut", fps="0").status_code == 400
    assert "size" in post(portrait_id="astronaut", size="9999").json()["detail"]
    assert "emotion" in post(portrait_id="astronaut", emotion="smug").json()["detail"]
    assert post().status_code == 400
    assert post(portrait_id="nobody").status_code == 404
    assert post(portrait_id="astronaut", size="abc").status_code == 422  # FastAPI's own validation


@pytest.mark.parametrize("path", [
    "/api/jobs/..%2F..%2Fetc%2Fpasswd", "/api/jobs/%2e%2e", "/api/jobs/..", "/api/jobs/ABCDEF",
    "/api/jobs/0123456789abcdef0123456789abcdeg", "/api/jobs/0123456789ABCDEF0123456789ABCDEF",
    "/api/jobs/%2Fetc%2Fpasswd/video", "/api/jobs/..%5C..%5Cwindows/video",
])
def test_job_ids_cannot_reach_outside_the_job_folder(client, path):
    for method in ("get", "delete"):
        response = getattr(client, method)(path)
        assert response.status_code in (400, 404, 405), (method, path, response.status_code)
    assert client.get(path).status_code in (400, 404)


def test_unknown_job_is_404(client):
    unknown = "0123456789abcdef0123456789abcdef"
    assert client.get(f"/api/jobs/{unknown}").status_code == 404
    assert client.get(f"/api/jobs/{unknown}/video").status_code == 404
    assert client.post(f"/api/jobs/{unknown}/cancel").status_code == 404
    assert client.get("/api/jobs/not-hex").json()["detail"].startswith("invalid job id")


def test_cancel_queued_and_running_jobs_and_queue_limit(client):
    running = submit(client, 18.0, size="256")
    queued = submit(client, 1.0)
    full = client.post("/api/jobs", data={"portrait_id": "astronaut", "phonetic": "false"},
                       files={"audio": ("a.wav", wav_bytes(0.5), "audio/wav")})
    assert full.status_code == 503 and "queue is full" in full.json()["detail"]
    assert client.post(f"/api/jobs/{queued['id']}/cancel").json()["state"] == "cancelled"
    wait_for(client, running["id"], states=("running",))
    state = client.post(f"/api/jobs/{running['id']}/cancel").json()["state"]
    assert state in ("running", "cancelled")
    assert wait_for(client, running["id"])["state"] == "cancelled"
    assert client.get(f"/api/jobs/{running['id']}/video").status_code == 409
    jobs_root = client.app.state.talkingface.jobs.root
    assert not (jobs_root / running["id"]).exists() and not (jobs_root / queued["id"]).exists()


def test_temporary_files_are_removed_at_shutdown(avatar):
    client = client_for(avatar)
    root = client.app.state.talkingface.root
    job = submit(client, 0.5)
    wait_for(client, job["id"])
    assert root.is_dir()
    client.__exit__(None, None, None)
    assert not root.exists()


def test_cross_origin_browser_requests_are_refused(client):
    evil = {"origin": "http://evil.example"}
    response = client.post("/api/jobs", headers=evil, data={"portrait_id": "astronaut"},
                           files={"audio": ("a.wav", wav_bytes(0.5), "audio/wav")})
    assert response.status_code == 403
    assert client.get("/api/health", headers=evil).status_code == 403  # pages of other sites: nothing at all
    with pytest.raises(WebSocketDisconnect) as closed:
        with client.websocket_connect("ws://localhost/api/live?size=64", headers=evil) as ws:
            ws.receive_json()
    assert closed.value.code == CLOSE_POLICY
    same = {"origin": "http://localhost"}
    with client.websocket_connect("ws://localhost/api/live?portrait=astronaut&size=64", headers=same) as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_text(json.dumps({"type": "flush"}))
        receive_until_closed(ws)


def test_settings_are_validated():
    with pytest.raises(OptionError, match="max_sessions"):
        ServerSettings(max_sessions=0)
    with pytest.raises(OptionError, match="port"):
        ServerSettings(port=70000)
    assert ServerSettings().host == "127.0.0.1"


# ------------------------------------------------------------------------------------- live

def receive_until_closed(ws) -> tuple[list[tuple[int, float, bytes]], list[dict], int]:
    """(frames, json messages, close code) until the server closes."""
    frames, messages = [], []
    while True:
        message = ws.receive()
        if message["type"] == "websocket.close":
            return frames, messages, message["code"]
        if message.get("bytes") is not None:
            index, pts, _, jpeg = decode_frame(message["bytes"])
            frames.append((index, pts, jpeg))
        else:
            messages.append(json.loads(message["text"]))


def assert_session_goes_on(ws, audio: bytes, frames: int) -> None:
    """After errors, the session still answers a ping, takes audio and flushes the frames it makes."""
    ws.send_text(json.dumps({"type": "ping", "t": 1}))
    assert ws.receive_json() == {"type": "pong", "t": 1}
    ws.send_bytes(audio)
    ws.send_text(json.dumps({"type": "flush"}))
    received, _, code = receive_until_closed(ws)
    assert code == 1000 and len(received) == frames


def test_live_session_streams_frames_and_applies_controls(client):
    with client.websocket_connect("ws://localhost/api/live?portrait=astronaut&size=64&realtime=0") as ws:
        ready = ws.receive_json()
        assert ready["type"] == "ready" and ready["size"] == 64 and ready["fps"] == 25
        audio = pcm(1.0)
        for start in range(0, len(audio), 640):
            ws.send_bytes(audio[start:start + 640])
        ws.send_text(json.dumps({"type": "control", "emotion": "happy", "emotion_intensity": 0.5}))
        ws.send_bytes(pcm(0.5, level=0.0))
        ws.send_text(json.dumps({"type": "flush"}))
        frames, messages, code = receive_until_closed(ws)
    assert code == 1000
    assert [f[0] for f in frames] == list(range(38))
    image = cv2.imdecode(np.frombuffer(frames[-1][2], np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (64, 64, 3)
    kinds = [m["type"] for m in messages]
    assert "controls" in kinds and kinds[-1] == "end"
    assert messages[kinds.index("controls")]["controls"]["emotion"] == "happy"


def test_malformed_messages_get_errors_and_the_session_continues(client):
    with client.websocket_connect("ws://localhost/api/live?portrait=astronaut&size=64&realtime=0") as ws:
        ws.receive_json()
        bad = ["{not json", json.dumps([1, 2]), json.dumps({"kind": "x"}), json.dumps({"type": "dance"}),
               json.dumps({"type": "control", "emotion": "smug"}),
               json.dumps({"type": "control", "gaze": [5, 0]}), json.dumps({"type": "control", "volume": 1})]
        for text in bad:
            ws.send_text(text)
        ws.send_bytes(b"\x01\x02\x03")  # odd number of bytes: not PCM16
        ws.send_bytes(b"\0" * 70_000)  # larger than max_message_bytes
        codes = [ws.receive_json()["code"] for _ in range(len(bad) + 2)]
        assert codes == ["bad_json", "bad_message", "bad_message", "unknown_type", "bad_control", "bad_control",
                         "bad_control", "bad_audio", "too_large"]
        assert_session_goes_on(ws, pcm(0.4), frames=10)


def test_sessions_beyond_the_limit_are_closed_with_1013(avatar):
    client = client_for(avatar, max_sessions=1)
    try:
        with client.websocket_connect("ws://localhost/api/live?portrait=astronaut&size=64") as first:
            assert first.receive_json()["type"] == "ready"
            with client.websocket_connect("ws://localhost/api/live?portrait=astronaut&size=64") as second:
                error = second.receive_json()
                assert error["type"] == "error" and error["code"] == "busy"
                with pytest.raises(WebSocketDisconnect) as closed:
                    second.receive_json()
                assert closed.value.code == CLOSE_BUSY
            first.send_text(json.dumps({"type": "flush"}))
            receive_until_closed(first)
        with client.websocket_connect("ws://localhost/api/live?portrait=astronaut&size=64") as again:  # the slot is free
            assert again.receive_json()["type"] == "ready"
    finally:
        client.__exit__(None, None, None)


@pytest.mark.parametrize("query, code", [
    ("portrait=nobody", CLOSE_UNKNOWN_PORTRAIT), ("portrait=../../etc/passwd", CLOSE_UNKNOWN_PORTRAIT),
    ("size=4000", CLOSE_POLICY), ("fps=0", CLOSE_POLICY), ("lookahead_ms=abc", CLOSE_POLICY),
    ("quality=5", CLOSE_POLICY),
])
def test_bad_session_parameters_close_with_a_reason(client, query, code):
    with client.websocket_connect(f"ws://localhost/api/live?{query}") as ws:
        assert ws.receive_json()["type"] == "error"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == code


def test_idle_sessions_are_closed(avatar):
    client = client_for(avatar, session_idle_s=0.3)
    try:
        with client.websocket_connect("ws://localhost/api/live?portrait=astronaut&size=64&realtime=0") as ws:
            ws.receive_json()
            _, messages, code = receive_until_closed(ws)
        assert code == CLOSE_IDLE and messages[-1]["code"] == "idle"
    finally:
        client.__exit__(None, None, None)


def test_realtime_session_keeps_the_face_moving_without_audio(client):
    with client.websocket_connect("ws://localhost/api/live?portrait=astronaut&size=64") as ws:
        ws.receive_json()
        frames = []
        deadline = time.monotonic() + 10
        while len(frames) < 5 and time.monotonic() < deadline:
            message = ws.receive()
            if message.get("bytes") is not None:
                frames.append(decode_frame(message["bytes"]))
        ws.send_text(json.dumps({"type": "flush"}))
        receive_until_closed(ws)
    assert len(frames) == 5


def test_serve_command_builds_settings(monkeypatch, tmp_path):
    import argparse

    import talkingface.server as server_package
    from talkingface.server.cli import add_serve_command

    parser = argparse.ArgumentParser(prog="talkingface")
    add_serve_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["serve", "--port", "8123", "--max-sessions", "3", "--data-dir", str(tmp_path)])
    seen = []
    monkeypatch.setattr(server_package, "serve", lambda settings, **_: seen.append(settings))
    assert args.run(args) == 0
    assert seen[0].host == "127.0.0.1" and seen[0].port == 8123 and seen[0].max_sessions == 3
    assert seen[0].data_dir == tmp_path
    bad = parser.parse_args(["serve", "--max-sessions", "0"])
    with pytest.raises(OptionError, match="max_sessions"):
        bad.run(bad)
