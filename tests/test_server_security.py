"""The server facing a network: bearer token, Host/Origin allowlist, security headers, slow-client
timeouts, TLS, limits on what a client can send, and `serve` refusing bad settings before it
announces anything."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import ssl
import subprocess
import time

import httpx
import pytest

pytest.importorskip("fastapi")
from starlette.websockets import WebSocketDisconnect

from talkingface.audio.text import MAX_TRANSCRIPT_CHARS
from talkingface.cli import main
from talkingface.errors import OptionError
from talkingface.server import ServerSettings
from talkingface.server.live import CLOSE_POLICY
from talkingface.server.runner import BackgroundServer
from tests.test_server import client_for, pcm, receive_until_closed, wav_bytes

TOKEN = "s3cret-token-for-tests-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
LIVE = "ws://localhost/api/live?portrait=astronaut&size=64&realtime=0"


@pytest.fixture(scope="module")
def guarded(avatar, tmp_path_factory):
    client = client_for(avatar, tmp_path_factory.mktemp("guarded"), token=TOKEN,
                        allowed_hosts=("talk.example.org",), max_message_bytes=64_000)
    yield client
    client.__exit__(None, None, None)


# ------------------------------------------------------------------------------------- token

def test_api_requires_the_bearer_token(guarded):
    missing = guarded.get("/api/health")
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert guarded.get("/api/health", headers={"authorization": "Bearer wrong-token-0123456789"}).status_code == 401
    assert guarded.get("/api/health", headers={"authorization": TOKEN}).status_code == 401  # no scheme
    assert guarded.get("/api/health", headers=AUTH).json()["status"] == "ok"
    assert guarded.get("/api/jobs").status_code == 401
    assert guarded.post("/api/portraits", files={"portrait": ("a.jpg", b"x", "image/jpeg")}).status_code == 401
    # the page and its scripts hold no data: public, so that the page can ask for the token
    assert guarded.get("/").status_code == 200 and guarded.get("/static/app.js").status_code == 200


def test_live_session_requires_the_token_as_header_or_subprotocol(guarded):
    with pytest.raises(WebSocketDisconnect) as refused:
        with guarded.websocket_connect(LIVE) as ws:
            ws.receive_json()
    assert refused.value.code == CLOSE_POLICY
    with pytest.raises(WebSocketDisconnect):
        with guarded.websocket_connect(LIVE, subprotocols=["talkingface", "bearer.not-the-token-0123456789"]) as ws:
            ws.receive_json()
    with guarded.websocket_connect(LIVE, headers=AUTH) as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_text(json.dumps({"type": "flush"}))
        receive_until_closed(ws)
    with guarded.websocket_connect(LIVE, subprotocols=["talkingface", f"bearer.{TOKEN}"]) as ws:
        assert ws.accepted_subprotocol == "talkingface"  # browsers insist on getting one back
        assert ws.receive_json()["type"] == "ready"
        ws.send_text(json.dumps({"type": "flush"}))
        receive_until_closed(ws)


def test_listening_beyond_loopback_needs_a_token():
    with pytest.raises(OptionError, match="token"):
        ServerSettings(host="0.0.0.0")
    with pytest.raises(OptionError, match="token"):
        ServerSettings(host="192.168.1.20", token="short")
    assert ServerSettings(host="0.0.0.0", token=TOKEN).token == TOKEN
    assert ServerSettings(host="0.0.0.0", insecure_no_token=True).token is None
    assert ServerSettings(host="::1").token is None and ServerSettings(host="127.0.0.2").host == "127.0.0.2"
    assert TOKEN not in repr(ServerSettings(token=TOKEN))


def test_serve_refuses_a_public_address_without_token(capsys, monkeypatch):
    monkeypatch.delenv("TALKINGFACE_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "token" in err and "serving on" not in err and "Traceback" not in err


# ------------------------------------------------------------------------------------- hosts, headers

def test_forged_host_and_origin_are_refused(guarded):
    rebinding = {"host": "evil.example:8000", "origin": "http://evil.example:8000"}  # DNS rebinding pair
    assert guarded.get("/api/health", headers={**AUTH, **rebinding}).status_code == 400
    assert guarded.get("/", headers=rebinding).status_code == 400
    assert guarded.get("/api/health", headers={**AUTH, "host": "evil.example"}).status_code == 400
    assert guarded.get("/api/health", headers={**AUTH, "origin": "http://evil.example"}).status_code == 403
    for host in ("localhost:8000", "127.0.0.1", "[::1]:8000", "talk.example.org", "TALK.example.org:443"):
        assert guarded.get("/api/health", headers={**AUTH, "host": host}).status_code == 200, host
    with pytest.raises(WebSocketDisconnect) as refused:
        with guarded.websocket_connect("ws://evil.example/api/live?size=64", headers=AUTH) as ws:
            ws.receive_json()
    assert refused.value.code == CLOSE_POLICY


def test_security_headers(guarded):
    page = guarded.get("/")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["x-frame-options"] == "DENY"
    api = guarded.get("/api/health", headers=AUTH)
    assert api.headers["cache-control"] == "no-store" and api.headers["x-content-type-options"] == "nosniff"
    refused = guarded.get("/api/health")
    assert refused.headers["x-content-type-options"] == "nosniff"  # refusals too
    assert "frame-ancestors 'none'" in guarded.get("/docs").headers["content-security-policy"]


# ------------------------------------------------------------------------------------- slow clients

@pytest.fixture(scope="module")
def live_server(avatar, tmp_path_factory):
    settings = ServerSettings(port=0, data_dir=tmp_path_factory.mktemp("net"), header_timeout_s=1.0,
                              body_timeout_s=1.0, max_message_bytes=64_000)
    with BackgroundServer(settings) as running:
        running.app.state.talkingface.portraits.add_avatar(avatar, "astronaut")
        yield running


def _connect(server: BackgroundServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def test_headers_trickled_byte_by_byte_are_cut_off(live_server):
    started = time.monotonic()
    with _connect(live_server) as connection:
        request = b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 100
        closed = False
        for byte in request:
            try:
                connection.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            time.sleep(0.1)
            connection.settimeout(0.01)
            try:
                if connection.recv(1) == b"":
                    closed = True
                    break
            except (TimeoutError, BlockingIOError):
                pass
            except OSError:  # reset: closed too
                closed = True
                break
    assert closed and time.monotonic() - started < 5  # header_timeout_s = 1


def test_body_trickled_byte_by_byte_gets_408(live_server):
    started = time.monotonic()
    with _connect(live_server) as connection:
        connection.sendall(b"POST /api/portraits HTTP/1.1\r\nHost: localhost\r\nContent-Length: 200\r\n"
                           b"Content-Type: multipart/form-data; boundary=x\r\n\r\n--x\r\n")
        while time.monotonic() - started < 0.8:  # one byte every 0.2 s: never a long gap...
            connection.sendall(b"a")
            time.sleep(0.2)
        answer = b""  # ...but the whole body is not there within body_timeout_s = 1 s
        while chunk := connection.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert time.monotonic() - started < 6


def test_live_message_over_a_mebibyte_gets_too_large_and_the_session_goes_on(live_server):
    websockets = pytest.importorskip("websockets")

    async def session() -> list:
        url = f"ws://127.0.0.1:{live_server.port}/api/live?portrait=astronaut&size=64&realtime=0"
        async with websockets.connect(url, max_size=None) as ws:
            answers = [json.loads(await ws.recv())]
            await ws.send(b"\0" * (2 << 20))  # 2 MiB of audio
            await ws.send("[" * (1 << 20) + "]" * (1 << 20))  # 2 MiB of text
            answers += [json.loads(await ws.recv()), json.loads(await ws.recv())]
            await ws.send(json.dumps({"type": "ping", "t": 7}))
            answers.append(json.loads(await ws.recv()))
            await ws.send(pcm(0.2))
            await ws.send(json.dumps({"type": "flush"}))
            async for message in ws:
                if isinstance(message, str) and json.loads(message)["type"] == "end":
                    answers.append(json.loads(message))
            return answers

    ready, audio, text, pong, end = asyncio.run(asyncio.wait_for(session(), 60))
    assert ready["type"] == "ready"
    assert audio["code"] == "too_large" and text["code"] == "too_large"
    assert pong == {"type": "pong", "t": 7} and end["frames"] == 5


def test_deeply_nested_live_message_is_an_error_not_a_dead_session(live_server):
    websockets = pytest.importorskip("websockets")

    async def session() -> list:  # over a real socket, with a time limit: a dead session fails, not hangs
        url = f"ws://127.0.0.1:{live_server.port}/api/live?portrait=astronaut&size=64&realtime=0"
        async with websockets.connect(url) as ws:
            await ws.recv()  # ready
            await ws.send("[" * 30_000 + "]" * 30_000)
            await ws.send('{"type": "control", "gaze": ' + "[" * 20_000 + "]" * 20_000 + "}")
            await ws.send('{"type": "control", "head_motion": 1e999}')
            answers = [json.loads(await ws.recv()) for _ in range(3)]
            await ws.send(json.dumps({"type": "ping", "t": 1}))
            answers.append(json.loads(await ws.recv()))
            await ws.send(pcm(0.2))
            await ws.send(json.dumps({"type": "flush"}))
            frames = [m async for m in ws if isinstance(m, bytes)]
            return answers, len(frames), ws.close_code

    answers, frames, code = asyncio.run(asyncio.wait_for(session(), 60))
    assert [a.get("code") for a in answers[:3]] == ["bad_json", "bad_json", "bad_json"]
    assert answers[3] == {"type": "pong", "t": 1} and frames == 5 and code == 1000


# ------------------------------------------------------------------------------------- jobs

def test_one_sample_wav_is_400_before_a_job_is_queued(guarded):
    jobs = guarded.app.state.talkingface.jobs
    before = len(jobs.list())
    one = wav_bytes(1 / 16000)
    response = guarded.post("/api/jobs", headers=AUTH, data={"portrait_id": "astronaut", "phonetic": "false"},
                            files={"audio": ("click.wav", one, "audio/wav")})
    assert response.status_code == 400, response.text
    assert "click.wav" in response.json()["detail"] and "ms" in response.json()["detail"]
    assert len(jobs.list()) == before


def test_transcript_form_field_is_limited(guarded):
    response = guarded.post("/api/jobs", headers=AUTH,
                            data={"portrait_id": "astronaut", "transcript": "a" * (MAX_TRANSCRIPT_CHARS + 1)},
                            files={"audio": ("a.wav", wav_bytes(0.5), "audio/wav")})
    assert response.status_code == 400 and "transcript" in response.json()["detail"]


@pytest.mark.parametrize("field, value", [("fps", "nan"), ("fps", "inf"), ("head_motion", "nan"),
                                          ("gaze_x", "-inf"), ("emotion_intensity", "NaN")])
def test_non_finite_form_numbers_are_400(guarded, field, value):
    response = guarded.post("/api/jobs", headers=AUTH, data={"portrait_id": "astronaut", field: value},
                            files={"audio": ("a.wav", wav_bytes(0.5), "audio/wav")})
    assert response.status_code in (400, 422), response.text
    assert field.removesuffix("_x") in response.text


# ------------------------------------------------------------------------------------- serve

@pytest.mark.parametrize("argv, problem", [
    (["--max-upload-mb", "nan"], "finite"), (["--max-upload-mb", "inf"], "finite"),
    (["--max-upload-mb", "-1"], "max-upload-mb"), (["--max-audio-seconds", "nan"], "finite"),
    (["--data-dir", "/dev/null"], "not a folder"), (["--token", "short"], "token"),
    (["--ssl-certfile", "/nonexistent.pem", "--ssl-keyfile", "/nonexistent.key"], "nonexistent.pem"),
    (["--ssl-certfile", "/etc/hostname"], "certificate file and a key file"),
])
def test_serve_refuses_bad_settings_with_exit_2(argv, problem, capsys):
    code = exit_status(["serve", "--port", "0", *argv])
    err = capsys.readouterr().err
    assert code == 2 and problem in err and "Traceback" not in err and "serving on" not in err


def exit_status(argv: list[str]) -> int:
    """main's exit status, whether it returns it or argparse exits."""
    try:
        return main(argv)
    except SystemExit as exited:
        return exited.code


