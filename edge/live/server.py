"""The live view: an HTML page, an MJPEG stream and the latest predictions, over stdlib http.server.

Routes: ``/`` (the page), ``/stream.mjpg`` (multipart JPEG frames), ``/predictions.json`` (the newest
frame's record), ``/snapshot.json`` (the newest frame that has a JPEG: its record with the JPEG, base64, so
the page draws the image and the cards from the same frame), and ``POST /key`` with ``k=K`` (a key pressed
on the page, for ``fer-edge collect``: one printable character, with the page's ``X-Fer-Edge-Key`` secret).
Every route answers 403 to a Host other than the address listened on; when a token is set (listening on the
network), every route also needs ``?token=...``.
The loop encodes a JPEG only while someone watches the stream or polls snapshots (``streaming``).
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, quote, urlsplit

log = logging.getLogger(__name__)
BOUNDARY = "fer-edge-frame"
MAX_KEYS = 32
#: the loop keeps encoding JPEGs this long after the last snapshot request
SNAPSHOT_WATCH_S = 2.0
KEY_HEADER = "X-Fer-Edge-Key"
#: the placeholder in static/index.html that carries the session's key secret
KEY_PLACEHOLDER = b"@KEY_SECRET@"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
MAX_BODY = 256


def host_form(host: str) -> str:
    """How ``host`` appears in a Host header or URL: IPv6 addresses in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class _Handler(BaseHTTPRequestHandler):
    server_version = "fer-edge"

    def _refused(self, live: "LiveServer") -> bool:
        """Answer 403 and return True unless the Host and the token allow this request."""
        host = self.headers.get("Host", "").lower()
        if not live.host_allowed(host):
            self._send(403, b"forbidden: unknown Host (the live view answers only the address it listens on)\n",
                       "text/plain")
            return True
        if live.token is not None:
            given = parse_qs(urlsplit(self.path).query).get("token", [""])[0]
            if not hmac.compare_digest(given.encode(), live.token.encode()):
                self._send(403, b"forbidden: add ?token=... to the URL\n", "text/plain")
                return True
        return False

    def do_GET(self):  # noqa: N802 (http.server's naming)
        live: LiveServer = self.server.live
        if self._refused(live):
            return
        url = urlsplit(self.path)
        if url.path in ("/", "/index.html"):
            return self._send(200, live.page, "text/html; charset=utf-8")
        if url.path == "/predictions.json":
            return self._send(200, live.predictions, "application/json")
        if url.path == "/snapshot.json":
            return self._send(200, live.snapshot(), "application/json")
        if url.path == "/stream.mjpg":
            return self._stream(live)
        if url.path == "/key":
            return self._send(405, b"/key takes a POST from the live view page\n", "text/plain")
        return self._send(404, b"not found\n", "text/plain")

    def do_POST(self):  # noqa: N802 (http.server's naming)
        live: LiveServer = self.server.live
        if self._refused(live):
            return
        if urlsplit(self.path).path != "/key":
            return self._send(404, b"not found\n", "text/plain")
        origin = self.headers.get("Origin")
        if self.headers.get("Sec-Fetch-Site", "same-origin").lower() not in ("same-origin", "none") or (
                origin is not None and urlsplit(origin).netloc.lower() != self.headers.get("Host", "").lower()):
            return self._send(403, b"forbidden: a key comes only from the live view page itself\n", "text/plain")
        if not hmac.compare_digest(self.headers.get(KEY_HEADER, "").encode(), live.key_secret.encode()):
            return self._send(403, f"forbidden: a key needs the {KEY_HEADER} header the page carries\n".encode(),
                              "text/plain")
        length = self.headers.get("Content-Length") or "0"
        if not length.isdigit() or int(length) > MAX_BODY:
            return self._send(413, b"expected a short form body k=K\n", "text/plain")
        key = parse_qs(self.rfile.read(int(length)).decode("utf-8", "replace")).get("k", [""])[0]
        if len(key) != 1 or not key.isprintable():
            return self._send(400, b"expected POST /key with k=K, one printable character\n", "text/plain")
        live.press(key)
        return self._send(204, b"", "text/plain")

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, live: "LiveServer") -> None:
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        seq = 0
        with live.watching():
            try:
                while True:
                    got = live.next_jpeg(seq, timeout=1.0)
                    if got is None:
                        if live.closed:
                            return
                        continue
                    seq, jpeg = got
                    self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                     f"{len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass

    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        log.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class LiveServer:
    def __init__(self, host: str, port: int, token: str | None = None):
        self.token = token
        self.key_secret = secrets.token_urlsafe(24)
        page = resources.files("edge.live").joinpath("static/index.html").read_bytes()
        self.page = page.replace(KEY_PLACEHOLDER, self.key_secret.encode())
        self.predictions = b"{}"
        self._latest: dict = {}
        self._snapshot: tuple[dict, bytes] | None = None
        self._snapshot_asked = float("-inf")
        self.closed = False
        self._cond = threading.Condition()
        self._jpeg, self._seq, self._watchers = None, 0, 0
        self._keys: list[str] = []
        host = host.strip("[]")
        self._httpd = (_Server6 if ":" in host else _Server)((host, port), _Handler)
        self._httpd.live = self
        port = self.address[1]
        names = {host_form(host).lower(), *LOOPBACK_NAMES}
        #: the Host headers answered; None: any (bound to every interface, where the token is required)
        self.hosts = None if _wildcard(host) else {f"{n}:{port}" for n in names} | (
            names if port == 80 else set())
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fer-edge-http", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        return self._httpd.server_address[:2]

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host_form(host)}:{port}/" + (f"?token={quote(self.token, safe='')}" if self.token else "")

    def host_allowed(self, host: str) -> bool:
        return self.hosts is None or host.lower() in self.hosts

    def start(self) -> "LiveServer":
        self._thread.start()
        return self

    @property
    def streaming(self) -> bool:
        return self._watchers > 0 or time.monotonic() - self._snapshot_asked < SNAPSHOT_WATCH_S

    @contextlib.contextmanager
    def watching(self):
        """Counts an open stream for the duration of the block."""
        with self._cond:
            self._watchers += 1
        try:
            yield
        finally:
            with self._cond:
                self._watchers -= 1

    def publish(self, predictions: dict, jpeg: bytes | None = None) -> None:
        """The newest frame's record and, when it was encoded, its JPEG (the two then form the snapshot)."""
        body = json.dumps(predictions, separators=(",", ":")).encode()
        with self._cond:
            self.predictions, self._latest = body, predictions
            if jpeg is not None:
                self._jpeg, self._seq = jpeg, self._seq + 1
                self._snapshot = (predictions, jpeg)
                self._cond.notify_all()

    def latest(self) -> dict:
        """The record last published."""
        with self._cond:
            return dict(self._latest)

    def snapshot(self) -> bytes:
        """JSON of the newest frame that has a JPEG: its record plus ``jpeg`` (base64); before any JPEG, the
        newest record without one. Asking keeps the loop encoding JPEGs for ``SNAPSHOT_WATCH_S``."""
        with self._cond:
            self._snapshot_asked = time.monotonic()
            if self._snapshot is None:
                return self.predictions
            record, jpeg = self._snapshot
        return json.dumps({**record, "jpeg": base64.b64encode(jpeg).decode("ascii")},
                          separators=(",", ":")).encode()

    def press(self, key: str) -> None:
        with self._cond:
            self._keys = (self._keys + [key])[-MAX_KEYS:]  # nobody takes them during ``fer-edge run``

    def take_keys(self) -> list[str]:
        """The keys pressed on the page since the last call, oldest first."""
        with self._cond:
            keys, self._keys = self._keys, []
        return keys

    def next_jpeg(self, after: int, timeout: float) -> tuple[int, bytes] | None:
        """The newest JPEG once it is newer than ``after``; None on timeout or when closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._seq > after or self.closed, timeout)
            if self.closed or self._seq <= after:
                return None
            return self._seq, self._jpeg

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()


def _wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return host == ""
