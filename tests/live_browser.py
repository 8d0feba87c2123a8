"""A real headless Chromium for the live-view tests (tools/chromium.py, driven over the DevTools pipe) and a
``fer-edge`` command serving the live view on a free 127.0.0.1 port."""

import contextlib
import re
import signal
import subprocess
import sys
import threading
import time

from conftest import require_tool

from tools.chromium import Chromium


@contextlib.contextmanager
def live_run(profile, *argv):
    """``fer-edge ARGV --serve 127.0.0.1:0`` and a headless Chromium: yields (browser, the live-view URL,
    the command's stderr lines); then closes both, stops the command and checks it ended cleanly."""
    binary = require_tool("chromium")
    run = subprocess.Popen([sys.executable, "-m", "edge.commands", *map(str, argv), "--serve", "127.0.0.1:0"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(run.stderr.readline, "")), daemon=True)
    reader.start()
    browser = None
    try:
        deadline = time.monotonic() + 60
        url = None
        while url is None and time.monotonic() < deadline and run.poll() is None:
            found = [m.group(0) for line in list(lines) if (m := re.search(r"http://127\.0\.0\.1:\d+/\S*", line))]
            url = found[0] if found else time.sleep(0.1)
        assert url, lines
        browser = Chromium(binary, profile)
        yield browser, url, lines
    finally:
        if browser is not None:
            browser.close()
        run.send_signal(signal.SIGTERM)
        run.wait(30)
    assert run.returncode == 0, "".join(lines)
