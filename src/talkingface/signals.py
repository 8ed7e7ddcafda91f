"""Termination signals as exceptions, so that every command cleans up the same way.

``talkingface.cli.main`` runs each command inside ``signals_as_exceptions()``: SIGINT (Ctrl-C),
SIGTERM and SIGHUP raise ``Interrupted`` in the main thread. It is a ``KeyboardInterrupt`` (a
``BaseException``): ``except Exception`` blocks do not swallow it, while ``with`` blocks, ``finally``
clauses and the atomic writers (``media.atomic_output``, ``media.AtomicFile``, ``media.VideoWriter``,
``tempfile.TemporaryDirectory``) unwind and delete their temporary files. ``main`` then prints one
line and exits with 128 + the signal number (130 for SIGINT, 143 for SIGTERM).

A signal that comes within ``GRACE_S`` of the one that raised is ignored, so a second Ctrl-C cannot
interrupt the clean-up and leave a temporary file behind; after that, signals raise again.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

HANDLED = tuple(s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if s is not None)


GRACE_S = 3.0
"""Seconds after a signal during which further signals are ignored (clean-up time)."""


class Interrupted(KeyboardInterrupt):
    """A termination signal arrived; ``signum`` says which, ``exit_code`` is 128 + signum."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal_name(signum))

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def exit_code(interruption: KeyboardInterrupt) -> int:
    """128 + signal number of an Interrupted; 130 (SIGINT) for a plain KeyboardInterrupt."""
    return interruption.exit_code if isinstance(interruption, Interrupted) else 128 + signal.SIGINT


@contextmanager
def signals_as_exceptions() -> Iterator[None]:
    """While active (main thread only), SIGINT/SIGTERM/SIGHUP raise ``Interrupted`` once; signals
    that are ignored when it starts (``nohup``, background jobs) stay ignored. Restores the previous
    handlers on exit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised_at = -GRACE_S

    def handler(signum: int, frame: object) -> None:
        nonlocal raised_at
        now = time.monotonic()
        if now - raised_at < GRACE_S:
            return  # already unwinding: let the clean-up finish
        raised_at = now
        raise Interrupted(signum)

    previous = {}
    for signum in HANDLED:
        current = signal.getsignal(signum)
        if current is not signal.SIG_IGN:
            previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
