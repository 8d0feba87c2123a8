"""The live view: page, MJPEG stream and predictions over HTTP, the token, and a real headless
Chromium showing the stream of a running ``fer-edge run`` (bound to 127.0.0.1 only): per-face bars that
match the JSON lines, timelines and the session summary."""

import base64
import contextlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest

from conftest import require_tool
from edge.serve import BOUNDARY, LiveServer
from edge_testkit import demo_video


@pytest.fixture
def server():
    live = LiveServer("127.0.0.1", 0).start()
    yield live
    live.close()


def _get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, r.headers.get("Content-Type"), r.read()


def _jpeg(value):
    return cv2.imencode(".jpg", np.full((48, 64, 3), value, np.uint8))[1].tobytes()


def test_page_and_predictions(server):
    status, ctype, body = _get(server.url)
    assert status == 200 and ctype.startswith("text/html") and b"stream.mjpg" in body
    assert _get(server.url + "predictions.json")[2] == b"{}"
    server.publish({"frame": 3, "faces": [{"box": [1, 2, 3, 4], "label": "happy"}], "fps": 30.0})
    assert json.loads(_get(server.url + "predictions.json")[2])["frame"] == 3
    with pytest.raises(urllib.error.HTTPError, match="404"):
        _get(server.url + "secrets")


def _read_part(stream):
    assert stream.readline() == f"--{BOUNDARY}\r\n".encode()
    headers = {}
    while (line := stream.readline()) != b"\r\n":
        key, _, value = line.decode().partition(":")
        headers[key.lower()] = value.strip()
    assert headers["content-type"] == "image/jpeg"
    data = stream.read(int(headers["content-length"]))
    assert stream.read(2) == b"\r\n"
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def test_mjpeg_stream_sends_each_new_frame_and_counts_watchers(server):
    host, port = server.address
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("GET", "/stream.mjpg")
    response = conn.getresponse()
    assert response.getheader("Content-Type") == f"multipart/x-mixed-replace; boundary={BOUNDARY}"
    deadline = time.monotonic() + 5
    while not server.streaming and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.streaming, "the loop knows someone is watching, so it encodes"
    for value in (40, 200):
        server.publish({"frame": value}, _jpeg(value))
        assert abs(int(_read_part(response).mean()) - value) <= 2
    server.close()
    assert response.read() == b"", "closing the server ends the stream"
    conn.close()


def test_token_is_required_on_every_route():
    live = LiveServer("127.0.0.1", 0, token="s3cret-token&x").start()
    try:
        host, port = live.address
        base = f"http://{host}:{port}"
        for path in ("/", "/predictions.json", "/stream.mjpg", "/?token=wrong", "/predictions.json?token=s3cret-token"):
            with pytest.raises(urllib.error.HTTPError, match="403"):
                _get(base + path)
        assert live.url == base + "/?token=s3cret-token%26x"
        assert _get(live.url)[0] == 200
        assert _get(base + "/predictions.json?token=s3cret-token%26x")[0] == 200
    finally:
        live.close()


# --- real headless Chromium, driven over the DevTools pipe (fds 3/4, NUL-separated JSON) ----------

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


WATCH_PAGE = """(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const img = document.getElementById("stream");
  for (let i = 0; i < 150 && !(img.complete && img.naturalWidth); i++) await sleep(100);
  const snap = () => {
    const c = document.createElement("canvas");
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const g = c.getContext("2d");
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let h = 0;
    for (let i = 0; i < d.length; i += 61) h = (h * 31 + d[i]) >>> 0;
    return h;
  };
  const status = () => document.getElementById("status").textContent;
  const first = {pixels: snap(), status: status()};
  await sleep(1500);
  return {width: img.naturalWidth, height: img.naturalHeight, first, second: {pixels: snap(), status: status()},
          rows: document.querySelectorAll("#faces .face").length};
})()"""


