"""One quantize per run at a time (issue 36, case 7): while one works on a run, a second is refused in one line
before it touches anything, in particular the first one's staging folder."""

import os

import pytest
from conftest import build_tiny_keras
from edge_testkit import one_line_error

from edge.commands.dispatch import main
from edge.core.errors import UserError
from edge.core.lock import folder_locked
from edge.core.spec import DEFAULT_SPEC, spec_path_for


def test_a_folder_lock_is_exclusive_and_released(tmp_path):
    with folder_locked(tmp_path, "busy"):
        with pytest.raises(UserError, match="^busy$"):
            with folder_locked(tmp_path, "busy"):
                pass
    with folder_locked(tmp_path, "busy"):  # released when the first block ended
        pass
    assert list(tmp_path.iterdir()) == [], "a lock leaves no file behind"


@pytest.mark.requires("tensorflow", "tf_keras", "tensorflow_model_optimization")
def test_a_second_quantize_of_a_run_is_refused_and_leaves_the_first_alone(tmp_path, monkeypatch, capsys):
    from train.config import TrainConfig

    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    run.mkdir()
    TrainConfig(data="synthetic", epochs=1).save(run)
    build_tiny_keras().save(run / "model.keras")
    DEFAULT_SPEC.save(spec_path_for(run / "model.keras"))
    live = run / ".quantize.first.tmp"  # the staging folder of the quantize that is running
    live.mkdir()
    (live / "model_int8.tflite").write_bytes(b"half-built")
    with folder_locked(run, "held by the first quantize"):
        assert main(["quantize", str(run)]) == 2
    one_line_error(capsys, f"{run}: another fer-edge quantize is working on this run")
    assert (live / "model_int8.tflite").read_bytes() == b"half-built"
    assert sorted(os.listdir(run)) == [".quantize.first.tmp", "model.keras", "model.spec.json", "train_config.json"]
