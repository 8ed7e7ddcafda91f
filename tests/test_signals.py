"""SIGTERM and SIGINT (Ctrl-C) during a command: one line, exit 143 / 130, nothing left behind.

Real `talkingface render` and `talkingface serve` processes are started and signalled mid-work;
`run_command` is also exercised in-process with a stand-in command, as any new subcommand runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from talkingface.cli import run_command
from talkingface.media import atomic_output

EXIT = {signal.SIGTERM: 143, signal.SIGINT: 130}


def start(argv: list[str], **env: str) -> subprocess.Popen:
    """The CLI in a child process, with SIGINT at its default (a test runner may ignore it)."""
    return subprocess.Popen([sys.executable, "-m", "talkingface.cli", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **env},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for(condition, timeout: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"exited early ({process.returncode}): {process.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("timed out waiting for the process")
        time.sleep(0.05)


def check_stopped(process: subprocess.Popen, signum: int) -> str:
    _, err = process.communicate(timeout=60)
    assert process.returncode == EXIT[signum], err[-2000:]
    assert "Traceback" not in err, err[-2000:]
    assert err.strip().splitlines()[-1] == f"talkingface: stopped by {signal.Signals(signum).name}"
    return err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_render_leaves_nothing(tmp_path, portrait_path, speech_path, signum):
    out = tmp_path / "out"
    out.mkdir()
    process = start(["render", str(portrait_path), str(speech_path), "-o", str(out / "talk.mp4"), "--size", "384",
                     "--fps", "30", "--no-phonetic", "--quiet"])
    wait_for(lambda: any(out.iterdir()), 120, process)  # the hidden temporary video exists: rendering
    time.sleep(0.3)
    assert process.poll() is None, "the render finished before it could be interrupted"
    process.send_signal(signum)
    check_stopped(process, signum)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_server_and_removes_its_files(tmp_path, signum):
    process = start(["serve", "--port", "0"], TMPDIR=str(tmp_path))
    lines: list[str] = []

    def announced() -> bool:
        lines.append(process.stderr.readline())
        return "serving on" in lines[-1]

    wait_for(announced, 60, process)
    assert [p.name for p in tmp_path.iterdir()][0].startswith("talkingface-server-")
    process.send_signal(signum)
    check_stopped(process, signum)
    assert list(tmp_path.iterdir()) == []  # the temporary data folder is gone


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_any_command_run_by_the_cli_gets_the_same_handling(tmp_path, signum, capsys):
    target = tmp_path / "result.json"

    def command(args) -> int:  # a stand-in for any subcommand: writes atomically, is signalled mid-write
        with atomic_output(target) as temporary:
            Path(temporary).write_text("{partial")
            os.kill(os.getpid(), signum)
            time.sleep(5)  # the signal interrupts this
        return 0

    started = time.monotonic()
    assert run_command(command, None) == EXIT[signum]
    assert time.monotonic() - started < 4
    assert list(tmp_path.iterdir()) == []
    assert capsys.readouterr().err.strip() == f"talkingface: stopped by {signal.Signals(signum).name}"
    assert signal.getsignal(signal.SIGTERM) is not None  # handlers restored (no exception leaks)


def test_a_second_signal_during_clean_up_is_ignored(tmp_path, capsys):
    leftovers = []

    def command(args) -> int:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        finally:
            os.kill(os.getpid(), signal.SIGINT)  # impatient user: Ctrl-C while cleaning up
            time.sleep(0.05)
            leftovers.append("cleaned")
        return 0

    assert run_command(command, None) == 143
    assert leftovers == ["cleaned"]
