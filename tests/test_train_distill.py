"""Knowledge distillation: the loss by hand, teacher outputs computed once and cached, a real run with a teacher."""

import json
import math

import numpy as np
import pytest

from edge.commands.dispatch import main
from edge.core.errors import UserError
from edge.core.spec import DEFAULT_SPEC, spec_path_for

pytest.importorskip("tf_keras")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_distillation_loss_by_hand():
    from train.distill import DistillationLoss

    rng = np.random.default_rng(0)
    student_logits, teacher_logp = rng.normal(size=(4, 7)), np.log(_softmax(rng.normal(size=(4, 7))))
    probs = _softmax(student_logits).astype(np.float32)
    onehot = np.eye(7, dtype=np.float32)[[0, 3, 6, 2]]
    t, a = 3.0, 0.4
    ce = -np.log(probs[np.arange(4), [0, 3, 6, 2]])
    pt, ps = _softmax(teacher_logp / t), _softmax(student_logits / t)
    kl = (pt * (np.log(pt) - np.log(ps))).sum(axis=1)
    loss = DistillationLoss(7, temperature=t, weight=a)
    got = float(loss(np.concatenate([onehot, teacher_logp], axis=1).astype(np.float32), probs))
    assert got == pytest.approx(float(np.mean((1 - a) * ce + a * t * t * kl)), rel=1e-4)
    assert float(loss(onehot, probs)) == pytest.approx(float(ce.mean()), rel=1e-5)  # val batches: labels only
    # weight 0 is plain cross-entropy; a teacher equal to the student adds nothing
    same = np.concatenate([onehot, np.log(probs)], axis=1)
    assert float(DistillationLoss(7, weight=0.5)(same, probs)) == pytest.approx(0.5 * float(ce.mean()), rel=1e-3)


@pytest.fixture(scope="module")
def int8_teacher(tmp_path_factory):
    """A full-int8 .tflite (brightness -> angry/happy, others near 0: int8 zeros in its output) and its spec."""
    import tensorflow as tf
    import tf_keras as keras

    L = keras.layers
    model = keras.Sequential([keras.Input(DEFAULT_SPEC.input_shape), L.GlobalAveragePooling2D(), L.Dense(7), L.Softmax()])
    w, b = np.zeros((1, 7), np.float32), np.full(7, -10, np.float32)
    w[0, 0], b[0], w[0, 3], b[3] = -10, 5, 10, -5
    model.layers[1].set_weights([w, b])
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([np.full((1, 48, 48, 1), v / 255, np.float32)] for v in range(0, 256, 15))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    path = tmp_path_factory.mktemp("teacher") / "teacher_int8.tflite"
    path.write_bytes(conv.convert())
    DEFAULT_SPEC.save(spec_path_for(path))
    return path


def test_teacher_outputs_are_computed_once_and_cached(int8_teacher, monkeypatch):
    import train.distill as distill

    images = np.stack([np.full((48, 48), v, np.uint8) for v in (10, 240, 128)])
    calls = []
    real = distill._tflite_log_probs
    monkeypatch.setattr(distill, "_tflite_log_probs", lambda *a: calls.append(1) or real(*a))
    first = distill.teacher_log_probs(int8_teacher, images, DEFAULT_SPEC)
    again = distill.teacher_log_probs(int8_teacher, images, DEFAULT_SPEC)
    assert len(calls) == 1 and np.array_equal(first, again)
    assert first.shape == (3, 7) and np.isfinite(first).all()  # int8 zeros read as half a step, not log(0)
    np.testing.assert_allclose(np.exp(first).sum(axis=1), 1.0, rtol=1e-5)
    assert first[0].argmax() == 0 and first[1].argmax() == 3  # dark -> angry, bright -> happy
    # other faces (or another teacher) are another cache entry
    distill.teacher_log_probs(int8_teacher, images[:2], DEFAULT_SPEC)
    assert len(calls) == 2


def test_teacher_with_another_contract_is_refused(int8_teacher, tmp_path):
    import dataclasses

    from train.distill import teacher_log_probs

    other = tmp_path / "other.tflite"
    other.write_bytes(int8_teacher.read_bytes())
    dataclasses.replace(DEFAULT_SPEC, interpolation="linear").save(spec_path_for(other))
    with pytest.raises(UserError, match="interpolation"):
        teacher_log_probs(other, np.zeros((1, 48, 48), np.uint8), DEFAULT_SPEC)
    with pytest.raises(UserError, match="no such teacher model file"):
        teacher_log_probs(tmp_path / "missing.tflite", np.zeros((1, 48, 48), np.uint8), DEFAULT_SPEC)


@pytest.mark.slow
def test_train_with_a_teacher(int8_teacher, tmp_path, capsys):
    args = ["train", "--width", "8", "--synthetic-per-class", "20", "--epochs", "2", "--no-augment",
            "--teacher", str(int8_teacher), "--distill-temperature", "2", "--distill-weight", "0.7",
            "--runs-dir", str(tmp_path)]
    assert main([*args, "--name", "kd"]) == 0
    run = tmp_path / "kd"
    data = json.loads((run / "data.json").read_text())
    assert data["teacher"]["model"] == str(int8_teacher) and 0 <= data["teacher"]["train_accuracy"] <= 1
    cfg = json.loads((run / "train_config.json").read_text())
    assert cfg["teacher"] == str(int8_teacher) and cfg["distill_weight"] == 0.7
    history = (run / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch,loss,accuracy,val_loss,val_accuracy") and len(history) == 3
    last = dict(zip(history[0].split(","), history[-1].split(",")))
    assert all(math.isfinite(float(last[k])) for k in ("loss", "accuracy", "val_loss", "val_accuracy"))
    assert main(["evaluate", str(run), "--json", str(tmp_path / "e.json")]) == 0  # the saved model loads
    # a teacher that does not exist is refused before anything is written
    assert main([*args[:-2], "--teacher", str(tmp_path / "nope.tflite"), "--runs-dir", str(tmp_path), "--name", "bad"]) == 2
    assert "no such teacher model file" in capsys.readouterr().err and not (tmp_path / "bad").exists()
