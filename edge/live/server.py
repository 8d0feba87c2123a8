"""The live view: an HTML page, an MJPEG stream and the latest predictions, over stdlib http.server.

Routes: ``/`` (the page), ``/stream.mjpg`` (multipart JPEG frames), ``/predictions.json`` (the newest
frame's record), ``/snapshot.json`` (the newest frame that has a JPEG: its record with the JPEG, base64, so
the page draws the image and the cards from the same frame), and ``POST /key`` with ``k=K`` (a key pressed
on the page, for ``fer-edge collect``: one printable character, with the page's ``X-Fer-Edge-Key`` secret).
Every route answers 403 to a Host other than the address listened on; when a token is set (listening on the
network), every route also needs ``?token=...``. No page may frame the live view (``X-Frame-Options``, CSP
``frame-ancestors``).
The loop encodes a JPEG only while someone watches the stream or polls snapshots (``streaming``).

The server is bounded so that idle or slow clients cannot take the loop down (``_Server``): at most
``connection_cap()`` connections at once (a share of the descriptor limit, leaving the rest to the loop's video,
JSON lines, crops and summary); a connection must send its whole request within ``REQUEST_TIMEOUT_S`` and every
read or write waits at most ``IO_TIMEOUT_S``; when every slot is taken, the oldest connection still sending its
request is dropped for the new one, and when all are busy answering (streams), the new one gets 503.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import ipaddress
import json
import logging
import resource
import secrets
import socket
import sys
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
#: a connection must have sent its whole request (line, headers, body) within this many seconds
REQUEST_TIMEOUT_S = 10.0
#: every single read or write on a connection waits at most this long (a client that stops reading a stream)
IO_TIMEOUT_S = 10.0
#: connections answered at once, at most (fewer under a low descriptor limit, see ``connection_cap``)
MAX_CONNECTIONS = 64
#: descriptors never used by the server: the loop's camera, model, video, JSON lines, crops and summary
RESERVED_FDS = 64
#: at most this share of the connections may be MJPEG streams, which last as long as they are watched
STREAM_SHARE = 0.5
HEADERS = (("Cache-Control", "no-store"), ("X-Frame-Options", "DENY"),
           ("Content-Security-Policy", "frame-ancestors 'none'"), ("X-Content-Type-Options", "nosniff"))
_BUSY_BODY = b"busy: too many connections to the live view; try again in a moment\n"
#: the whole answer to a connection over the cap, sent without waiting on the client
BUSY = (b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 1\r\n"
        b"X-Frame-Options: DENY\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(_BUSY_BODY)) + _BUSY_BODY
ALLOW = "GET, HEAD, POST, OPTIONS"


def connection_cap(limit: int | None = None) -> int:
    """Connections the server answers at once: ``MAX_CONNECTIONS``, or fewer so that with ``RESERVED_FDS`` kept
    for the loop the connections use at most half of the descriptor limit (``limit``, default this process's)."""
    if limit is None:
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        limit = MAX_CONNECTIONS * 4 if limit == resource.RLIM_INFINITY else limit
    return max(2, min(MAX_CONNECTIONS, (limit - RESERVED_FDS) // 2))


def host_form(host: str) -> str:
    """How ``host`` appears in a Host header or URL: IPv6 addresses in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class _Handler(BaseHTTPRequestHandler):
    server_version = "fer-edge"
    timeout = IO_TIMEOUT_S  # every read and write on the connection (socketserver sets it on the socket)

    def version_string(self) -> str:
        return self.server_version  # no Python version in the Server header

    def parse_request(self) -> bool:
        if self.server.dropped(self.request):  # cut off while sending its headers: nothing to answer
            self.close_connection = True
            return False
        ok = super().parse_request()
        if ok and self.command != "POST":  # a POST is still sending its body
            self.server.answering(self.request)
        return ok

    def _refused(self, live: LiveServer) -> bool:
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
            return self._send(200, live.snapshot() if self.command == "GET" else live.predictions, "application/json")
        if url.path == "/stream.mjpg":
            return self._stream(live)
        if url.path == "/key":
            return self._send(405, b"/key takes a POST from the live view page\n", "text/plain", Allow="POST")
        return self._send(404, b"not found\n", "text/plain")

    def do_HEAD(self):  # noqa: N802 (http.server's naming): GET's status and headers, no body
        self.do_GET()

    def do_OPTIONS(self):  # noqa: N802 (http.server's naming): what is allowed; no CORS, so no other site's page
        if not self._refused(self.server.live):  # may call the live view
            self._send(204, b"", "text/plain", Allow=ALLOW)

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
        body = self.rfile.read(int(length))
        self.server.answering(self.request)
        key = parse_qs(body.decode("utf-8", "replace")).get("k", [""])[0]
        if len(key) != 1 or not key.isprintable():
            return self._send(400, b"expected POST /key with k=K, one printable character\n", "text/plain")
        live.press(key)
        return self._send(204, b"", "text/plain")

    def _send(self, code: int, body: bytes, ctype: str, **extra: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (*HEADERS, *extra.items()):
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _stream(self, live: LiveServer) -> None:
        if self.command != "HEAD" and not self.server.may_stream(self.request):
            return self._send(503, b"busy: too many streams open; close one or try again later\n", "text/plain",
                              **{"Retry-After": "5"})
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        for name, value in HEADERS:
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        seq = 0
        with live.watching():
            try:
                while True:
                    got = live.next_jpeg(seq, timeout=1.0)
                    if got is None:
                        if live.closed or self._client_gone():  # no new frame (the end of a file): watch
                            return                               # for the viewer leaving, which frees its slot
                        continue
                    seq, jpeg = got
                    self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                     f"{len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, TimeoutError):  # gone, or stopped reading
                pass

    def _client_gone(self) -> bool:
        """Whether the client closed its side (a read would return nothing); never waits."""
        try:
            return self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        log.debug("%s %s", self.address_string(), format % args)


class _Connection:
    __slots__ = ("opened", "answering", "stream", "dropped")

    def __init__(self):
        self.opened, self.answering, self.stream, self.dropped = time.monotonic(), False, False, False


class _Server(ThreadingHTTPServer):
    """One thread per connection, bounded: see the module docstring."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64  # a burst of connections waits in the kernel, not in threads

    def __init__(self, address, handler):
        self.cap = connection_cap()
        self._lock = threading.Lock()
        self._open: dict[socket.socket, _Connection] = {}  # until the socket is closed, dropped or not
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        with self._lock:
            if len(self._open) >= self.cap and not self._drop_oldest_waiting():
                refuse = True
            else:
                refuse = False
                self._open[request] = _Connection()
        if refuse:
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread for it (a thread limit): the slot is freed with the socket
            self.shutdown_request(request)
            raise

    def _drop_oldest_waiting(self) -> bool:
        """Drop the connection that has waited longest without sending its request; False if none is waiting."""
        waiting = [(c.opened, id(s), s) for s, c in self._open.items() if not c.answering and not c.dropped]
        if not waiting:
            return False
        sock = min(waiting)[2]
        self._drop(sock)
        return True

    def _drop(self, sock: socket.socket) -> None:
        """Wake the connection's thread (its read returns at once); it closes the socket and frees the slot."""
        self._open[sock].dropped = True
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def _refuse(self, request: socket.socket) -> None:
        with contextlib.suppress(OSError):
            request.setblocking(False)
            request.send(BUSY)
        with contextlib.suppress(OSError):
            request.close()

    def dropped(self, request: socket.socket) -> bool:
        with self._lock:
            return request in self._open and self._open[request].dropped

    def handle_error(self, request, client_address) -> None:
        """A client that went away or was dropped is routine; anything else is logged, not printed."""
        if isinstance(sys.exc_info()[1], OSError):
            log.debug("live view connection from %s ended: %s", client_address, sys.exc_info()[1])
        else:
            log.exception("live view: error answering %s", client_address)

    def answering(self, request: socket.socket) -> None:
        """The request has been read: the connection is no longer dropped for a newer one or for being slow."""
        with self._lock:
            if request in self._open:
                self._open[request].answering = True

    def may_stream(self, request: socket.socket) -> bool:
        """Count ``request`` as a stream unless streams already fill their share of the connections."""
        with self._lock:
            if sum(c.stream for c in self._open.values()) >= max(1, int(self.cap * STREAM_SHARE)):
                return False
            self._open[request].stream = True
            return True

    def service_actions(self) -> None:
        """Between accepts (at least every half second): drop connections too slow to send their request."""
        deadline = time.monotonic() - REQUEST_TIMEOUT_S
        with self._lock:
            for sock, conn in list(self._open.items()):
                if not conn.answering and not conn.dropped and conn.opened < deadline:
                    self._drop(sock)

    def close_request(self, request) -> None:
        try:
            super().close_request(request)
        finally:
            with self._lock:
                self._open.pop(request, None)

    @property
    def connections(self) -> int:
        """Connections open now (answered, waiting or being dropped)."""
        with self._lock:
            return len(self._open)


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
        """The URL of the page, with the token (on every interface: the first of ``urls``)."""
        return self.urls[0]

    @property
    def urls(self) -> list[str]:
        """The page's URLs: on every interface (0.0.0.0, ::) one per address of this machine (loopback last),
        else the one address listened on."""
        host, port = self.address
        if not _wildcard(host):
            return page_urls([host], port, self.token)
        from edge.live.addresses import machine_addresses

        return page_urls([*machine_addresses(ipv6=":" in host), "::1" if ":" in host else "127.0.0.1"], port,
                         self.token)

    def host_allowed(self, host: str) -> bool:
        return self.hosts is None or host.lower() in self.hosts

    def start(self) -> LiveServer:
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


def page_urls(hosts: list[str], port: int, token: str | None) -> list[str]:
    """The page's URL at each of ``hosts``, with the token."""
    query = f"?token={quote(token, safe='')}" if token else ""
    return [f"http://{host_form(h)}:{port}/{query}" for h in hosts]


def _wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return host == ""
