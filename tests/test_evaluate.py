"""Evaluation gives hand-checkable numbers, through .keras and .tflite alike, from the library and the CLI."""

import json

import cv2
import numpy as np
import pytest
from conftest import require_modules

from edge.commands.dispatch import main
from edge.core.errors import UserError
from edge.core.spec import DEFAULT_SPEC, spec_path_for
from train.datasets.base import Split
from train.scoring import evaluate_model, format_report, metrics_from_predictions

pytestmark = pytest.mark.requires("sklearn")
DARK, BRIGHT = 25, 230
# (true class, pixel value): the known model predicts angry (0) for dark faces and happy (3) for bright ones
VAL = [(0, DARK)] * 3 + [(0, BRIGHT)] + [(1, DARK)] + [(3, BRIGHT)] * 2
EXPECTED_CONFUSION = np.zeros((7, 7), int)
EXPECTED_CONFUSION[0, 0], EXPECTED_CONFUSION[0, 3], EXPECTED_CONFUSION[1, 0], EXPECTED_CONFUSION[3, 3] = 3, 1, 1, 2


def test_metrics_by_hand():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0])
    m = metrics_from_predictions(y_true, np.eye(3)[y_pred], ["a", "b", "c"])
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class"]["a"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert m["per_class"]["b"] == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2})
    assert m["per_class"]["c"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    report = format_report(m)
    assert "accuracy 0.6667" in report and "macro-F1 0.6556" in report


def test_metrics_reject_bad_shapes():
    with pytest.raises(ValueError):
        metrics_from_predictions(np.array([0, 1]), np.zeros((2, 5)), ["a", "b", "c"])
    with pytest.raises(UserError):
        metrics_from_predictions(np.array([], int), np.zeros((0, 2)), ["a", "b"])


@pytest.fixture(scope="module")
def known_model(tmp_path_factory):
    """mean brightness m -> logits: angry 5 - 10 m, happy 10 m - 5, others -10; as .keras, float and int8 .tflite."""
    require_modules("tensorflow", "tf_keras")
    import tensorflow as tf
    import tf_keras as keras

    out = tmp_path_factory.mktemp("known")
    L = keras.layers
    model = keras.Sequential([keras.Input(DEFAULT_SPEC.input_shape), L.GlobalAveragePooling2D(), L.Dense(7), L.Softmax()])
    w, b = np.zeros((1, 7), np.float32), np.full(7, -10, np.float32)
    w[0, 0], b[0], w[0, 3], b[3] = -10, 5, 10, -5
    model.layers[1].set_weights([w, b])
    paths = {"keras": out / "model.keras"}
    model.save(paths["keras"])
    paths["float"] = out / "model_float.tflite"
    paths["float"].write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([np.full((1, 48, 48, 1), v / 255, np.float32)] for v in range(0, 256, 15))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    paths["int8"] = out / "model_int8.tflite"
    paths["int8"].write_bytes(conv.convert())
    for path in paths.values():
        DEFAULT_SPEC.save(spec_path_for(path))
    return paths


@pytest.mark.parametrize("kind", ["keras", "float", "int8"])
def test_known_model_confusion_matrix(known_model, kind):
    labels, values = zip(*VAL)
    split = Split(np.stack([np.full((48, 48), v, np.uint8) for v in values]), np.array(labels))
    m = evaluate_model(known_model[kind], split, DEFAULT_SPEC)
    np.testing.assert_array_equal(m["confusion"], EXPECTED_CONFUSION)
    assert m["accuracy"] == pytest.approx(5 / 7)
    assert m["per_class"]["angry"]["precision"] == pytest.approx(3 / 4)
    assert m["per_class"]["happy"]["recall"] == pytest.approx(1.0)
    # macro over the classes that occur (angry 0.75, disgust 0, happy 0.8), as scikit-learn does
    assert m["macro_f1"] == pytest.approx((0.75 + 0 + 0.8) / 3)


def _write_folders(root, items):
    for i, (label, value) in enumerate(items):
        for split in ("train", "val"):
            folder = root / split / DEFAULT_SPEC.labels[label]
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / f"{i}.png"), np.full((48, 48), value, np.uint8))


