"""Stopping cleanly on SIGINT/SIGTERM: the one handler the camera loop and training share.

The first signal only asks the work to stop at its next check (the loop after the current frame,
training after the current batch); a second one in ``abort_on`` raises ``KeyboardInterrupt`` at once.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)
#: how often a thread waiting for a stop wakes up (see ``wait_for``)
WAKE_S = 0.2


@dataclass
class StopRequest:
    """``event`` is set by the first SIGINT/SIGTERM; ``signal`` names it (``"SIGINT"``, ``"SIGTERM"``)."""

    event: threading.Event = field(default_factory=threading.Event)
    signal: str | None = None


def wait_for(event: threading.Event, timeout: float | None = None) -> bool:
    """``event.wait(timeout)``, waking every ``WAKE_S``. Python runs a signal's handler only in the main thread, when
    that thread runs Python code; when the kernel hands SIGINT/SIGTERM to another thread (an HTTP handler, a native
    pool of OpenCV or LiteRT), a main thread blocked in one long wait would never run the handler that sets
    ``event``, and the program would not stop. Returns whether ``event`` is set."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        step = WAKE_S if deadline is None else min(WAKE_S, deadline - time.monotonic())
        if step <= 0:
            return event.is_set()
        if event.wait(step):
            return True


@contextlib.contextmanager
def stop_on_signals(event: threading.Event | None = None, *, then: str = "stopping",
                    abort_on: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)):
    """Within the block SIGINT/SIGTERM set ``event`` (a new one if None) and log ``then``; yields the
    ``StopRequest``. Outside the main thread signals cannot be caught, so nothing is installed."""
    request = StopRequest(event if event is not None else threading.Event())
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handler(signum, _frame):
        if request.event.is_set() and signum in abort_on:
            raise KeyboardInterrupt
        request.signal = signal.Signals(signum).name
        log.warning("%s received: %s", request.signal, then)
        request.event.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so that every ``finally`` runs (temporary folders go,
    child processes are ended) instead of the process vanishing mid-write."""


@contextlib.contextmanager
def terminate_raises():
    """Within the block (in the main thread) SIGTERM raises ``Terminated``; blocks that stop gracefully
    (``stop_on_signals``) install their own handler and put this one back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, _frame):
        raise Terminated("SIGTERM")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_child_group(cmd: list[str], *, grace_s: float = 5.0, **kwargs) -> int:
    """``subprocess.run(cmd, **kwargs).returncode``, with the child in a process group of its own that is ended
    as a whole (SIGTERM, then SIGKILL after ``grace_s``) if this process is interrupted (Ctrl-C, SIGTERM, an
    error) while waiting: ``make -j`` leaves no compiler running."""
    import os
    import subprocess

    proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)
    try:
        return proc.wait()
    except BaseException:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(grace_s)
                break
            except subprocess.TimeoutExpired:
                continue
        raise
