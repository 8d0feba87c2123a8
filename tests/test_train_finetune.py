"""Fine-tuning with --init: weights carried over, the contract checked, the convolutions frozen for the first epochs."""

import json

import numpy as np
import pytest

from edge.commands.dispatch import main

pytest.importorskip("tf_keras")

QUICK = ["--width", "8", "--synthetic-per-class", "20", "--no-augment", "--patience", "0"]


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path_factory.getbasetemp() / "fer_edge_cache"))


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    assert main(["train", *QUICK, "--epochs", "2", "--name", "base", "--runs-dir", str(runs)]) == 0
    return runs / "base"


def _weights(path):
    import tf_keras as keras

    model = keras.models.load_model(path, compile=False, safe_mode=True)
    return {w.name: w.numpy() for w in model.weights}, model


def _last_checkpoint_weights(run):
    """The weights after the last completed epoch (model.keras is the best one, which may be earlier)."""
    import tensorflow as tf

    from edge.core.spec import DEFAULT_SPEC
    from train.models import build_model

    model = build_model("micro", DEFAULT_SPEC, width=8)
    state = json.loads((run / "checkpoints" / "state.json").read_text())
    tf.train.Checkpoint(model=model).restore(str(run / "checkpoints" / state["checkpoint"])).expect_partial()
    return {w.name: w.numpy() for w in model.weights}


@pytest.mark.slow
def test_frozen_epoch_trains_only_the_head_then_everything(base_run, tmp_path):
    from train.fit import head_start

    start, model = _weights(base_run / "model.keras")
    head = {w.name for layer in model.layers[head_start(model):] for w in layer.weights}
    assert head and len(head) < len(start)
    args = ["train", *QUICK, "--init", str(base_run), "--lr", "0.01", "--runs-dir", str(tmp_path)]
    assert main([*args, "--epochs", "1", "--freeze-epochs", "1", "--name", "frozen"]) == 0
    after = _last_checkpoint_weights(tmp_path / "frozen")
    for name, value in start.items():
        if name in head:
            assert not np.array_equal(after[name], value), f"{name} (head) did not train"
        else:  # kernels and BatchNorm statistics alike
            np.testing.assert_array_equal(after[name], value, err_msg=f"{name} changed while frozen")
    cfg = json.loads((tmp_path / "frozen" / "train_config.json").read_text())
    assert cfg["init"] == str(base_run) and cfg["freeze_epochs"] == 1
    # resumed past the frozen epochs, the convolutions train too
    assert main(["train", "--resume", str(tmp_path / "frozen"), "--epochs", "2"]) == 0
    later = _last_checkpoint_weights(tmp_path / "frozen")
    conv = [n for n in start if n not in head and "kernel" in n]
    assert conv and all(not np.array_equal(later[n], start[n]) for n in conv)


@pytest.mark.slow
def test_init_starts_from_the_given_weights(base_run, tmp_path):
    """One epoch at a tiny learning rate from --init stays next to the base model's accuracy."""
    base = json.loads((base_run / "metrics.json").read_text())["val"]["accuracy"]
    assert main(["train", *QUICK, "--init", str(base_run / "model.keras"), "--lr", "1e-6", "--min-lr", "1e-6",
                 "--epochs", "1", "--name", "ft", "--runs-dir", str(tmp_path)]) == 0
    tuned = json.loads((tmp_path / "ft" / "metrics.json").read_text())["val"]["accuracy"]
    assert tuned == pytest.approx(base, abs=0.03)


def test_init_contract_is_checked_before_anything_is_written(base_run, tmp_path, capsys):
    args = ["train", "--synthetic-per-class", "20", "--epochs", "1", "--runs-dir", str(tmp_path), "--name", "x"]
    assert main([*args, "--width", "16", "--init", str(base_run)]) == 2  # other preset options
    assert "preset options" in capsys.readouterr().err
    assert main([*args, "--preset", "seed", "--init", str(base_run)]) == 2
    assert "preset 'micro'" in capsys.readouterr().err
    tfl = tmp_path / "m.tflite"
    tfl.write_bytes(b"x")
    assert main([*args, "--width", "8", "--init", str(tfl)]) == 2
    assert "float .keras" in capsys.readouterr().err
    assert main([*args, "--width", "8", "--init", str(tmp_path / "missing.keras")]) == 2
    assert "no such --init model file" in capsys.readouterr().err
    assert main([*args, "--width", "8", "--freeze-epochs", "2"]) == 2  # freezing needs a model to start from
    assert "init" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
