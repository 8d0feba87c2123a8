"""SIGINT/SIGTERM stop the live loop whichever thread the kernel hands the signal to. Python runs a signal's handler
only in the main thread, and only when that thread runs Python code: a main thread blocked in a wait without a
timeout (the live view showing the end of a file until Ctrl-C) would never run it when another thread (an HTTP
handler, a native pool of OpenCV or LiteRT) took the signal, and ``fer-edge run --serve`` would not stop."""

from __future__ import annotations

import logging
import signal
import threading
import time

import pytest
from edge_testkit import demo_video

from edge.config import EdgeConfig
from edge.loop import run_edge

pytestmark = pytest.mark.timeout(120)


class _Seen(logging.Handler):
    """Sets ``event`` when a log line containing ``text`` is emitted."""

    def __init__(self, text: str):
        super().__init__()
        self.text, self.event = text, threading.Event()

    def emit(self, record):
        if self.text in record.getMessage():
            self.event.set()


def test_a_signal_taken_by_another_thread_stops_the_served_end_of_a_file(int8_model, tmp_path, caplog):
    video = tmp_path / "short.mp4"
    demo_video(video, 4, fps=10, faces="1")
    config = EdgeConfig(source=str(video), model=str(int8_model), serve="127.0.0.1:0", detector="haar")
    ended = _Seen("end of")
    logging.getLogger("edge.loop").addHandler(ended)
    hung = []

    def signal_from_another_thread():
        assert ended.event.wait(60), "the file never ended"
        time.sleep(1.0)  # the main thread is now waiting for Ctrl-C
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)  # this thread takes it, not the main one
        if not returned.wait(10):  # the loop did not notice: hand the signal to the main thread so that the test ends
            hung.append(True)
            signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)

    returned = threading.Event()
    helper = threading.Thread(target=signal_from_another_thread, daemon=True)
    helper.start()
    try:
        with caplog.at_level(logging.INFO):  # the loop's "end of" line is INFO
            result = run_edge(config)
    finally:
        returned.set()
        logging.getLogger("edge.loop").removeHandler(ended)
        helper.join(15)
    assert not hung, "SIGTERM was not handled within 10 s: the main thread waited without waking"
    assert result.stopped_by == "end of source" and "SIGTERM received" in caplog.text


def test_wait_for_returns_when_set_or_at_its_timeout():
    from edge.core.stop import wait_for

    event = threading.Event()
    start = time.monotonic()
    assert wait_for(event, 0.5) is False and 0.45 <= time.monotonic() - start < 2.0
    threading.Timer(0.3, event.set).start()
    assert wait_for(event) is True
