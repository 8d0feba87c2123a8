"""The live view trusts nothing by default, as Jupyter's server does: it answers only the Host names it is bound
to (DNS rebinding), takes a key only as a POST carrying the page's secret from the page's own origin (CSRF), still
asks for the network token, really listens on an IPv6 loopback, and a --serve address it cannot listen on (not
this machine's, a port in use) is one line before any output is opened."""

import http.client
import http.server
import socket

import pytest
from edge_testkit import one_line_error, write_no_face_frames

from edge.commands.dispatch import main
from edge.live.server import KEY_HEADER, LiveServer


@pytest.fixture
def frames(tmp_path):
    return write_no_face_frames(tmp_path / "frames", 3)


def _run(model, source, *extra):
    return main(["run", str(model), "--source", str(source), "--headless", "--max-frames", "2", *extra])


@pytest.fixture
def live():
    server = LiveServer("127.0.0.1", 0).start()
    yield server
    server.close()


def request(live, method, path, headers=(), body=None):
    host, port = live.address
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=dict(headers))
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_only_the_bound_host_names_are_answered(live):
    port = live.address[1]
    assert request(live, "GET", "/predictions.json", {"Host": "evil.example"})[0] == 403
    assert request(live, "GET", "/snapshot.json", {"Host": "evil.example"})[0] == 403
    assert request(live, "GET", "/predictions.json", {"Host": f"evil.example:{port}"})[0] == 403
    assert request(live, "GET", "/", {"Host": "127.0.0.1:1"})[0] == 403, "another port is another origin"
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", f"[::1]:{port}"):
        assert request(live, "GET", "/predictions.json", {"Host": host})[0] == 200, host
        assert request(live, "GET", "/snapshot.json", {"Host": host})[0] == 200, host


def test_a_key_is_a_post_with_the_pages_secret_from_the_page_itself(live):
    port = live.address[1]
    page = request(live, "GET", "/")[1]
    assert live.key_secret.encode() in page and b"@KEY_SECRET@" not in page
    own = {KEY_HEADER: live.key_secret, "Content-Type": "application/x-www-form-urlencoded"}
    refused = [
        ("GET", "/key?k=4", {}),
        ("POST", "/key", {k: v for k, v in own.items() if k != KEY_HEADER}),
        ("POST", "/key", {**own, KEY_HEADER: "guess"}),
        ("POST", "/key", {**own, "Origin": "http://evil.example"}),
        ("POST", "/key", {**own, "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}),
        ("POST", "/key", {**own, "Sec-Fetch-Site": "cross-site"}),
        ("POST", "/key", {**own, "Sec-Fetch-Site": "same-site"}),
        ("POST", "/key", {**own, "Host": "evil.example"}),
        ("POST", "/key", {**own, "Content-Length": "x3"}),
    ]
    for method, path, headers in refused:
        assert request(live, method, path, headers, b"k=4")[0] in (403, 405, 413), (method, headers)
    assert live.take_keys() == [], "no refused request changed the session"
    assert request(live, "POST", "/key", {**own, "Origin": f"http://127.0.0.1:{port}",
                                          "Sec-Fetch-Site": "same-origin"}, b"k=4")[0] == 204
    assert live.take_keys() == ["4"]


def test_the_network_token_is_still_required_for_a_key():
    live = LiveServer("127.0.0.1", 0, token="s3cret-token").start()
    try:
        headers = {KEY_HEADER: live.key_secret}
        assert request(live, "POST", "/key", headers, b"k=4")[0] == 403
        assert request(live, "POST", "/key?token=s3cret-token", headers, b"k=4")[0] == 204
        assert live.take_keys() == ["4"]
    finally:
        live.close()


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
def test_serve_on_ipv6_loopback_really_listens_there():
    live = LiveServer("[::1]", 0).start()
    try:
        port = live.address[1]
        assert live.url == f"http://[::1]:{port}/"
        conn = http.client.HTTPConnection("::1", port, timeout=5)
        conn.request("GET", "/predictions.json")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        live.close()


def test_serve_on_an_address_that_is_not_here_says_so(int8_model, frames, capsys):
    assert main(["run", str(int8_model), "--source", str(frames), "--serve", "[::2]:0", "--listen-network"]) == 2
    one_line_error(capsys, "--serve [::2]:0: cannot listen there", "Pick another HOST:PORT")


def test_serve_on_a_port_in_use(int8_model, frames, tmp_path, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        jsonl = tmp_path / "out" / "p.jsonl"
        assert _run(int8_model, frames, "--serve", f"127.0.0.1:{port}", "--jsonl", str(jsonl)) == 2
    one_line_error(capsys, f"--serve 127.0.0.1:{port}: cannot listen there", "Pick another HOST:PORT")
    assert not (tmp_path / "out").exists()  # the port is checked before any output is opened
