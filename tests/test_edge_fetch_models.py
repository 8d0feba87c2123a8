"""``fer-edge fetch-models`` against a local HTTP server on 127.0.0.1: the right file is installed
atomically with its SHA-256 checked; a wrong file, a truncated body, a 404 and a closed port each give
one line naming the URL and what was expected, exit code 2, and leave nothing in the cache."""

import http.server
import socket
import threading
from pathlib import Path

import pytest

from edge import detector_model as dm
from edge.commands.dispatch import main
from edge.core.cache import ENV_CACHE


@pytest.fixture(scope="module")
def yunet_bytes(yunet_model):
    return yunet_model.read_bytes()


#: what the server's /good.onnx serves: the real YuNet, put there by the tests that need it
SERVED = {}


@pytest.fixture
def good(yunet_bytes):
    SERVED["/good.onnx"] = yunet_bytes
    yield
    SERVED.clear()


@pytest.fixture(scope="module")
def server():
    # the failure cases need no copy of YuNet: bytes of its size that are not it, and a body cut short
    wrong = bytes(range(256)) * (dm.YUNET.size // 256) + bytes(dm.YUNET.size % 256)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            if self.path in SERVED:
                self._send(SERVED[self.path], len(SERVED[self.path]))
            elif self.path == "/wrong.onnx":
                self._send(wrong, len(wrong))
            elif self.path == "/truncated.onnx":  # promises the whole file, sends a third, hangs up
                self._send(wrong[: len(wrong) // 3], len(wrong))
                self.close_connection = True
            else:
                self.send_error(404, "Not Found")

        def _send(self, body, length):
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(ENV_CACHE, str(folder))
    monkeypatch.delenv(dm.ENV_MODEL, raising=False)
    return folder


def _closed_port_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens here any more: connection refused, as with no network
    return f"http://127.0.0.1:{port}/good.onnx"


def test_downloads_checks_and_installs(server, good, cache, capsys):
    assert main(["fetch-models", "--url", f"{server}/good.onnx"]) == 0
    out, err = capsys.readouterr()
    installed = cache / dm.YUNET.name
    assert dm.sha256_of(installed) == dm.YUNET.sha256
    assert sorted(p.name for p in cache.iterdir()) == [dm.YUNET.name], "no temporary file left"
    assert "installed" in out and f"{dm.YUNET.size // 1024}/{dm.YUNET.size // 1024} KiB" in err, "progress bar"
    assert dm.find_detector_model() == (installed, "cache")
    # a second run finds it and does not download (the URL is now a 404)
    assert main(["fetch-models", "--url", f"{server}/missing.onnx"]) == 0
    assert "already installed" in capsys.readouterr().out


@pytest.mark.parametrize("case, message", [
    ("/wrong.onnx", "not face_detection_yunet_2023mar.onnx (expected 232,589 bytes with SHA-256 8f2383e4dd3cfbb4"),
    ("/truncated.onnx", "download cut short after 77,529 bytes (expected 232,589)"),
    ("/missing.onnx", "HTTP 404 Not Found (expected face_detection_yunet_2023mar.onnx"),
    ("closed port", "cannot download ("),
])
def test_every_failure_is_one_line_exit_2_and_leaves_nothing(server, cache, capsys, case, message):
    url = _closed_port_url() if case == "closed port" else server + case
    assert main(["fetch-models", "--url", url, "--timeout", "5"]) == 2
    err_lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(err_lines) == 1 and url in err_lines[0] and message in err_lines[0], err_lines
    assert not cache.exists() or list(cache.iterdir()) == []


def test_plain_fetch_models_gets_the_detector_only(server, good, cache, capsys, monkeypatch):
    """What the systemd unit's ExecStartPre and the Pi guide run: YuNet only, never the training teacher."""
    monkeypatch.setattr(dm, "YUNET", dm.ModelFile(**{**dm.YUNET.__dict__, "url": f"{server}/good.onnx"}))
    monkeypatch.setitem(dm.MODELS, "detector", dm.YUNET)
    monkeypatch.setitem(dm.MODELS, "teacher", dm.ModelFile(**{**dm.ZOO_FER.__dict__, "url": f"{server}/teacher.onnx"}))
    assert main(["fetch-models"]) == 0
    assert sorted(p.name for p in cache.iterdir()) == [dm.YUNET.name]
    assert main(["fetch-models", "--which", "all"]) == 2, "the teacher is asked for here, and not served"
    assert "HTTP 404" in capsys.readouterr().err


@pytest.mark.parametrize("which, hint", [
    ("detector", "run 'fer-edge fetch-models --from face_detection_yunet_2023mar.onnx'"),
    ("teacher", "run 'fer-edge fetch-models --which teacher --from facial_expression_recognition_mobilefacenet"),
])
def test_the_offline_hint_names_the_command_for_that_model(cache, capsys, which, hint):
    assert main(["fetch-models", "--which", which, "--url", _closed_port_url(), "--timeout", "5"]) == 2
    (line,) = [ln for ln in capsys.readouterr().err.splitlines() if "error:" in ln]
    assert "no network?" in line and hint in line


def test_help_epilog_reads_as_sentences(capsys):
    with pytest.raises(SystemExit):
        main(["fetch-models", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Zoo).The" not in text and text.count("The cache folder is") == 1
    assert "SHA-256 " + dm.ZOO_FER.sha256 in text


def test_a_failed_download_keeps_a_good_installed_file(server, good, cache, capsys):
    assert main(["fetch-models", "--url", f"{server}/good.onnx"]) == 0
    assert main(["fetch-models", "--force", "--url", f"{server}/truncated.onnx"]) == 2
    assert dm.is_installed(cache / dm.YUNET.name)
    assert sorted(p.name for p in cache.iterdir()) == [dm.YUNET.name]


def test_install_from_a_file(yunet_bytes, cache, tmp_path, capsys):
    copy = tmp_path / "carried.onnx"
    copy.write_bytes(yunet_bytes)
    assert main(["fetch-models", "--from", str(copy)]) == 0
    assert dm.is_installed(cache / dm.YUNET.name)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model at all")
    (cache / dm.YUNET.name).unlink()
    assert main(["fetch-models", "--from", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"--from {bad}: not {dm.YUNET.name} (expected 232,589 bytes" in err
    assert main(["fetch-models", "--from", str(tmp_path / "nope.onnx")]) == 2
    assert "no such file (expected face_detection_yunet_2023mar.onnx)" in capsys.readouterr().err
    assert list(cache.iterdir()) == []


def test_lookup_order(cache, tmp_path, monkeypatch):
    assert dm.find_detector_model()[0] is None
    cached = cache / dm.YUNET.name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    env = tmp_path / "env.onnx"
    env.write_bytes(b"x")
    explicit = tmp_path / "explicit.onnx"
    explicit.write_bytes(b"x")
    assert dm.find_detector_model() == (cached, "cache")
    monkeypatch.setenv(dm.ENV_MODEL, str(env))
    assert dm.find_detector_model() == (env, dm.ENV_MODEL)
    assert dm.find_detector_model(explicit) == (explicit, "--detector-model")
    monkeypatch.setenv(dm.ENV_MODEL, str(tmp_path / "gone.onnx"))
    with pytest.raises(Exception, match="FER_EDGE_DETECTOR_MODEL=.*gone.onnx: no such file"):
        dm.find_detector_model()


def test_systemd_unit_fetches_the_detector_before_the_loop():
    import configparser
    import shlex

    import edge
    from edge.commands.dispatch import build_parser

    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.read(Path(edge.__file__).parent / "deploy" / "fer-edge.service")
    pre = unit["Service"]["ExecStartPre"]
    assert pre.startswith("-"), "no network at boot must not stop the loop (it falls back to Haar)"
    argv = shlex.split(pre[1:].replace("%h", "/home/me"))
    assert argv[0] == "/home/me/fer-edge/.venv/bin/fer-edge"
    fetch = build_parser().parse_args(argv[1:])
    assert fetch.command == "fetch-models" and fetch.which == "detector", "a Pi fetches the detector only"
    run = build_parser().parse_args(shlex.split(unit["Service"]["ExecStart"].replace("%h", "/home/me"))[1:])
    assert run.detector == "auto", "the unit uses YuNet once it is fetched"


def test_the_yunet_tests_find_a_fetched_copy_in_the_cache(cache, tmp_path):
    """After 'fer-edge fetch-models' the YuNet tests run (conftest.yunet_model), with no ../shared/models."""
    from conftest import find_yunet

    absent = str(tmp_path / "shared" / dm.YUNET.name)
    assert find_yunet(absent) == absent, "nothing anywhere: the message names ../shared/models"
    cache.mkdir()
    (cache / dm.YUNET.name).write_bytes(b"x")
    assert find_yunet(absent) == str(cache / dm.YUNET.name)
