"""``fer-edge evaluate`` of a .tflite with the edge extra alone (a Pi: no TensorFlow, no scikit-learn), with the
same numbers scikit-learn gives."""

import json
import os
import subprocess
import sys
import textwrap
import warnings

import cv2
import numpy as np
import pytest
from conftest import missing_modules, require_modules
from edge_testkit import demo_frames, import_blocker

from edge.core.spec import DEFAULT_SPEC, LABELS
from edge.evaluate import metrics_from_predictions

#: what an edge-only install lacks; the subprocess refuses to import them
BLOCKED = ("tensorflow", "tf_keras", "keras", "sklearn", "scipy")
BLOCKER = import_blocker(BLOCKED, "not in the edge extra") + textwrap.dedent("""
    from edge.commands.dispatch import main
    sys.exit(main(sys.argv[1:]))
""")


def sklearn_metrics(y_true, probs, n_classes):
    """The numbers as scikit-learn computes them (what evaluate printed before it went NumPy-only)."""
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
    )

    ids = list(range(n_classes))
    y_pred = np.asarray(probs).argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=ids, zero_division=0)
    with warnings.catch_warnings():  # "y_pred contains classes not in y_true": meant here
        warnings.simplefilter("ignore", UserWarning)
        balanced = balanced_accuracy_score(y_true, y_pred)
    return {"accuracy": accuracy_score(y_true, y_pred), "balanced_accuracy": balanced,
            "macro_f1": f1_score(y_true, y_pred, average="macro", zero_division=0),
            "precision": precision, "recall": recall, "f1": f1, "support": support,
            "confusion": confusion_matrix(y_true, y_pred, labels=ids)}


def assert_same(m, ref):
    for key in ("accuracy", "balanced_accuracy", "macro_f1"):
        assert m[key] == pytest.approx(ref[key], abs=1e-12), key
    for field in ("precision", "recall", "f1", "support"):
        np.testing.assert_allclose([c[field] for c in m["per_class"].values()], ref[field], atol=1e-12, err_msg=field)
    np.testing.assert_array_equal(m["confusion"], ref["confusion"])


@pytest.mark.parametrize("seed", range(6))
def test_numpy_metrics_equal_scikit_learn(seed):
    """Random labels and predictions, some classes never true or never predicted (seed 0: one class only)."""
    require_modules("sklearn")
    rng = np.random.default_rng(seed)
    k, n = 7, int(rng.integers(1, 60))
    classes = rng.choice(k, size=1 if seed == 0 else int(rng.integers(2, k + 1)), replace=False)
    y_true = rng.choice(classes, size=n)
    probs = rng.random((n, k)) * (rng.random(k) < 0.8)  # some columns never win
    assert_same(metrics_from_predictions(y_true, probs, LABELS), sklearn_metrics(y_true, probs, k))


def _face_folder(root, count=28):
    """Crops of the demo scene's faces in <class>/ folders (classes assigned in turn: a mix to score)."""
    crops = [cv2.cvtColor(frame[y:y + h, x:x + w], cv2.COLOR_BGR2GRAY)
             for frame, boxes in demo_frames(count // 2, seed=3) for x, y, w, h in boxes][:count]
    for i, crop in enumerate(crops):
        folder = root / LABELS[i % len(LABELS)]
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{i}.png"), crop)
    return root


def test_evaluate_a_tflite_with_the_edge_extra_alone(int8_model, tmp_path):
    faces = _face_folder(tmp_path / "mine")
    out = tmp_path / "metrics.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", BLOCKER, "evaluate", str(int8_model), "--data", str(faces),
                           "--split", "all", "--json", str(out)], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "macro-F1" in done.stdout and "confusion matrix" in done.stdout
    metrics = json.loads(out.read_text())
    assert metrics["split"] == "all" and metrics["n"] == 28 and sum(map(sum, metrics["confusion"])) == 28
    if missing_modules("sklearn"):  # an edge-only environment: the comparison runs in the full one
        return
    # the same faces and model scored here, with scikit-learn
    from edge.evaluate import predict_split
    from edge.runtime import TFLiteClassifier
    from train.eval_data import eval_set

    s = eval_set(str(faces), "all", spec=DEFAULT_SPEC)
    probs = predict_split(TFLiteClassifier(int8_model).predict, s.faces.images, DEFAULT_SPEC)
    assert_same(metrics, sklearn_metrics(s.faces.labels, probs, len(LABELS)))


def test_a_keras_model_without_tensorflow_says_what_to_install(tmp_path):
    model = tmp_path / "m.keras"
    model.write_bytes(b"PK")
    DEFAULT_SPEC.save(tmp_path / "m.spec.json")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", BLOCKER, "evaluate", str(model), "--data", "synthetic"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 3 and "Traceback" not in done.stderr
    assert "needs TensorFlow" in done.stderr and "fer-edge[train]" in done.stderr and ".tflite" in done.stderr


def test_evaluate_refuses_a_model_it_cannot_feed_in_one_line(int8_model, tmp_path):
    """An app model (RGB 144x144, what export-mobile writes) is refused before any data loads, not a traceback."""
    import dataclasses

    app = tmp_path / "fer_micro_int8.tflite"
    app.write_bytes(int8_model.read_bytes())
    dataclasses.replace(DEFAULT_SPEC, input_height=144, input_width=144, input_channels=3).save(
        tmp_path / "fer_micro_int8.spec.json")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", BLOCKER, "evaluate", str(app), "--data", str(tmp_path / "nowhere")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert str(app) in line and "144x144 input with 3 channels" in line and "gray" in line


def test_evaluate_takes_a_shipped_model_by_short_name(tmp_path):
    faces = _face_folder(tmp_path / "mine", count=8)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", BLOCKER, "evaluate", "micro", "--data", str(faces), "--split", "all"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "fer_micro_int8.tflite on" in done.stdout and "(n=8)" in done.stdout
