"""train's bad flags and inputs fail before the run folder exists, with one line naming the flag: a source weight
for a single source, a teacher that does not load or has other classes, a corrupt checkpoint to resume, an ExpW
margin out of range. Nothing is downloaded; the teachers are tiny models built in the test."""

from pathlib import Path

import pytest
from edge_testkit import one_line_error

from edge.commands.dispatch import main
from edge.core.spec import DEFAULT_SPEC, spec_path_for


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))


def snapshot(folder: Path) -> dict:
    """Every file under ``folder`` with its bytes and modification time: what 'nothing changed' means."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


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


@pytest.mark.requires("tensorflow", "tf_keras")
def test_the_expw_margin_message_names_a_flag(tmp_path, capsys):
    assert main(["train", "--runs-dir", str(tmp_path / "runs"), "--expw-margin", "5"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "spec framing margin" not in err
    assert err.splitlines()[-1].endswith("(--framing-margin) must be in -0.25..2, got 5.0")
    assert not (tmp_path / "runs").exists()
