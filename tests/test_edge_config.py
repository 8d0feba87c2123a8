"""EdgeConfig validation and saving, and the stage timer's arithmetic."""

import json
from dataclasses import replace

import pytest

from edge.config import EdgeConfig, is_loopback, parse_hostport, parse_size
from edge.core.errors import UserError
from edge.core.jsonio import dataclass_from_dict
from edge.timing import StageTimer


def test_parsers():
    assert parse_size("320x240", "--lores") == (320, 240)
    for bad in ("320", "320x", "axb", "8x8", "321x240"):
        with pytest.raises(UserError, match="--lores"):
            parse_size(bad, "--lores")
    assert parse_hostport("127.0.0.1:8000") == ("127.0.0.1", 8000)
    assert parse_hostport(":9000") == ("127.0.0.1", 9000)
    assert parse_hostport("[::1]:80") == ("::1", 80)
    with pytest.raises(UserError, match="HOST:PORT"):
        parse_hostport("localhost")
    assert is_loopback("127.0.0.2") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("pi.local")


def test_network_listening_needs_the_flag_and_hides_the_token(tmp_path):
    with pytest.raises(UserError, match="--listen-network"):
        EdgeConfig(source="x", serve="192.168.1.5:8000")
    with pytest.raises(UserError, match="needs --serve"):
        EdgeConfig(source="x", listen_network=True)
    with pytest.raises(UserError, match="at least 8"):
        EdgeConfig(source="x", serve="0.0.0.0:8000", listen_network=True, token="short")
    config = EdgeConfig(source="x", serve="0.0.0.0:8000", listen_network=True, token="secret-123",
                        out=str(tmp_path / "run.mp4"), jsonl=str(tmp_path / "run.jsonl"))
    assert config.config_paths() == [tmp_path / "run.config.json"]
    [saved] = config.save_beside_outputs()
    data = json.loads(saved.read_text())
    assert data["token"] == "<hidden>" and "secret-123" not in saved.read_text()
    again = dataclass_from_dict(EdgeConfig, {**data, "token": None}, str(saved), "edge config")
    assert again == replace(config, token=None)  # the saved config reads back as it ran, less the token


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_stage_timer_split_and_share_outside_detect_and_infer():
    clock = _Clock()
    timer = StageTimer(clock)
    for _ in range(4):
        timer.begin()
        for stage, ms in (("capture", 2), ("detect", 10), ("infer", 6), ("draw", 1), ("encode", 1), ("pace", 13)):
            clock.now += ms / 1000
            timer.lap(stage)
        timer.end_frame()
    s = timer.summary()
    assert s["frames"] == 4 and s["wall_s"] == pytest.approx(0.132)
    assert s["ms_per_frame"] == pytest.approx({"capture": 2, "detect": 10, "infer": 6, "draw": 1, "encode": 1,
                                               "pace": 13})
    assert s["share"]["detect"] == pytest.approx(0.5) and "pace" not in s["share"]
    assert s["outside_core_share"] == pytest.approx(0.2)
    table = timer.table()
    assert "| detect | 10.00 | 50.0% |" in table and "| **total** | 20.00 | 100% |" in table
    assert "20.0% of frame time outside detect+infer" in table
