"""A headless Chromium driven over the DevTools pipe (fds 3/4, NUL-separated JSON): what the live-view tests
and ``tools.doc_images`` look at the page with. Standard library only."""

from __future__ import annotations

import json
import os
import subprocess
import time


class Chromium:
    def __init__(self, binary, profile):
        cmd_r, self._cmd_w = os.pipe()
        self._resp_r, resp_w = os.pipe()

        def fds():
            os.dup2(cmd_r, 3)
            os.dup2(resp_w, 4)

        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            preexec_fn=fds, pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(resp_w)
        self._buf, self._id, self._events = b"", 0, []

    def _next_message(self, deadline):
        while b"\0" not in self._buf:
            assert time.monotonic() < deadline, "no answer from chromium in time"
            chunk = os.read(self._resp_r, 1 << 16)
            assert chunk, "chromium closed the DevTools pipe"
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method, session=None, timeout=30, **params):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._next_message(deadline)
            if reply.get("id") == self._id:
                assert "error" not in reply, reply["error"]
                return reply["result"]
            self._events.append(reply)

    def wait_event(self, method, session, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self._events):
                if event.get("method") == method and event.get("sessionId") == session:
                    return self._events.pop(i)
            self._events.append(self._next_message(deadline))

    def open(self, url):
        """A new tab showing ``url``, once its HTML is parsed (an MJPEG image never finishes loading)."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.send("Page.enable", session)
        self.send("Page.navigate", session, url=url)
        self.wait_event("Page.domContentEventFired", session)
        return session

    def evaluate(self, session, expression):
        result = self.send("Runtime.evaluate", session, expression=expression, awaitPromise=True,
                           returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"]["value"]

    def close(self):
        self.proc.kill()
        self.proc.wait(10)
        os.close(self._cmd_w)
        os.close(self._resp_r)
