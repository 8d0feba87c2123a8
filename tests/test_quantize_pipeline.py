"""``fer-edge quantize RUN_DIR`` end to end on a tiny run trained on a synthetic image-folder dataset."""

import json
import shutil

import numpy as np
import pytest
from test_quantize_convert import patterned_faces

from edge.commands.dispatch import main
from edge.core.spec import DEFAULT_SPEC, load_spec_for, spec_path_for
from edge.runtime import TFLiteClassifier

pytestmark = [pytest.mark.slow, pytest.mark.requires("tensorflow", "tf_keras", "tensorflow_model_optimization")]

#: a quick quantize: one QAT epoch, a small representative set; a gate of 5 points because 1 point
#: is ~2 of the 210 validation images here (measured drops: PTQ 0-1 point, QAT chosen: a gain)
FAST = ["--qat-epochs", "1", "--qat-batch-size", "64", "--rep-samples", "100", "--max-drop", "5"]


def write_texture_folders(root, n_train: int, n_val: int) -> None:
    """A dataset in the image-folder format: <split>/<class>/<i>.png of noisy textures, one per class."""
    import cv2

    for split, n, seed in (("train", n_train, 0), ("val", n_val, 1)):
        images, labels = patterned_faces(n, seed, noise=40, min_amplitude=10)
        for i, (image, label) in enumerate(zip(images, labels)):
            folder = root / split / DEFAULT_SPEC.labels[label]
            folder.mkdir(parents=True, exist_ok=True)
            assert cv2.imwrite(str(folder / f"{i}.png"), image)


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    """A real run dir (train_config.json, model.keras, model.spec.json) of a tiny model trained for a few
    seconds on a synthetic image-folder dataset (~85% on its val split); the dataset cache is a temp dir."""
    import tf_keras as keras
    from conftest import build_tiny_keras

    from edge.core.preprocess import normalize
    from train.config import TrainConfig
    from train.datasets import load_dataset

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FER_EDGE_CACHE", str(tmp_path_factory.mktemp("cache")))
        data = tmp_path_factory.mktemp("textures")
        write_texture_folders(data, n_train=80, n_val=30)
        run = tmp_path_factory.mktemp("runs") / "tiny_textures"
        run.mkdir()
        cfg = TrainConfig(data=str(data), epochs=15, batch_size=32)
        cfg.save(run)
        train = load_dataset(**cfg.loader_options).splits["train"]
        model = build_tiny_keras(seed=0)
        model.compile(keras.optimizers.Adam(3e-3), "categorical_crossentropy")
        model.fit(normalize(train.images), keras.utils.to_categorical(train.labels, 7), epochs=cfg.epochs,
                  batch_size=cfg.batch_size, verbose=0)
        model.save(run / "model.keras")
        DEFAULT_SPEC.save(spec_path_for(run / "model.keras"))
        yield run


def copy_run(base, tmp_path, name="run"):
    run = tmp_path / name
    shutil.copytree(base, run)
    return run


def quantize_files(run):
    """What the quantize stage left in a run dir, including any staging folder."""
    from quantize.pipeline import artifact_names

    return sorted(p.name for p in run.iterdir() if p.name in artifact_names() or p.name.startswith(".quantize"))


@pytest.fixture(scope="module")
def quantized(base_run, tmp_path_factory):
    run = copy_run(base_run, tmp_path_factory.mktemp("quantized"))
    code = main(["quantize", str(run), *FAST, "--float16"])
    report = json.loads((run / "quant_report.json").read_text())
    return {"run": run, "code": code, "report": report}


def test_auto_writes_every_artifact_and_passes_the_gate(quantized):
    run, report = quantized["run"], quantized["report"]
    assert quantized["code"] == 0 and report["status"] == "passed" and report["gate"]["passed"]
    for name in ["model_int8.tflite", "model_ptq_int8.tflite", "model_qat_int8.tflite", "model_qat.h5",
                 "model_float16.tflite", "quantize_config.json", "quant_report.json", "quant_report.md"]:
        assert (run / name).is_file(), name
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # no staging or temp files left
    chosen = report["chosen"]
    assert (run / "model_int8.tflite").read_bytes() == (run / f"model_{chosen}_int8.tflite").read_bytes()
    # auto keeps the more accurate of the two (ties: macro-F1)
    ptq, qat = report["models"]["ptq"], report["models"]["qat"]
    assert chosen == max(("ptq", "qat"), key=lambda k: (report["models"][k]["accuracy"], report["models"][k]["macro_f1"]))
    assert {"ptq", "qat", "float", "float16"} == set(report["models"]) and ptq and qat
    md = (run / "quant_report.md").read_text()
    assert "| accuracy |" in md and "(chosen)" in md and "Gate: PASSED" in md and "F1 disgust" in md
    assert json.loads((run / "quantize_config.json").read_text())["qat_epochs"] == 1