def test_evaluate_cli_on_image_folders(known_model, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))
    _write_folders(tmp_path / "faces", VAL)
    out = tmp_path / "metrics.json"
    assert main(["evaluate", str(known_model["int8"]), "--data", str(tmp_path / "faces"), "--json", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["split"] == "val" and metrics["n"] == len(VAL)
    np.testing.assert_array_equal(metrics["confusion"], EXPECTED_CONFUSION)
    assert "accuracy 0.7143" in capsys.readouterr().out


def test_evaluate_cli_errors(known_model, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))
    _write_folders(tmp_path / "faces", VAL)
    data = ["--data", str(tmp_path / "faces")]
    assert main(["evaluate", str(known_model["keras"])]) == 2  # not in a run dir and no --data
    assert "--data" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing.keras"), *data]) == 2
    assert "no such model file" in capsys.readouterr().err
    assert main(["evaluate", str(known_model["keras"]), *data, "--split", "test"]) == 2
    assert "no 'test' split" in capsys.readouterr().err
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    DEFAULT_SPEC.save(spec_path_for(bad))
    assert main(["evaluate", str(bad), *data]) == 2
    assert "not a loadable .keras model" in capsys.readouterr().err


def _write_split(root, items, split=None):
    for i, (label, value) in enumerate(items):
        folder = (root / split if split else root) / DEFAULT_SPEC.labels[label]
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{i}.png"), np.full((48, 48), value, np.uint8))


@pytest.mark.parametrize("layout", ["flat", "test-only"])
def test_evaluate_cli_scores_a_test_folder_whole(known_model, tmp_path, monkeypatch, layout):
    """A folder of <class>/ images, or one with only test/, is scored whole: not refused, not cut to 10%."""
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))
    _write_split(tmp_path / "faces", VAL, None if layout == "flat" else "test")
    out = tmp_path / "metrics.json"
    assert main(["evaluate", str(known_model["int8"]), "--data", str(tmp_path / "faces"), "--json", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["split"] == ("all" if layout == "flat" else "test") and metrics["n"] == len(VAL)
    np.testing.assert_array_equal(metrics["confusion"], EXPECTED_CONFUSION)
    # --split all gives the same faces; --split val on the flat folder is the carved slice training holds out
    assert main(["evaluate", str(known_model["int8"]), "--data", str(tmp_path / "faces"), "--split", "all",
                 "--json", str(out)]) == 0
    assert json.loads(out.read_text())["n"] == len(VAL)
    if layout == "flat":
        assert main(["evaluate", str(known_model["int8"]), "--data", str(tmp_path / "faces"), "--split", "val",
                     "--json", str(out)]) == 0
        assert 0 < json.loads(out.read_text())["n"] < len(VAL)


def test_evaluate_cli_split_all_and_several_sources(known_model, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))
    _write_folders(tmp_path / "a", VAL)  # train/ and val/, the same 7 faces in each
    _write_split(tmp_path / "b", [(3, BRIGHT)] * 4)  # flat: 4 happy faces, all right
    out = tmp_path / "metrics.json"
    assert main(["evaluate", str(known_model["keras"]), "--data", str(tmp_path / "a"), "--split", "all",
                 "--json", str(out)]) == 0
    assert json.loads(out.read_text())["n"] == 2 * len(VAL)
    capsys.readouterr()
    assert main(["evaluate", str(known_model["keras"]), "--data", str(tmp_path / "a"), "--data", str(tmp_path / "b"),
                 "--json", str(out)]) == 0
    m = json.loads(out.read_text())
    assert [s["split"] for s in m["sources"]] == ["val", "all"]
    assert [s["n"] for s in m["sources"]] == [len(VAL), 4]
    assert m["sources"][0]["accuracy"] == pytest.approx(5 / 7) and m["sources"][1]["accuracy"] == 1.0
    assert m["n"] == len(VAL) + 4 and m["accuracy"] == pytest.approx(9 / 11)
    assert "all 2 sources merged" in capsys.readouterr().out


def test_balanced_accuracy_is_mean_recall_over_present_classes():
    m = metrics_from_predictions(np.array([0, 0, 0, 1]), np.eye(3)[[0, 0, 1, 1]], ["a", "b", "c"])
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 1) / 2)
