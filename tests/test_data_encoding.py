"""A dataset file in another encoding than UTF-8 is one line naming it (issue 36, case 17), not a traceback."""

import pytest
from edge_testkit import one_line_error

from edge.commands.dispatch import main

pytestmark = pytest.mark.requires("tensorflow", "tf_keras")


def test_a_latin1_fer2013_csv(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))
    csv = tmp_path / "fer2013.csv"
    pixels = " ".join(["128"] * 48 * 48)
    csv.write_bytes(f"emotion,pixels,Usage\n3,{pixels},Training\n".encode() + "4,1 2,Entraînement\n".encode("latin-1"))
    assert main(["data", str(csv), "--no-cache"]) == 2
    one_line_error(capsys, f"{csv}: not UTF-8 text (byte 0xee", "save it again as UTF-8")
