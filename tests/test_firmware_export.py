"""``fer-edge export-firmware`` end to end: the directory, parity, board budgets and every refusal."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge.commands.dispatch import main as fer_edge
from edge.core.spec import ModelSpec, spec_path_for
from firmware_export import boards
from firmware_export.parity import compare_outputs, load_image_folder, synthetic_crops

EXPECTED_FILES = {
    "README.md", "export.json", "main.cc", "fer_model_data.h", "fer_model_data.cc", "fer_model_data.c",
    "fer_model_settings.h", "fer_model_ops.h", "arduino/fer_model/fer_model.ino",
    "arduino/fer_model/fer_model_data.h", "arduino/fer_model/fer_model_data.c",
    "arduino/fer_model/fer_model_settings.h", "arduino/fer_model/fer_model_ops.h",
}


def copy_model(src: Path, dest_dir: Path, name: str = "model_int8.tflite") -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dest_dir / name)
    shutil.copy(spec_path_for(src), spec_path_for(dest_dir / name))
    return dest_dir / name


@pytest.fixture(scope="module")
def run_dir_export(tiny_models, tmp_path_factory):
    """Export from a run directory (RUN_DIR/model_int8.tflite), with a folder of user images for parity."""
    root = tmp_path_factory.mktemp("export")
    run_dir = root / "run"
    copy_model(tiny_models["int8"], run_dir)
    images = root / "faces"
    images.mkdir()
    import cv2

    for i, (_, img) in enumerate(synthetic_crops(6, seed=7)):
        cv2.imwrite(str(images / f"face{i}.png"), img)
    out = root / "fw"
    argv = ["export-firmware", str(run_dir), "--out-dir", str(out), "--board", "all", "--parity-samples", "40",
            "--parity-data", str(images)]
    return {"out": out, "argv": argv, "run_dir": run_dir}


def test_run_dir_export_writes_every_file(run_dir_export, capsys):
    assert fer_edge(run_dir_export["argv"]) == 0
    out = run_dir_export["out"]
    assert {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} == EXPECTED_FILES
    stdout = capsys.readouterr().out
    record = json.loads((out / "export.json").read_text())
    parity = record["parity"]
    assert parity["passed"] and parity["samples"] == 46 and parity["max_abs_diff"] <= 2
    assert f"on {parity['samples']} inputs" in stdout and "top-1 agreement" in stdout
    for board in boards.load_boards().values():  # --board all: every board in the table on stdout
        assert board.id in stdout
    readme = (out / "README.md").read_text()
    assert f"| {parity['bit_identical']}/46 " in readme and f"| {parity['max_abs_diff']} LSB |" in readme
    assert "plus 6 of your images" in readme
    assert f"**{record['arena']['recommended']} bytes**" in readme
    assert readme.count("| yes |") == 5
    assert record["model"]["sha256"] in readme and record["config"]["board"] == "all"


def test_export_refuses_a_non_empty_dir_unless_forced(run_dir_export, capsys):
    out = run_dir_export["out"]
    if not out.exists():
        assert fer_edge(run_dir_export["argv"]) == 0
    before = (out / "export.json").read_bytes()
    assert fer_edge(run_dir_export["argv"]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert (out / "export.json").read_bytes() == before
    (out / "stale.txt").write_text("old")
    assert fer_edge(run_dir_export["argv"] + ["--force"]) == 0
    assert not (out / "stale.txt").exists() and (out / "README.md").exists()


def test_python_dash_m_runs_the_same_command(tiny_models, tmp_path):
    out = tmp_path / "fw"
    done = subprocess.run([sys.executable, "-m", "firmware_export", str(tiny_models["int8"]), "--out-dir", str(out),
                           "--board", "nano33ble", "--parity-samples", "5", "--name", "expr_net"],
                          capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr
    assert (out / "expr_net_data.cc").exists() and (out / "arduino/expr_net/expr_net.ino").exists()
    assert "Arduino Nano 33 BLE Sense" in done.stdout and "Raspberry Pi Pico" not in done.stdout


LAYERING_PROBE = """
import sys
from firmware_export.config import ExportConfig
from firmware_export.export import export_firmware
export_firmware(ExportConfig(model=sys.argv[1], out=sys.argv[2], parity_samples=3))
print(sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "tf_keras", "keras", "train", "quantize"}))
"""


def test_export_imports_neither_tensorflow_nor_other_stages(tiny_models, tmp_path):
    done = subprocess.run([sys.executable, "-c", LAYERING_PROBE, str(tiny_models["int8"]), str(tmp_path / "fw")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "fw" / "fer_model_data.h").exists()


def assert_refused(argv: list[str], out: Path, needle: str, capsys) -> str:
    assert fer_edge(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err, err
    assert len(err.splitlines()) == 1, err
    assert not out.exists() and not list(out.parent.glob(f".{out.name}*")), "partial output left behind"
    return err


@pytest.mark.parametrize("name, needle", [
    ("9lives", "not a C identifier"), ("my-model", "not a C identifier"), ("", "not a C identifier"),
    ("int", "keyword"), ("class", "keyword"), ("main", "keyword or a name the generated code uses"),
    ("__x", "reserved"),
])
def test_bad_names_are_refused(tiny_models, tmp_path, capsys, name, needle):
    out = tmp_path / "fw"
    assert_refused(["export-firmware", str(tiny_models["int8"]), "--out-dir", str(out), "--name", name], out, needle, capsys)


def test_unknown_board_is_refused(tiny_models, tmp_path, capsys):
    out = tmp_path / "fw"
    err = assert_refused(["export-firmware", str(tiny_models["int8"]), "--out-dir", str(out), "--board", "uno"],
                         out, "--board 'uno': unknown board", capsys)
    assert "nano33ble" in err and "stm32h747" in err


def test_bad_model_files_are_refused(tiny_models, tmp_path, capsys):
    out = tmp_path / "fw"
    float_model = copy_model(tiny_models["float"], tmp_path / "f", "model_float.tflite")
    assert_refused(["export-firmware", str(float_model), "--out-dir", str(out)], out, "a float model", capsys)
    data = tiny_models["int8"].read_bytes()
    truncated = copy_model(tiny_models["int8"], tmp_path / "t")
    truncated.write_bytes(data[: len(data) // 2])
    assert_refused(["export-firmware", str(truncated), "--out-dir", str(out)], out, "damaged or truncated", capsys)
    not_tflite = copy_model(tiny_models["int8"], tmp_path / "n")
    not_tflite.write_text("this is not a model\n" * 10)
    assert_refused(["export-firmware", str(not_tflite), "--out-dir", str(out)], out, "not a TensorFlow Lite model", capsys)
    assert_refused(["export-firmware", str(tmp_path / "missing.tflite"), "--out-dir", str(out)], out, "no such model", capsys)
    assert_refused(["export-firmware", str(tmp_path), "--out-dir", str(out)], out, "has no model_int8.tflite", capsys)
    no_spec = tmp_path / "s" / "model_int8.tflite"
    no_spec.parent.mkdir()
    no_spec.write_bytes(data)
    assert_refused(["export-firmware", str(no_spec), "--out-dir", str(out)], out, "no spec beside the model", capsys)


def test_spec_that_does_not_match_the_model_is_refused(tiny_models, tmp_path, capsys):
    model = copy_model(tiny_models["int8"], tmp_path / "m")
    spec = ModelSpec.load(spec_path_for(model))
    spec.with_quant(type(spec.input_quant)(spec.input_quant.scale * 2, spec.input_quant.zero_point),
                    spec.output_quant).save(spec_path_for(model))
    out = tmp_path / "fw"
    assert_refused(["export-firmware", str(model), "--out-dir", str(out)], out, "differs from its spec", capsys)


def convert_int8(keras_model, path: Path, full_int8: bool = True) -> Path:
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if full_int8:
        x = np.random.default_rng(0).random((16, 48, 48, 1), dtype=np.float32)
        conv.representative_dataset = lambda: ([x[i:i + 1]] for i in range(16))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int8
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(conv.convert())
    if full_int8:
        from edge.runtime import TFLiteClassifier

        clf = TFLiteClassifier(path)
        ModelSpec().with_quant(clf.input_quant, clf.output_quant).save(spec_path_for(path))
    else:
        ModelSpec().save(spec_path_for(path))
    return path


@pytest.fixture(scope="module")
def odd_models(tiny_models, tmp_path_factory):
    """Models converted in the test: dynamic-range, one using TILE (no TFLM kernel), one with a large arena."""
    import tensorflow as tf
    import tf_keras as keras

    root = tmp_path_factory.mktemp("odd_models")
    L = keras.layers

    def model(*layers):
        inp = L.Input((48, 48, 1))
        h = inp
        for layer in layers:
            h = layer(h)
        return keras.Model(inp, L.Dense(7)(L.GlobalAveragePooling2D()(h)))

    keras.utils.set_random_seed(0)
    return {
        # the converter quantizes weights of >= 1024 elements only: 128 x 3x3 filters
        "dynamic": convert_int8(model(L.Conv2D(128, 3, strides=4)), root / "dyn" / "model.tflite", full_int8=False),
        "tile": convert_int8(model(L.Conv2D(4, 3, strides=4), L.Lambda(lambda t: tf.tile(t, [1, 1, 1, 2]))),
                             root / "tile" / "model_int8.tflite"),
        # two 48x48x64 int8 activations live at once: ~290 KiB of arena
        "big_arena": convert_int8(model(L.Conv2D(64, 1), L.Conv2D(64, 1)), root / "big" / "model_int8.tflite"),
    }


@pytest.mark.slow
def test_dynamic_range_and_unsupported_op_models_are_refused(odd_models, tmp_path, capsys):
    out = tmp_path / "fw"
    assert_refused(["export-firmware", str(odd_models["dynamic"]), "--out-dir", str(out)], out,
                   "dynamic-range quantized model", capsys)
    assert_refused(["export-firmware", str(odd_models["tile"]), "--out-dir", str(out)], out,
                   "uses TILE, which TensorFlow Lite Micro does not implement", capsys)


@pytest.mark.slow
def test_board_too_small_is_refused_with_the_numbers(odd_models, tmp_path, capsys):
    out = tmp_path / "fw"
    err = assert_refused(["export-firmware", str(odd_models["big_arena"]), "--out-dir", str(out), "--board", "pico"],
                         out, "does not fit Raspberry Pi Pico (pico): RAM needs", capsys)
    assert "of 264 KiB" in err and "largest contiguous SRAM block (256 KiB)" in err
    # the same model fits a bigger board and the README table says where it does not
    assert fer_edge(["export-firmware", str(odd_models["big_arena"]), "--out-dir", str(out), "--board", "stm32h747",
                     "--parity-samples", "3"]) == 0
    readme = (out / "README.md").read_text()
    assert "| NO: RAM needs" in readme and readme.count("| yes |") == 2  # ESP32-S3 and H747 fit


def test_fit_board_arithmetic():
    board = boards.Board("tiny", "Tiny", "X", "Cortex-M4", 100, flash_kb=100, ram_kb=50, mac_per_cycle=0.5,
                         mac_per_cycle_source="test", kernels="ref", runtime_flash_kb=40, runtime_ram_kb=10)
    fit = boards.fit_board(board, model_bytes=60 * 1024, arena_bytes=30 * 1024, macs=5_000_000)
    assert fit.fits and fit.flash_needed == 100 * 1024 and fit.ram_needed == 40 * 1024
    assert fit.latency_ms == pytest.approx(100.0)  # 5 M MACs / (0.5 * 100 MHz)
    fit = boards.fit_board(board, model_bytes=60 * 1024 + 1, arena_bytes=40 * 1024 + 1, macs=0)
    assert [p.split()[0] for p in fit.problems] == ["flash", "RAM"]


def test_board_table_documents_every_figure():
    table = boards.load_boards()
    assert set(table) == {"nano33ble", "pico", "esp32s3", "stm32f746disco", "stm32h747"}
    assert table["nano33ble"].mac_per_cycle == 0.33 and table["stm32f746disco"].mac_per_cycle == 0.81
    assert all(b.mac_per_cycle_source and b.runtime_flash_kb > 0 for b in table.values())


def test_compare_outputs_tolerance_and_near_ties():
    ref = np.array([[-128, -100, 50, -128], [10, 0, -5, -128]], np.int8)
    same = compare_outputs(ref, ref)
    assert same.passed and same.bit_identical == 2 and same.max_abs_diff == 0 and same.top1_agree == 2
    off_by_two = ref.astype(np.int32)
    off_by_two[0, 1] += 2
    assert compare_outputs(off_by_two, ref).passed
    off_by_three = ref.astype(np.int32)
    off_by_three[1, 3] += 3
    report = compare_outputs(off_by_three, ref)
    assert not report.passed and "max |diff| 3 LSB" in report.failures[0]
    near_tie = np.array([[40, 41, 0]])  # TFLM's top two within 2 LSB: a top-1 swap is allowed
    assert compare_outputs(near_tie, np.array([[42, 40, 0]])).passed
    assert compare_outputs(near_tie, np.array([[42, 40, 0]])).top1_near_ties == 1
    clear_winner = np.array([[50, 40, 0]])  # a 10-LSB lead: TFLM and LiteRT must agree
    assert not compare_outputs(clear_winner, np.array([[50, 52, 0]])).passed


def test_parity_inputs_are_varied_and_user_folders_checked(tmp_path):
    crops = synthetic_crops(24)
    assert len({img.shape for _, img in crops}) >= 8 and any(img.ndim == 3 for _, img in crops)
    assert len({int(img.mean()) for _, img in crops}) > 12
    assert crops[0][1].tobytes() == synthetic_crops(1)[0][1].tobytes()  # seeded
    from edge.core.errors import UserError

    with pytest.raises(UserError, match="no readable 8-bit images"):
        load_image_folder(tmp_path, 10)
    with pytest.raises(UserError, match="not a folder"):
        load_image_folder(tmp_path / "missing", 10)