def test_serve_on_a_busy_port_fails_before_announcing(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        code = main(["serve", "--port", str(busy.getsockname()[1])])
    err = capsys.readouterr().err
    assert code == 2 and "cannot listen" in err and "serving on" not in err and "Traceback" not in err


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_tls_with_certificate_and_key(avatar, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=localhost", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    settings = ServerSettings(port=0, data_dir=tmp_path / "data", ssl_certfile=cert, ssl_keyfile=key)
    with BackgroundServer(settings) as running:
        assert running.url.startswith("https://")
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        response = httpx.get(f"https://localhost:{running.port}/api/health", verify=context)
        assert response.status_code == 200 and response.json()["status"] == "ok"
        with pytest.raises(httpx.HTTPError):  # plain HTTP is not spoken
            httpx.get(f"http://localhost:{running.port}/api/health", timeout=5)
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(OSError, match="TLS"):
        BackgroundServer(ServerSettings(port=0, ssl_certfile=bad, ssl_keyfile=bad)).__enter__()


def test_settings_refuse_non_finite_numbers():
    for name in ("max_audio_s", "job_ttl_s", "session_idle_s", "header_timeout_s", "body_timeout_s"):
        for value in (float("nan"), float("inf")):
            with pytest.raises(OptionError, match=name):
                ServerSettings(**{name: value})
    with pytest.raises(OptionError, match="max_upload_bytes"):
        ServerSettings(max_upload_bytes=float("nan"))

