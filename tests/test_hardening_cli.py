"""Issue 21, the workstation commands: each bad path or contradictory option is one line on stderr and exit 2,
with no traceback and nothing written outside (or left behind in) the folder it was meant for; the quiet
surprises (a val split carved from unsplit data, a one-class folder) get one warning.

Datasets are tiny folders in the real on-disk layout; the models are the shipped micro model and tiny ones
built in the test. Nothing is downloaded."""

import logging
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.commands.dispatch import main
from edge.core.spec import DEFAULT_SPEC, spec_path_for
from edge_testkit import one_line_error

MICRO = Path(__file__).resolve().parent.parent / "models" / "fer_micro_int8.tflite"


def snapshot(folder: Path) -> dict:
    """Every file under ``folder`` with its bytes and modification time: what 'nothing changed' means."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def faces(folder: Path, classes: dict[str, int]) -> Path:
    """``folder/<name>/<i>.png`` grey 48x48 faces, ``classes[name]`` of them."""
    for name, n in classes.items():
        (folder / name).mkdir(parents=True)
        for i in range(n):
            cv2.imwrite(str(folder / name / f"{i}.png"), np.full((48, 48), 40 + 20 * i, np.uint8))
    return folder


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))


# --- export-mobile: the checks run before the stage loads, so these need its extra installed but are fast

MOBILE = pytest.mark.requires("tensorflow", "tf_keras", "ai_edge_litert", "flatbuffers")


@MOBILE
@pytest.mark.parametrize("name", ["../../x", "sub/x", "..", "/tmp/x"])
def test_export_mobile_name_must_be_a_plain_file_name(tmp_path, name, capsys):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    assert main(["export-mobile", str(MICRO), "--out-dir", str(work / "out"), "--name", name]) == 2
    one_line_error(capsys, f"--name {name!r}: expected a plain file name")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


@MOBILE
def test_export_mobile_out_an_existing_file_even_with_force(tmp_path, capsys):
    target = tmp_path / "app_model"
    target.write_text("mine\n")
    assert main(["export-mobile", str(MICRO), "--out-dir", str(target), "--force"]) == 2
    one_line_error(capsys, f"--out-dir {target}: is a file (expected a folder")
    assert target.read_text() == "mine\n" and [p.name for p in tmp_path.iterdir()] == ["app_model"]


@MOBILE
def test_export_mobile_out_inside_an_unwritable_folder(tmp_path, monkeypatch, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: make the permission check see what a user would
        real_access = os.access
        monkeypatch.setattr("edge.core.paths.os.access", lambda p, mode: False if Path(p) == locked else real_access(p, mode))
    try:
        assert main(["export-mobile", str(MICRO), "--out-dir", str(locked / "sub" / "app")]) == 2
        one_line_error(capsys, f"--out-dir {locked / 'sub' / 'app'}: cannot write in {locked}")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


# --- evaluate (the shipped int8 micro model: no TensorFlow needed)

EVAL = pytest.mark.requires("sklearn")


@EVAL
def test_evaluate_the_same_data_twice_is_refused(tmp_path, monkeypatch, capsys):
    data = faces(tmp_path / "mine", {"happy": 2, "sad": 2})
    monkeypatch.chdir(tmp_path)
    for twice in (["--data", str(data), "--data", str(data)], ["--data", "mine", "--data", "./mine/"]):
        assert main(["evaluate", str(MICRO), *twice, "--json", str(tmp_path / "m.json")]) == 2
        one_line_error(capsys, f"--data {twice[3]}: given twice", "expected each source once")
    assert not (tmp_path / "m.json").exists()


@EVAL
def test_evaluate_split_val_on_unsplit_data_says_so(tmp_path, caplog, capsys):
    data = faces(tmp_path / "mine", {"happy": 10, "sad": 10})
    caplog.set_level(logging.WARNING)
    assert main(["evaluate", str(MICRO), "--data", str(data), "--split", "val"]) == 0
    said = [r.getMessage() for r in caplog.records if "split of its own" in r.getMessage()]
    assert said == [f"{data}: has no val split of its own; scoring the 2 faces training would hold out of it "
                    "(--split all scores every face)"]
    assert "Traceback" not in capsys.readouterr().err


# --- data folders


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


# --- train


@pytest.mark.requires("tensorflow", "tf_keras")
def test_source_weight_with_one_data_source(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["train", "--data", "synthetic", "--source-weight", "0.7", "--runs-dir", str(runs)]) == 2
    one_line_error(capsys, "--source-weight 0.7 with a single --data source (synthetic)")
    assert not runs.exists()


def _teacher(path: Path, classes: int) -> Path:
    import tf_keras as keras

    model = keras.Sequential([keras.layers.Input(DEFAULT_SPEC.input_shape), keras.layers.Flatten(),
                              keras.layers.Dense(classes), keras.layers.Softmax()])
    model.save(path)
    DEFAULT_SPEC.save(spec_path_for(path))
    return path


@pytest.mark.slow
@pytest.mark.requires("tensorflow", "tf_keras")
@pytest.mark.parametrize("kind, message", [
    ("corrupt", "corrupt.keras: not a loadable .keras model"),
    ("five_outputs", "five_outputs.keras: model maps (48, 48, 1) -> 5 classes, but its spec says (48, 48, 1) -> 7"),
])
def test_a_bad_teacher_fails_before_the_run_folder_exists(tmp_path, kind, message, capsys):
    teacher = tmp_path / f"{kind}.keras"
    if kind == "corrupt":
        _teacher(teacher, 7)
        teacher.write_bytes(teacher.read_bytes()[:2000])
    else:
        _teacher(teacher, 5)
    runs = tmp_path / "runs"
    assert main(["train", "--teacher", str(teacher), "--synthetic-per-class", "5", "--epochs", "1",
                 "--width", "8", "--name", "t", "--runs-dir", str(runs)]) == 2
    one_line_error(capsys, message)
    assert not runs.exists()  # no run folder that would then demand --resume
    assert not list((tmp_path / "cache").glob("teacher-*"))  # and no teacher cache file


@pytest.mark.requires("tensorflow", "tf_keras")
def test_resume_with_a_corrupt_checkpoint_changes_nothing(tmp_path, capsys):
    import tensorflow as tf

    from train.config import TrainConfig
    from train.fit import TrainState

    run = tmp_path / "runs" / "r"
    (run / "checkpoints").mkdir(parents=True)
    TrainConfig(epochs=3, synthetic_per_class=5).save(run)
    prefix = tf.train.Checkpoint(w=tf.Variable(tf.ones((4096,)))).save(str(run / "checkpoints" / "ckpt"))
    TrainState(epoch=1, checkpoint=Path(prefix).name, history=[{"epoch": 1, "loss": 1.0}]).save(run)
    data = next((run / "checkpoints").glob("ckpt-1.data-*"))
    data.write_bytes(data.read_bytes()[:1000])  # cut short, as by a full disk
    before = snapshot(tmp_path)
    assert main(["train", "--resume", str(run), "--epochs", "5"]) == 2
    one_line_error(capsys, f"{run / 'checkpoints' / 'ckpt-1'}: corrupt or missing checkpoint",
                   "the run cannot be resumed")
    assert snapshot(tmp_path) == before  # train_config.json keeps epochs 3; no data.json, spec or model written
