"""The live view: page, MJPEG stream and predictions over HTTP, the token, and a real headless
Chromium showing the stream of a running ``fer-edge run`` (bound to 127.0.0.1 only): per-face bars that
match the JSON lines, timelines and the session summary."""

import base64
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
from edge_testkit import demo_video
from live_browser import live_run

from edge.live.server import BOUNDARY, LiveServer


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
    assert status == 200 and ctype.startswith("text/html") and b"snapshot.json" in body
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


def test_snapshot_pairs_the_image_with_the_cards_of_its_own_frame(server):
    """A frame published without a JPEG (nobody watching) moves predictions.json on, not the snapshot: the page
    draws image and cards from one frame. Asking for snapshots makes the loop encode JPEGs."""
    assert not server.streaming
    assert json.loads(_get(server.url + "snapshot.json")[2]) == {}
    assert server.streaming, "a page polling snapshots counts as watching"
    server.publish({"frame": 1, "faces": []}, _jpeg(10))
    server.publish({"frame": 2, "faces": []})
    snap = json.loads(_get(server.url + "snapshot.json")[2])
    assert snap["frame"] == 1 and base64.b64decode(snap["jpeg"]) == _jpeg(10)
    assert json.loads(_get(server.url + "predictions.json")[2])["frame"] == 2
    server.publish({"frame": 3, "faces": []}, _jpeg(200))
    snap = json.loads(_get(server.url + "snapshot.json")[2])
    assert snap["frame"] == 3 and base64.b64decode(snap["jpeg"]) == _jpeg(200)


def test_the_live_view_outlives_the_end_of_a_file_until_ctrl_c(int8_model, tmp_path):
    """Without --loop the last frame and the session stay served; with --loop the file plays again."""
    video = tmp_path / "faces.mp4"
    demo_video(video, 8, fps=15, faces="1")
    proc = subprocess.Popen([sys.executable, "-m", "edge.commands", "run", str(int8_model), "--source", str(video),
                             "--serve", "127.0.0.1:0", "--detector", "haar"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("end of" in line for line in lines) and proc.poll() is None:
            time.sleep(0.1)
        assert any("Ctrl-C to quit" in line for line in lines), lines
        url = next(m.group(0) for line in lines if (m := re.search(r"http://127\.0\.0\.1:\d+/", line)))
        snap = json.loads(_get(url + "snapshot.json")[2])
        assert snap["frame"] == 7 and snap["ended"] and snap["jpeg"] and snap["session"]["summary"]["clock"] == "media"
        assert _get(url)[0] == 200 and proc.poll() is None, "still serving"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert proc.returncode == 0, lines


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
        for path in ("/", "/predictions.json", "/snapshot.json", "/stream.mjpg", "/?token=wrong",
                     "/predictions.json?token=s3cret-token", "/snapshot.json?token=wrong"):
            with pytest.raises(urllib.error.HTTPError, match="403"):
                _get(base + path)
        assert live.url == base + "/?token=s3cret-token%26x"
        assert _get(live.url)[0] == 200
        assert _get(base + "/predictions.json?token=s3cret-token%26x")[0] == 200
        assert _get(base + "/snapshot.json?token=s3cret-token%26x")[0] == 200
    finally:
        live.close()


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


@pytest.mark.slow
def test_live_view_in_headless_chromium_updates_and_needs_the_token(int8_model, tmp_path):
    video = tmp_path / "faces.mp4"
    demo_video(video, 100, fps=10, faces="2")
    token = "test-token-1234"
    with live_run(tmp_path / "profile", "run", int8_model, "--source", video, "--realtime", "--listen-network", "--token",
                  token) as (browser, url, lines):
        assert url.endswith(f"?token={token}"), lines
        base = url.split("?")[0]
        with pytest.raises(urllib.error.HTTPError, match="403"):
            _get(base + "stream.mjpg")
        seen = browser.evaluate(browser.open(url), WATCH_PAGE)
        assert (seen["width"], seen["height"]) == (640, 480), seen
        assert seen["first"]["pixels"] != seen["second"]["pixels"], "the image updates"
        assert seen["first"]["status"] != seen["second"]["status"], "the predictions update"
        assert re.match(r"frame \d+ · processed at [\d.]+ fps · 2 face\(s\)", seen["second"]["status"]), seen
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
    image_frame: Number(document.getElementById("stream").dataset.frame),
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
    with live_run(tmp_path / "profile", "run", int8_model, "--source", video, "--realtime", "--jsonl", jsonl) as (browser, url, _):
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
    assert {_rgb(f["border"]) for f in seen["faces"]} == {(0, 0, 0)}, "tracks are marked by id, in no class colour"
    assert seen["image_frame"] == seen["frame"], "the image and the cards show the same frame"
    assert set(by_track) <= set(seen["strips"]), "a timeline per tracked face"
    shares = [int(re.search(r"(\d+)%", t).group(1)) for t in seen["legend"]]
    assert len(shares) == 7 and 97 <= sum(shares) <= 103, seen["legend"]
    image = cv2.imdecode(np.frombuffer(shot, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (900, 1400) and image.std() > 20, "the screenshot shows the page, not a blank"
    if os.environ.get("FER_EDGE_LIVE_VIEW_PNG"):
        with open(os.environ["FER_EDGE_LIVE_VIEW_PNG"], "wb") as f:
            f.write(shot)
