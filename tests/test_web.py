"""The web page, end to end in headless Chromium: upload, render, play; live mode with a fake mic.

Needs Debian's chromium (/usr/bin/chromium) and the playwright Python package; skipped otherwise.
Never runs `playwright install`: the system browser is launched directly.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (Debian: apt-get install -y chromium)", allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

from talkingface.audio import SAMPLE_RATE, load_audio
from talkingface.server import ServerSettings
from talkingface.server.runner import BackgroundServer
from tests.synthetic import write_wav

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


def wait_until(page, expression: str, timeout: float = 30_000) -> None:
    """Poll a JavaScript expression until it is true. (Playwright's wait_for_function compiles its
    predicate inside the page, which the page's Content-Security-Policy rightly forbids.)"""
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        page.wait_for_timeout(50)


@pytest.fixture(scope="module")
def microphone_wav(tmp_path_factory, speech_path) -> Path:
    """The example speech as the fake microphone's input (Chromium loops it)."""
    samples = load_audio(speech_path).samples[: 8 * SAMPLE_RATE]
    return write_wav(tmp_path_factory.mktemp("mic") / "mic.wav", samples)


@pytest.fixture(scope="module")
def server(avatar, tmp_path_factory):
    settings = ServerSettings(port=0, data_dir=tmp_path_factory.mktemp("web"), max_sessions=2)
    with BackgroundServer(settings) as running:
        running.app.state.talkingface.portraits.add_avatar(avatar, "astronaut")
        yield running


@pytest.fixture(scope="module")
def browser(microphone_wav):
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=ARGS + [f"--use-file-for-fake-audio-capture={microphone_wav}"],
            env={**os.environ, "HOME": os.environ.get("HOME", "/tmp")})
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.url)
    page.wait_for_selector(".example.selected")
    yield page
    context.close()
    assert errors == []


def test_upload_render_and_play(page, portrait_path, speech_path, tmp_path):
    page.set_input_files("#portrait-file", str(portrait_path))
    wait_until(page, "document.getElementById('portrait-status').textContent.startsWith('Uploaded')")
    page.set_input_files("#audio-file", str(speech_path))
    page.select_option("#size", "256")
    page.uncheck("#phonetic")
    page.select_option("#emotion", "happy")
    page.click("#render")
    wait_until(page, "document.getElementById('job-status').textContent.startsWith('Done')", timeout=90_000)
    assert page.evaluate("document.getElementById('progress').value") == 1
    wait_until(page, "document.getElementById('result-video').readyState >= 2", timeout=20_000)
    duration = page.evaluate("document.getElementById('result-video').duration")
    assert duration == pytest.approx(load_audio(speech_path).duration_s, abs=0.2)
    page.evaluate("(() => { const v = document.getElementById('result-video'); v.muted = true; return v.play(); })()")
    wait_until(page, "document.getElementById('result-video').currentTime > 0.3", timeout=20_000)
    assert page.get_attribute("#download", "href").endswith("/video")
    page.screenshot(path=str(tmp_path / "render.png"), full_page=True)


def test_drive_with_a_video(page, avatar, tmp_path):
    """No speech: the driving video's soundtrack is used and the video's length is kept."""
    from talkingface.motion.params import PARAMETER_INDEX, PARAMETERS, Motion
    from tests.synthetic import speech_like, write_rendered_video

    values = np.zeros((30, len(PARAMETERS)), np.float32)
    values[:, PARAMETER_INDEX["headYaw"]] = 8 * np.sin(np.arange(30) / 5.0)
    video = write_rendered_video(tmp_path / "driver.mp4", avatar, Motion(25.0, values), size=160,
                                 audio=speech_like(1.2))
    page.click("#drive-panel summary")
    page.set_input_files("#drive-file", str(video))
    page.uncheck("#drive-regions input[value=lips]")
    page.select_option("#size", "256")
    page.uncheck("#phonetic")
    page.click("#render")
    wait_until(page, "document.getElementById('job-status').textContent.startsWith('Done')", timeout=90_000)
    wait_until(page, "document.getElementById('result-video').readyState >= 2", timeout=20_000)
    assert page.evaluate("document.getElementById('result-video').duration") == pytest.approx(1.2, abs=0.1)
    page.screenshot(path=str(tmp_path / "drive.png"), full_page=True)


