"""Which YuNet the loop runs and what it says when one is bad: a corrupt or altered copy in the cache is refused
with the fix, one the user named is used with one warning, the environment variable is named when its file is
bad, --detector haar with a model file is a contradiction, a FER_EDGE_CACHE that is a file and an oversized
--url download fail at once."""

import http.client
import http.server
import logging
import threading

import pytest
from edge_testkit import one_line_error, write_no_face_frames

from edge import detector_model as dm
from edge.commands.dispatch import main
from edge.core.cache import ENV_CACHE


def tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def frames(tmp_path):
    return write_no_face_frames(tmp_path / "frames", 2)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    folder.mkdir()
    monkeypatch.setenv(ENV_CACHE, str(folder))
    return folder


def _run(model, frames, *extra):
    return main(["run", str(model), "--source", str(frames), "--headless", "--max-frames", "1", *extra])


@pytest.mark.parametrize("content", [b"", b"ONNX? no, a text file\n", "truncated"])
def test_a_corrupt_cached_detector_is_refused_with_the_fix(int8_model, frames, cache, content, capsys):
    if content == "truncated":
        content = bytes(range(256)) * 400  # 102,400 bytes: a download cut short
    (cache / dm.YUNET.name).write_bytes(content)
    before = tree(cache)
    assert _run(int8_model, frames) == 2
    err = one_line_error(capsys, f"{cache / dm.YUNET.name}: corrupt cached copy of {dm.YUNET.name}",
                         f"got {len(content):,} bytes", "run 'fer-edge fetch-models --force'")
    assert "--detector-model" not in err
    assert tree(cache) == before


def test_a_cached_detector_with_one_byte_flipped_is_refused(int8_model, frames, cache, yunet_model, capsys):
    data = bytearray(yunet_model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    (cache / dm.YUNET.name).write_bytes(bytes(data))
    assert _run(int8_model, frames, "--detector", "yunet") == 2
    one_line_error(capsys, "corrupt cached copy", "232,589 bytes with SHA-256", "fetch-models --force")


def test_a_named_detector_that_differs_is_used_with_one_warning(int8_model, frames, tmp_path, yunet_model,
                                                                 caplog, capsys):
    data = bytearray(yunet_model.read_bytes())
    data[-1] ^= 0x01  # still a loadable YuNet, but not the pinned bytes
    named = tmp_path / "my_yunet.onnx"
    named.write_bytes(bytes(data))
    caplog.set_level(logging.WARNING)
    assert _run(int8_model, frames, "--detector-model", str(named)) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"--detector-model {named}: not the pinned {dm.YUNET.name}" in warnings[0]
    assert "Traceback" not in capsys.readouterr().err


def test_the_environment_variable_is_named_when_its_file_is_bad(int8_model, frames, tmp_path, monkeypatch,
                                                                caplog, capsys):
    text = tmp_path / "notes.onnx"
    text.write_text("not a model\n")
    monkeypatch.setenv(dm.ENV_MODEL, str(text))
    caplog.set_level(logging.WARNING)
    assert _run(int8_model, frames) == 2
    one_line_error(capsys, f"{dm.ENV_MODEL}={text}: not an ONNX model OpenCV can read")
    assert [r.getMessage() for r in caplog.records if dm.ENV_MODEL in r.getMessage()]


def test_haar_with_a_detector_model_is_a_contradiction(int8_model, frames, tmp_path, capsys):
    assert _run(int8_model, frames, "--detector", "haar", "--detector-model", str(tmp_path / "y.onnx")) == 2
    one_line_error(capsys, "--detector haar with --detector-model", "takes no model file")


def test_fer_edge_cache_pointing_at_a_file(tmp_path, monkeypatch, yunet_model, capsys):
    not_a_folder = tmp_path / "cachefile"
    not_a_folder.write_text("keep me\n")
    monkeypatch.setenv(ENV_CACHE, str(not_a_folder))
    assert main(["fetch-models", "--from", str(yunet_model)]) == 2
    one_line_error(capsys, f"{ENV_CACHE}={not_a_folder}: {not_a_folder} is a file, not a folder")
    assert not_a_folder.read_text() == "keep me\n" and tree(tmp_path) == ["cachefile"]


@pytest.fixture
def oversized_server():
    """/big.onnx: 5x YuNet's size with a Content-Length; /stream.onnx: the same with none (read to the end)."""
    body = b"\0" * (5 * dm.YUNET.size)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(200)
            if self.path == "/big.onnx":
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("path, message", [("/big.onnx", "the server offers 1,162,945 bytes, more than 4x"),
                                           ("/stream.onnx", "stopped after ")])
def test_fetch_models_url_has_a_size_cap(oversized_server, cache, path, message, capsys):
    assert main(["fetch-models", "--url", oversized_server + path]) == 2
    err = capsys.readouterr().err
    err = err[err.rfind("\n", 0, len(err) - 1) + 1:]  # after the progress bar's line
    assert message in err and "232,589 bytes of face_detection_yunet_2023mar.onnx" in err and "check --url" in err
    assert tree(cache) == []
