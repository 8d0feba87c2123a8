"""``export-firmware --measure-m4``: instructions per inference on an emulated Cortex-M4.

The test that builds needs arm-none-eabi-gcc, qemu-system-arm and a tflite-micro checkout with its
third-party downloads (CMSIS, CMSIS-NN, flatbuffers, ...) in place: set ``FER_EDGE_TFLM_DIR`` (nothing
is downloaded at test time). It builds TFLM for the Cortex-M4 twice (minutes) into the session's empty
fer-edge cache, or into ``FER_EDGE_TFLM_CACHE`` when set (``conftest.tflm_builds``). Without them it
skips with the reason; the argument checks still run.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest
from conftest import tflm_builds

from edge.commands.dispatch import main as fer_edge

pytestmark = pytest.mark.requires("tflite_micro")
TFLM_DIR = os.environ.get("FER_EDGE_TFLM_DIR")


def export(model, out, *extra: str) -> int:
    return fer_edge(["export-firmware", str(model), "--out", str(out), "--parity-samples", "4", *extra])


def fake_tree(root):
    """Enough of a tflite-micro checkout to pass the checkout check, without its downloads."""
    for rel in ("tensorflow/lite/micro/tools/make/Makefile", "tensorflow/lite/micro/micro_interpreter.h"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("")
    return root


@pytest.mark.parametrize("make_tree, needle", [
    (lambda tmp: tmp / "nope", "--measure-m4 {tree}: no such directory"),
    (lambda tmp: tmp, "--measure-m4 {tree}: not a tflite-micro checkout"),
    (lambda tmp: fake_tree(tmp / "tflm"), "TFLM's third-party code is missing from"),
])
def test_a_wrong_tree_is_a_one_line_error_before_anything_runs(int8_model, tmp_path, capsys, make_tree, needle):
    tree, out = make_tree(tmp_path), tmp_path / "fw"
    assert export(int8_model, out, "--measure-m4", str(tree)) == 2
    err = capsys.readouterr().err
    assert needle.format(tree=tree) in err and err.count("\n") == 1
    assert not out.exists()


def test_missing_downloads_error_names_the_make_command(int8_model, tmp_path, capsys):
    tree = fake_tree(tmp_path / "tflm")
    assert export(int8_model, tmp_path / "fw", "--measure-m4", str(tree)) == 2
    err = capsys.readouterr().err
    assert "cmsis_nn" in err and "OPTIMIZED_KERNEL_DIR=cmsis_nn third_party_downloads" in err


def test_a_missing_toolchain_is_a_one_line_error(int8_model, tmp_path, capsys, monkeypatch):
    from firmware_export import measure_m4

    monkeypatch.setattr(measure_m4, "check_tree", lambda d: measure_m4.find_tools())
    monkeypatch.setenv("PATH", str(tmp_path))  # no arm-none-eabi-gcc, no qemu
    assert export(int8_model, tmp_path / "fw", "--measure-m4", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert "arm-none-eabi-gcc not found on PATH (Debian/Ubuntu: apt install gcc-arm-none-eabi" in err
    assert err.count("\n") == 1


def test_latency_lines_state_the_cycles_per_instruction():
    from firmware_export.render import latency_lines

    lines = latency_lines({"cmsis_nn": 16_800_000}, {"target": 168.0})
    assert "1 / 1.4 cycles per instruction" in lines[0]
    assert lines[1] == "  target @ 168 MHz: CMSIS-NN 100 / 140"


def _skip_without_m4_tools():
    if not TFLM_DIR:
        pytest.skip("set FER_EDGE_TFLM_DIR to a tflite-micro checkout (with its downloads) to build for a Cortex-M4")
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm", "make"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (apt-get install gcc-arm-none-eabi qemu-system-arm make)")


@pytest.fixture(scope="module")
def measured(tiny_models, tmp_path_factory):
    _skip_without_m4_tools()
    with tflm_builds():
        out = tmp_path_factory.mktemp("m4") / "fw"
        assert export(tiny_models["int8"], out, "--measure-m4", TFLM_DIR) == 0
    return out


def test_tiny_model_counts_instructions_with_both_kernel_sets(measured):
    m = json.loads((measured / "export.json").read_text())["measure_m4"]
    counts = m["instructions_per_inference"]
    assert counts["reference"] > counts["cmsis_nn"] > 0
    assert m["inputs"] == 3 and m["python_identical"] == 3
    a = m["agreement"]
    assert a["top1_agree"] == 3 and a["max_lsb_diff"] <= 2
    assert 35 <= m["instructions_per_tick"] <= 45  # -icount shift=0: 1 ns per instruction, 25 MHz timer
    for run in m["runs"].values():
        assert 0 < run["arena_used"] and run["code_bytes"] > 0
        assert len(run["instructions"]) == 3 and len(run["outputs"][0]) == 7
    assert m["tflm_commit"] is None or len(m["tflm_commit"]) == 40
    assert m["toolchain"].startswith("arm-none-eabi-gcc")


def test_the_card_quotes_the_measurement_beside_the_estimate():
    pytest.importorskip("tf_keras")  # model_card imports the train stage
    from model_card.card import _measured_m4

    record = {"instructions_per_inference": {"reference": 141_200_000, "cmsis_nn": 37_000_000}, "inputs": 3,
              "machine": "mps2-an386", "runs": {"cmsis_nn": {"arena_used": 53_908}},
              "agreement": {"identical": 3, "max_lsb_diff": 0, "top1_agree": 3}}
    text = _measured_m4({"measure_m4": record})
    assert "**37.0 M instructions per inference with CMSIS-NN** (141.2 M with TFLM's reference kernels)" in text
    assert "578-809 ms at 64 MHz (nano33ble)" in text and "220-308 ms at 168 MHz (Cortex-M4 target)" in text
    assert "equal the reference kernels' on 3 of 3 inputs" in text and "53,908 bytes" in text
    assert _measured_m4({"boards": []}) == ""