def test_dub_a_video(page, avatar, tmp_path):
    """Upload speech and a video to dub: the dubbed video plays, as long as the speech."""
    from talkingface.motion.params import PARAMETER_INDEX, PARAMETERS, Motion
    from tests.synthetic import speech_like, write_rendered_video, write_wav

    values = np.zeros((40, len(PARAMETERS)), np.float32)
    values[:, PARAMETER_INDEX["jawOpen"]] = 0.5 * np.clip(np.sin(np.arange(40) / 2.0), 0, None)
    video = write_rendered_video(tmp_path / "dub-me.mp4", avatar, Motion(25.0, values), size=160,
                                 audio=speech_like(1.6))
    page.set_input_files("#audio-file", str(write_wav(tmp_path / "new.wav", speech_like(1.2, seed=3))))
    page.set_input_files("#dub-file", str(video))
    page.uncheck("#phonetic")
    page.click("#dub")
    wait_until(page, "document.getElementById('dub-job-status').textContent.startsWith('Done')", timeout=90_000)
    wait_until(page, "document.getElementById('dub-result-video').readyState >= 2", timeout=20_000)
    assert page.evaluate("document.getElementById('dub-result-video').duration") == pytest.approx(1.2, abs=0.1)
    page.screenshot(path=str(tmp_path / "dub.png"), full_page=True)


def test_live_mode_with_fake_microphone_produces_frames(page, tmp_path):
    page.select_option("#size", "256")
    page.click("#live-start")
    wait_until(page, "window.talkingface.live && window.talkingface.live.frames >= 40", timeout=30_000)
    page.select_option("#emotion", "surprised")  # a control message mid-stream
    wait_until(page, "window.talkingface.live.frames >= 60", timeout=30_000)
    live = page.evaluate("({frames: window.talkingface.live.frames, sent: window.talkingface.live.sentSamples,"
                         " latencies: window.talkingface.live.latencies})")
    assert live["sent"] > SAMPLE_RATE  # the microphone audio reached the server
    assert np.median(live["latencies"]) < 0.5
    pixels = page.evaluate("""(() => {
        const c = document.getElementById('live-canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let sum = 0; for (let i = 0; i < d.length; i += 4) sum += d[i];
        return [c.width, sum / (d.length / 4)]; })()""")
    assert pixels[0] == 256 and pixels[1] > 40  # a drawn face, not a black canvas
    assert "Live:" in page.inner_text("#live-stats")
    page.screenshot(path=str(tmp_path / "live.png"), full_page=True)
    shot_dir = os.environ.get("TALKINGFACE_SCREENSHOTS")
    if shot_dir:
        shutil.copy(tmp_path / "live.png", Path(shot_dir) / "live.png")
    # Frames still being decoded when the socket closes (the flush's last frames arrive just before
    # the close) must not put the live stats back over the end message: slow decoding down so that
    # several frames are in flight at the close, every time.
    page.evaluate("""(() => {
        const decode = window.createImageBitmap;
        window.pendingDecodes = 0;
        window.createImageBitmap = async (blob) => {
            window.pendingDecodes += 1;
            try { await new Promise((resolve) => setTimeout(resolve, 300)); return await decode(blob); }
            finally { window.pendingDecodes -= 1; }
        }; })()""")
    page.wait_for_timeout(400)
    page.click("#live-stop")
    # the server renders what is still queued before it closes; a loaded machine needs a while
    wait_until(page, "window.talkingface.live === null && window.pendingDecodes === 0", timeout=60_000)
    stats = page.inner_text("#live-stats")
    assert stats.startswith("Disconnected (flushed)"), stats


@pytest.fixture(scope="module")
def guarded_server(avatar, tmp_path_factory):
    settings = ServerSettings(port=0, data_dir=tmp_path_factory.mktemp("web-token"), token=TOKEN)
    with BackgroundServer(settings) as running:
        running.app.state.talkingface.portraits.add_avatar(avatar, "astronaut")
        yield running


TOKEN = "web-test-token-0123456789abcdef"


def test_page_asks_for_the_token_once_and_uses_it_everywhere(browser, guarded_server, portrait_path):
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.goto(guarded_server.url)
    page.wait_for_selector("#token-form:not([hidden])")
    page.fill("#token-input", "not-the-token-0123456789")
    page.click("#token-form button")
    wait_until(page, "document.getElementById('token-status').textContent.includes('not accepted')")
    problems.clear()  # the refused attempt logs its 401
    page.fill("#token-input", TOKEN)
    page.click("#token-form button")
    page.wait_for_selector(".example.selected")  # example list and image fetched with the token
    assert page.evaluate("document.querySelector('.example img').src").startswith("blob:")
    page.set_input_files("#portrait-file", str(portrait_path))
    wait_until(page, "document.getElementById('portrait-status').textContent.startsWith('Uploaded')")
    page.select_option("#size", "256")
    page.click("#live-start")  # the WebSocket carries the token as a subprotocol
    wait_until(page, "window.talkingface.live && window.talkingface.live.frames >= 10", timeout=30_000)
    page.click("#live-stop")
    wait_until(page, "window.talkingface.live === null", timeout=60_000)
    page.reload()  # asked once: the tab keeps the token
    page.wait_for_selector(".example.selected")
    assert page.is_hidden("#token-form")
    context.close()
    assert problems == []
