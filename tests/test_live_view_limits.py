"""The live view's limits (issue 36, cases 1 and 19): idle and slow connections cannot starve it or the loop of
threads and file descriptors; HEAD and OPTIONS are answered; no site may frame the page; the Server header names
no Python version; on every interface the printed URLs name this machine's addresses. Every connection here is
to 127.0.0.1, bounded in count and time."""

import contextlib
import http.client
import ipaddress
import json
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from edge_testkit import demo_video

from edge.live import server as live_server
from edge.live.addresses import machine_addresses
from edge.live.server import LiveServer, connection_cap

SLOW = 300


@pytest.fixture
def server():
    live = LiveServer("127.0.0.1", 0).start()
    yield live
    live.close()


def _slow_connections(port: int, n: int) -> list[socket.socket]:
    """``n`` connections that send a request line and a Host header, then nothing (a slowloris)."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(f"GET /predictions.json HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())
        socks.append(s)
    return socks


def _get(url: str, method: str = "GET", timeout: float = 5):
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=timeout) as r:
        return r.status, r.headers, r.read()


def test_slow_connections_cannot_starve_the_server(server):
    host, port = server.address
    socks = _slow_connections(port, SLOW)
    try:
        server.publish({"frame": 5, "faces": []})
        started = time.monotonic()
        status, _, body = _get(server.url + "predictions.json")
        assert status == 200 and json.loads(body)["frame"] == 5
        assert time.monotonic() - started < 4
        assert server._httpd.connections <= server._httpd.cap <= live_server.MAX_CONNECTIONS
        # a dropped connection's thread ends right after its socket closes: far fewer threads than connections
        assert threading.active_count() < SLOW // 2, "no thread per idle connection"
    finally:
        for s in socks:
            s.close()


def test_connection_cap_keeps_descriptors_for_the_loop():
    assert connection_cap(1024) == live_server.MAX_CONNECTIONS
    assert connection_cap(128) == (128 - live_server.RESERVED_FDS) // 2
    assert connection_cap(40) == 2, "even a tiny limit answers someone"


def test_a_request_not_sent_in_time_is_dropped(monkeypatch):
    monkeypatch.setattr(live_server, "REQUEST_TIMEOUT_S", 0.5)
    live = LiveServer("127.0.0.1", 0).start()
    try:
        (s,) = _slow_connections(live.address[1], 1)
        started = time.monotonic()
        assert s.recv(100) == b"", "the server closes the connection without an answer"
        assert 0.4 < time.monotonic() - started < 3
        s.close()
    finally:
        live.close()


def _open_streams(live, n):
    conns = []
    for _ in range(n):
        conn = http.client.HTTPConnection(*live.address, timeout=5)
        conn.request("GET", "/stream.mjpg")
        assert conn.getresponse().status == 200
        conns.append(conn)
    return conns


def test_streams_take_at_most_half_the_connections(monkeypatch):
    monkeypatch.setattr(live_server, "MAX_CONNECTIONS", 4)
    live = LiveServer("127.0.0.1", 0).start()
    streams = []
    try:
        streams = _open_streams(live, 2)
        with pytest.raises(urllib.error.HTTPError, match="503"):
            _get(live.url + "stream.mjpg")
        assert _get(live.url + "predictions.json")[0] == 200, "the other half answers requests"
    finally:
        live.close()
        for c in streams:
            c.close()


def test_when_every_connection_is_being_answered_the_next_one_gets_503(monkeypatch):
    monkeypatch.setattr(live_server, "MAX_CONNECTIONS", 4)
    monkeypatch.setattr(live_server, "STREAM_SHARE", 1.0)
    live = LiveServer("127.0.0.1", 0).start()
    streams = []
    try:
        streams = _open_streams(live, 4)
        with socket.create_connection(live.address, timeout=5) as s:
            s.sendall(f"GET /predictions.json HTTP/1.0\r\nHost: 127.0.0.1:{live.address[1]}\r\n\r\n".encode())
            answer = s.recv(4096)
        assert answer.startswith(b"HTTP/1.0 503") and b"Retry-After" in answer, answer
        streams.pop().close()
        deadline = time.monotonic() + 5
        while live._httpd.connections > 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _get(live.url + "predictions.json")[0] == 200, "a freed slot answers again"
    finally:
        live.close()
        for c in streams:
            c.close()


def test_head_options_and_headers(server):
    status, headers, body = _get(server.url, "HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0
    status, headers, body = _get(server.url + "predictions.json", "OPTIONS")
    assert status == 204 and set(headers["Allow"].split(", ")) == {"GET", "HEAD", "POST", "OPTIONS"}
    assert "Access-Control-Allow-Origin" not in headers, "no other site may call the live view"
    status, headers, _ = _get(server.url)
    assert headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Server"] == "fer-edge", "no Python version for a scanner to match"
    conn = http.client.HTTPConnection(*server.address, timeout=5)
    conn.request("HEAD", "/stream.mjpg")
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("X-Frame-Options") == "DENY"
    assert not server.streaming, "a HEAD is not a watcher"
    conn.close()


def test_on_every_interface_the_urls_name_this_machines_addresses(monkeypatch, server):
    monkeypatch.setattr(LiveServer, "address", property(lambda self: ("0.0.0.0", 8123)))
    monkeypatch.setattr("edge.live.addresses.machine_addresses", lambda ipv6=False: ["192.168.1.20", "10.0.0.7"])
    server.token = "t&k"
    assert server.urls == ["http://192.168.1.20:8123/?token=t%26k", "http://10.0.0.7:8123/?token=t%26k",
                           "http://127.0.0.1:8123/?token=t%26k"]
    assert server.url == server.urls[0]


def test_machine_addresses_are_usable_ones():
    for text in machine_addresses(ipv6=True):
        address = ipaddress.ip_address(text)
        assert not (address.is_loopback or address.is_unspecified or address.is_link_local), text


def _low_fd_limit():
    resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))  # a few hundred slow connections exceed it


@pytest.mark.slow
def test_run_survives_slow_connections_and_writes_its_summary(int8_model, tmp_path):
    """A `run --serve` under a low descriptor limit, with 300 connections that never finish their request: the
    predictions still come, and Ctrl-C ends it cleanly with the summary and the config written."""
    video = tmp_path / "faces.mp4"
    demo_video(video, 6, fps=15, faces="1")
    summary, jsonl = tmp_path / "summary.png", tmp_path / "faces.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "edge.commands", "run", str(int8_model), "--source", str(video),
                             "--serve", "127.0.0.1:0", "--detector", "haar", "--summary", str(summary), "--jsonl",
                             str(jsonl)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_low_fd_limit)
    lines = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True).start()
    socks = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("Ctrl-C to quit" in line for line in lines) \
                and proc.poll() is None:
            time.sleep(0.1)
        url = next(m.group(0) for line in lines if (m := re.search(r"http://127\.0\.0\.1:\d+/", line)))
        socks = _slow_connections(int(url.rsplit(":", 1)[1].strip("/")), SLOW)
        for _ in range(3):
            status, _, body = _get(url + "predictions.json")
            assert status == 200 and json.loads(body)["frame"] == 5
    finally:
        proc.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)
        proc.kill()
        for s in socks:
            s.close()
    stdout = proc.stdout.read()
    assert proc.returncode == 0, lines
    assert not any("Traceback" in line or "Too many open files" in line for line in lines), lines
    assert summary.stat().st_size > 0 and len(jsonl.read_text().splitlines()) == 6
    assert (tmp_path / "faces.config.json").exists() and f"wrote {jsonl}" in stdout
