"""``fer-edge data``: the table, the contact sheet, exit codes, and no heavy imports."""

from __future__ import annotations

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from edge.commands.dispatch import main


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def tiny_folder(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 3), ("val", 1)):
        for name in ("angry", "happy", "neutral"):
            folder = tmp_path / "ds" / split / name
            folder.mkdir(parents=True)
            for i in range(n):
                cv2.imwrite(str(folder / f"{i}.png"), rng.integers(0, 256, (64, 64), dtype=np.uint8))
    (tmp_path / "ds" / "train" / "happy" / "bad.png").write_bytes(b"broken")
    return tmp_path / "ds"


def test_data_prints_counts_and_writes_a_contact_sheet(tiny_folder, tmp_path, capsys):
    sheet = tmp_path / "out" / "sheet.png"
    assert main(["data", str(tiny_folder), "--contact-sheet", str(sheet), "--per-class", "2"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    assert lines["angry"] == ["3", "1", "4", "33.3%"]
    assert lines["disgust"] == ["0", "0", "0", "0.0%"]
    assert lines["total"] == ["9", "3", "12", "100.0%"]
    assert "1  corrupt or unreadable image" in out
    image = cv2.imread(str(sheet), cv2.IMREAD_UNCHANGED)
    assert image.ndim == 2 and image.shape[0] == 7 * (96 + 4)  # a row per class, tiles at 2x
    assert image.shape[1] == 150 + 2 * (96 + 2) + 2
    assert [p.name for p in sheet.parent.iterdir()] == ["sheet.png"]  # no temporary left behind


def test_data_on_synthetic_by_default(tmp_path, capsys, monkeypatch):
    from train.datasets import synthetic

    monkeypatch.setattr(synthetic, "split_sizes", lambda per_class=None: {"train": 2, "val": 1, "test": 1})
    assert main(["data", "--contact-sheet", str(tmp_path / "s.png")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("synthetic:0 (synthetic): 28 images") and "skipped: none" in out
    assert (tmp_path / "s.png").exists()


def test_missing_path_exits_2_with_one_line(tmp_path, capsys):
    assert main(["data", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("fer-edge data: error: ") and "missing: dataset path not found" in err[-1]


def test_subprocess_exit_codes_and_no_tensorflow(tiny_folder, tmp_path):
    env = {**os.environ, "FER_EDGE_CACHE": str(tmp_path / "cache")}
    code = ("import sys; from edge.commands.dispatch import main; rc = main(sys.argv[1:]); "
            "assert 'tensorflow' not in sys.modules and 'matplotlib' not in sys.modules; sys.exit(rc)")
    ok = subprocess.run([sys.executable, "-c", code, "data", str(tiny_folder)], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([sys.executable, "-m", "edge.commands", "data", str(tmp_path / "nope")], env=env,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "nope: dataset path not found" in bad.stderr
    fmt = subprocess.run([sys.executable, "-m", "edge.commands", "data", str(tiny_folder), "--format", "fer2013-csv"],
                         env=env, capture_output=True, text=True)
    assert fmt.returncode == 2 and "expected a FER2013 CSV file" in fmt.stderr


def test_data_frames_faces_as_train_does(monkeypatch, caplog):
    """The spec the data is loaded with comes from TrainConfig's framing, exactly as 'fer-edge train' builds it:
    the same default, --framing-margin/--framing-align, and --expw-margin as the older name of the margin."""
    import logging

    from train import datasets
    from train.config import TrainConfig

    seen = []

    def load_dataset(*args, spec, **kwargs):
        seen.append(spec.framing)
        raise KeyboardInterrupt  # stop before any loading: only the spec is looked at

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    for argv in ([], ["--framing-margin", "0.3", "--no-framing-align"], ["--expw-margin", "0.2"]):
        with caplog.at_level(logging.WARNING):
            assert main(["data", *argv]) == 130
    assert seen == [TrainConfig().framing, TrainConfig(framing_margin=0.3, framing_align=False).framing,
                    TrainConfig(framing_margin=0.2).framing]
    assert sum("--expw-margin" in r.getMessage() and "deprecated" in r.getMessage() for r in caplog.records) == 1


def test_a_bad_framing_margin_is_one_line(capsys):
    assert main(["data", "--framing-margin", "5"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "framing" in line and "5" in line
