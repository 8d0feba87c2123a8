"""What `data` and `evaluate` say about the data they are given: the same source twice is refused, a folder of
unknown class names names them and the valid ones, and the quiet surprises (a val split carved from unsplit data,
a one-class folder) get one warning. Datasets are tiny folders in the real on-disk layout; the model is the
shipped micro model (no TensorFlow needed)."""

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from edge_testkit import one_line_error

from edge.commands.dispatch import main


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))


MICRO = Path(__file__).resolve().parent.parent / "models" / "fer_micro_int8.tflite"


def faces(folder: Path, classes: dict[str, int]) -> Path:
    """``folder/<name>/<i>.png`` grey 48x48 faces, ``classes[name]`` of them."""
    for name, n in classes.items():
        (folder / name).mkdir(parents=True)
        for i in range(n):
            cv2.imwrite(str(folder / name / f"{i}.png"), np.full((48, 48), 40 + 20 * i, np.uint8))
    return folder


EVAL = pytest.mark.requires("sklearn")


@EVAL
def test_evaluate_the_same_data_twice_is_refused(tmp_path, monkeypatch, capsys):
    data = faces(tmp_path / "mine", {"happy": 2, "sad": 2})
    monkeypatch.chdir(tmp_path)
    for twice in (["--data", str(data), "--data", str(data)], ["--data", "mine", "--data", "./mine/"]):
        assert main(["evaluate", str(MICRO), *twice, "--json", str(tmp_path / "m.json")]) == 2
        one_line_error(capsys, f"--data {twice[3]}: given twice", "expected each source once")
    assert not (tmp_path / "m.json").exists()


@pytest.mark.requires("sklearn")
def test_evaluate_a_folder_and_its_label_file_is_the_same_data(int8_model, tmp_path, capsys):
    ds = tmp_path / "ds" / "expw"
    ds.mkdir(parents=True)
    (ds / "label.lst").write_text("")
    assert main(["evaluate", str(int8_model), "--data", str(ds), "--data", str(ds / "label.lst")]) == 2
    one_line_error(capsys, "given twice", "count every face twice")


@EVAL
def test_evaluate_split_val_on_unsplit_data_says_so(tmp_path, caplog, capsys):
    data = faces(tmp_path / "mine", {"happy": 10, "sad": 10})
    caplog.set_level(logging.WARNING)
    assert main(["evaluate", str(MICRO), "--data", str(data), "--split", "val"]) == 0
    said = [r.getMessage() for r in caplog.records if "split of its own" in r.getMessage()]
    assert said == [f"{data}: has no val split of its own; scoring the 2 faces training would hold out of it "
                    "(--split all scores every face)"]
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("layout", ["flat", "split"])
@pytest.mark.parametrize("fmt", [[], ["--format", "folders"]])
def test_a_folder_of_unknown_class_names_names_them_and_the_valid_ones(tmp_path, layout, fmt, capsys):
    root = tmp_path / "ckplus"
    faces(root / "train" if layout == "split" else root, {"contempt": 1, "calm": 1})
    assert main(["data", str(root), *fmt, "--no-cache"]) == 2
    prefix = "train/" if layout == "split" else ""
    one_line_error(capsys, f"found {prefix}calm/, {prefix}contempt/", "expected <class>/ or <split>/<class>/ folders "
                   "named angry, disgust, fear, happy, sad, surprise, neutral")


def test_a_one_class_folder_gets_a_warning(tmp_path, caplog, capsys):
    root = faces(tmp_path / "only_happy", {"happy": 10})
    caplog.set_level(logging.WARNING)
    assert main(["data", str(root), "--no-cache"]) == 0
    said = [r.getMessage() for r in caplog.records if "one class" in r.getMessage()]
    assert said == [f"{root}: every face is happy (one class): accuracy on it, or a model trained on it, says "
                    "nothing about the other 6 classes"]
    assert "Traceback" not in capsys.readouterr().err