@contextlib.contextmanager
def _live_run(model, video, profile, *args):
    """``fer-edge run`` serving on a free port and a headless Chromium: yields (browser, the live-view URL,
    the run's stderr lines); then closes both and checks the run ended cleanly."""
    binary = require_tool("chromium")
    run = subprocess.Popen([sys.executable, "-m", "edge", str(model), "--source", str(video),
                            "--realtime", "--serve", "127.0.0.1:0", *args],
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


@pytest.mark.slow
def test_live_view_in_headless_chromium_updates_and_needs_the_token(int8_model, tmp_path):
    video = tmp_path / "faces.mp4"
    demo_video(video, 100, fps=10, faces="2")
    token = "test-token-1234"
    with _live_run(int8_model, video, tmp_path / "profile", "--listen-network", "--token", token) as (browser, url, lines):
        assert url.endswith(f"?token={token}"), lines
        base = url.split("?")[0]
        with pytest.raises(urllib.error.HTTPError, match="403"):
            _get(base + "stream.mjpg")
        seen = browser.evaluate(browser.open(url), WATCH_PAGE)
        assert (seen["width"], seen["height"]) == (640, 480), seen
        assert seen["first"]["pixels"] != seen["second"]["pixels"], "the image updates"
        assert seen["first"]["status"] != seen["second"]["status"], "the predictions update"
        assert re.match(r"frame \d+ · [\d.]+ fps · 2 face\(s\)", seen["second"]["status"]), seen
        assert seen["rows"] == 2

        refused = browser.evaluate(browser.open(base), "document.body.innerText")
        assert refused.startswith("forbidden"), refused


READ_BARS = """(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const ready = () => document.querySelectorAll("#faces .face").length === 2 &&
                      document.querySelectorAll("#timelines .strip").length >= 2;
  for (let i = 0; i < 200 && !ready(); i++) await sleep(100);
  await sleep(2500);  // let the timelines grow a few seconds
  return {
    frame: Number(document.getElementById("faces").dataset.frame),
    faces: [...document.querySelectorAll("#faces .face")].map(card => ({
      track: Number(card.dataset.track),
      border: getComputedStyle(card).borderLeftColor,
      bars: [...card.querySelectorAll(".row")].map(row => {
        const fill = row.querySelector(".fill");
        return {label: row.dataset.label, score: Number(fill.dataset.score),
                width: fill.getBoundingClientRect().width / row.querySelector(".bar").getBoundingClientRect().width};
      }),
    })),
    strips: [...document.querySelectorAll("#timelines .strip")].map(row => Number(row.dataset.track)),
    legend: [...document.querySelectorAll("#legend [data-label]")].map(e => e.textContent),
  };
})()"""


def _rgb(css):
    return tuple(int(v) for v in re.findall(r"\d+", css)[:3])


@pytest.mark.slow
def test_live_view_bars_match_the_jsonl_scores_with_two_faces(int8_model, tmp_path):
    """Per face a bar per class (smoothed scores, as the JSON lines have them), its track's colour, a timeline
    per face and the session's shares; a screenshot of the page (FER_EDGE_LIVE_VIEW_PNG=FILE keeps it)."""
    video, jsonl = tmp_path / "faces.mp4", tmp_path / "p.jsonl"
    demo_video(video, 150, fps=10, faces="2")
    with _live_run(int8_model, video, tmp_path / "profile", "--jsonl", str(jsonl)) as (browser, url, _):
        session = browser.open(url)
        browser.send("Emulation.setDeviceMetricsOverride", session, width=1400, height=900, deviceScaleFactor=1,
                     mobile=False)
        seen = browser.evaluate(session, READ_BARS)
        shot = base64.b64decode(browser.send("Page.captureScreenshot", session, format="png")["data"])
    record = next(r for r in map(json.loads, jsonl.read_text().splitlines()) if r["frame"] == seen["frame"])
    by_track = {f["track"]: f for f in record["faces"]}
    assert sorted(by_track) == sorted(f["track"] for f in seen["faces"]) and len(by_track) == 2
    for face in seen["faces"]:
        scores = by_track[face["track"]]["scores"]
        assert [b["label"] for b in face["bars"]] == list(scores)
        for bar in face["bars"]:
            assert bar["score"] == scores[bar["label"]], (bar, scores)
            assert abs(bar["width"] - scores[bar["label"]]) < 0.01, (bar, scores)
    borders = {_rgb(f["border"]) for f in seen["faces"]}
    assert len(borders) == 2 and (136, 136, 136) not in borders, "each face has its track's own colour"
    assert set(by_track) <= set(seen["strips"]), "a timeline per tracked face"
    shares = [int(re.search(r"(\d+)%", t).group(1)) for t in seen["legend"]]
    assert len(shares) == 7 and 97 <= sum(shares) <= 103, seen["legend"]
    image = cv2.imdecode(np.frombuffer(shot, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (900, 1400) and image.std() > 20, "the screenshot shows the page, not a blank"
    if os.environ.get("FER_EDGE_LIVE_VIEW_PNG"):
        with open(os.environ["FER_EDGE_LIVE_VIEW_PNG"], "wb") as f:
            f.write(shot)
