"""fetch-models refuses values it cannot use in one line (issue 36, case 16): a --timeout that is not a positive
finite number of seconds, a --url that is not http(s). Nothing is contacted."""

import pytest
from edge_testkit import one_line_error

from edge.commands.dispatch import main


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("value", ["nan", "-1", "inf", "0", "soon", "1e9"])
def test_a_timeout_that_cannot_be_waited(value, capsys):
    with pytest.raises(SystemExit) as info:
        main(["fetch-models", "--timeout", value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--timeout: expected a number of seconds above 0" in err, err


@pytest.mark.parametrize("url", ["x.onnx", "file:///etc/passwd", "ftp://host/x.onnx", "http://", "/tmp/x.onnx"])
def test_a_url_that_is_not_http(url, tmp_path, capsys):
    assert main(["fetch-models", "--which", "detector", "--url", url]) == 2
    one_line_error(capsys, f"--url {url!r}: expected an http:// or https:// URL", "--from FILE")
    assert not (tmp_path / "cache").exists()