def test_int8_model_is_full_integer_and_its_spec_has_its_quant(quantized):
    run = quantized["run"]
    clf = TFLiteClassifier(run / "model_int8.tflite")
    details = clf.interpreter.get_tensor_details()
    assert {np.dtype(d["dtype"]).name for d in details} <= {"int8", "int32"}
    assert clf.input_dtype == np.int8 and clf.output_dtype == np.int8
    spec = load_spec_for(run / "model_int8.tflite")
    assert spec.input_quant == clf.input_quant and spec.output_quant == clf.output_quant
    assert spec.input_quant.scale == pytest.approx(1 / 255) and spec.input_quant.zero_point == -128
    assert spec.labels == DEFAULT_SPEC.labels and spec.meta["quantization"] == quantized["report"]["chosen"]
    f16 = load_spec_for(run / "model_float16.tflite")
    assert f16.input_quant is None and TFLiteClassifier(run / "model_float16.tflite").input_dtype == np.float32


def test_report_numbers_are_the_artifacts_real_numbers(quantized):
    """Recompute every headline number from the files, with sklearn and LiteRT directly."""
    import tf_keras as keras
    from sklearn.metrics import f1_score

    from train.config import TrainConfig
    from train.datasets import load_dataset

    run, report = quantized["run"], quantized["report"]
    cfg = TrainConfig.load(run)
    val = load_dataset(**cfg.loader_options, use_cache=False).splits["val"]
    assert report["eval_images"] == len(val) == 210
    x = val.images[..., None].astype(np.float32) / 255.0
    preds = {"float": keras.models.load_model(run / "model.keras").predict(x, verbose=0).argmax(1)}
    for key in ("ptq", "qat", "float16"):
        clf = TFLiteClassifier(run / report["models"][key]["file"])
        preds[key] = np.array([clf.dequantize_output(clf.invoke_raw(clf.quantize_input(xi[None]))).argmax()
                               for xi in x])
    for key, pred in preds.items():
        entry = report["models"][key]
        assert entry["accuracy"] == pytest.approx(np.mean(pred == val.labels), abs=1e-12), key
        assert entry["macro_f1"] == pytest.approx(f1_score(val.labels, pred, average="macro"), abs=1e-12), key
        per_class = f1_score(val.labels, pred, average=None, labels=range(7))
        assert [entry["metrics"]["per_class"][n]["f1"] for n in DEFAULT_SPEC.labels] == pytest.approx(per_class)
        assert entry["bytes"] == (run / entry["file"]).stat().st_size
        if key != "float":
            assert entry["agreement_with_float"] == pytest.approx(np.mean(pred == preds["float"]), abs=1e-12)
    gate = report["gate"]
    chosen = report["chosen"]
    drop = 100 * (np.mean(preds["float"] == val.labels) - np.mean(preds[chosen] == val.labels))
    assert gate["drop_points"] == pytest.approx(drop) and gate["method"] == chosen
    assert report["models"]["float"]["accuracy"] > 0.6  # a real model, far above chance (1/7)


def test_gate_trips_when_forced_and_keeps_the_artifacts(base_run, tmp_path, capsys):
    run = copy_run(base_run, tmp_path)
    # a negative --max-drop demands a gain; int8 can gain a point or two on 210 images by luck
    # (measured here: PTQ +1.43), never 100
    code = main(["quantize", str(run), "--method", "ptq", "--rep-samples", "100", "--max-drop", "-100"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 4
    assert "accuracy gate FAILED" in err[-1] and "--max-drop -100" in err[-1]
    report = json.loads((run / "quant_report.json").read_text())
    assert report["status"] == "failed" and report["chosen"] == "ptq" and not report["gate"]["passed"]
    assert "Gate: FAILED" in (run / "quant_report.md").read_text()
    assert (run / "model_int8.tflite").is_file() and not (run / "model_qat_int8.tflite").exists()
    # an existing result is not replaced silently; --force replaces it and drops stale files
    assert main(["quantize", str(run), "--method", "ptq"]) == 2
    assert "already quantized" in capsys.readouterr().err
    (run / "model_qat_int8.tflite").write_bytes(b"stale")
    assert main(["quantize", str(run), "--method", "ptq", "--rep-samples", "50", "--max-drop", "100", "--force"]) == 0
    assert json.loads((run / "quant_report.json").read_text())["status"] == "passed"
    assert not (run / "model_qat_int8.tflite").exists()


def test_staging_left_by_a_killed_quantize_is_removed(base_run, tmp_path):
    run = copy_run(base_run, tmp_path)
    stale = run / ".quantize.abc123.tmp"
    stale.mkdir()
    (stale / "model_ptq_int8.tflite").write_bytes(b"half-written")
    assert main(["quantize", str(run), "--method", "ptq", "--rep-samples", "50", "--max-drop", "100"]) == 0
    assert not stale.exists() and not list(run.glob(".quantize.*"))
    assert (run / "model_int8.tflite").read_bytes() != b"half-written"
