"""``export-firmware --verify-tflm``: the export built and run against a real TensorFlow Lite Micro tree.

The tests that build need a tflite-micro checkout with its third-party downloads in place (nothing
is downloaded at test time): set ``FER_EDGE_TFLM_DIR``. Its host library is built once into the
fer-edge cache (minutes) and reused after that. Without it they skip; the argument checks still run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import require_tool, tflm_builds

from edge.commands.dispatch import main as fer_edge
from edge.core.errors import UserError

pytestmark = pytest.mark.requires("tflite_micro")
TFLM_DIR = os.environ.get("FER_EDGE_TFLM_DIR")
needs_tflm = pytest.mark.skipif(not TFLM_DIR, reason="set FER_EDGE_TFLM_DIR to a tflite-micro checkout "
                                                      "(with its downloads) to build against it")


def export(model: Path, out: Path, *extra: str) -> int:
    return fer_edge(["export-firmware", str(model), "--out-dir", str(out), "--parity-samples", "12", *extra])


@pytest.mark.parametrize("make_tree, needle", [
    (lambda tmp: tmp / "nope", "no such directory"),
    (lambda tmp: tmp, "not a tflite-micro checkout (no tensorflow/lite/micro/tools/make/Makefile)"),
])
def test_a_wrong_tree_is_a_one_line_error_before_anything_runs(int8_model, tmp_path, capsys, make_tree, needle):
    out = tmp_path / "fw"
    assert export(int8_model, out, "--verify-tflm", str(make_tree(tmp_path))) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1
    assert not out.exists()


@pytest.fixture(scope="module")
def verified(int8_model, tmp_path_factory):
    require_tool("make")
    require_tool("g++")
    out = tmp_path_factory.mktemp("verify") / "fw"
    with tflm_builds():
        assert export(int8_model, out, "--verify-tflm", TFLM_DIR) == 0
    return out


@needs_tflm
def test_export_runs_bit_identical_in_tflm_cpp(verified, capsys):
    record = json.loads((verified / "export.json").read_text())
    v = record["verify_tflm"]
    assert v["inputs"] == 12 and v["bit_identical"] == 12
    assert 0 < v["arena_used"] <= v["arena_size"] == record["settings"]["arena_size"]
    assert f"arena: {v['arena_used']} of {v['arena_size']} bytes used" in v["example_output"]
    assert Path(v["build_dir"], "microlite.log").is_file()


def _build(tflm: Path, export_dir: Path, tmp: Path, sources: list[Path], defines: list[str]) -> str:
    from firmware_export.tflm import tree
    from firmware_export.tflm.library import HOST, build_library

    lib = build_library(tflm, tree.build_root(tflm, tree.tree_commit(tflm)), HOST, "--verify-tflm").path
    d = tflm / tree.DOWNLOADS
    binary = tmp / "example"
    subprocess.run([require_tool("g++"), "-std=c++17", "-DTF_LITE_STATIC_MEMORY", *defines, f"-I{export_dir}",
                    f"-I{tflm}", f"-I{d / 'flatbuffers' / 'include'}", f"-I{d / 'gemmlowp'}", *map(str, sources),
                    str(lib), "-o", str(binary)], check=True, capture_output=True)
    done = subprocess.run([str(binary)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


@needs_tflm
@pytest.mark.parametrize("force, prints", [([], True), (["-DFER_MODEL_DEBUG_LOG_CALLBACK=0"], False)])
def test_example_prints_with_cortex_m_generic_debug_log(verified, tmp_path, force, prints):
    """main.cc built as for TARGET=cortex_m_generic, with that target's real DebugLog (a callback) on the host:
    it prints only because main.cc registers the callback; forced off, the same program prints nothing."""
    tflm = Path(TFLM_DIR).resolve()
    sources = [verified / "main.cc", verified / "fer_model_data.cc",
               tflm / "tensorflow/lite/micro/cortex_m_generic/debug_log.cc"]
    printed = _build(tflm, verified, tmp_path, sources, ["-DTF_LITE_MCU_DEBUG_LOG", "-DCPU_M4=1", *force])
    assert ("bytes used" in printed) == prints, printed


def _settings(export_dir: Path):
    from edge.core.spec import Quant
    from firmware_export.settings import Settings

    rec = json.loads((export_dir / "export.json").read_text())["settings"]
    return Settings(**{**rec, "labels": tuple(rec["labels"]), "input_quant": Quant(**rec["input_quant"]),
                       "output_quant": Quant(**rec["output_quant"])})


def _log_of(error: UserError) -> Path:
    return Path(str(error).rsplit("(log: ", 1)[1].rstrip(")"))


@needs_tflm
def test_an_arena_too_small_fails_with_the_log(verified, int8_model, tmp_path):
    from firmware_export import verify_tflm

    settings = _settings(verified)
    small = tmp_path / "small"
    small.mkdir()
    for f in verified.iterdir():
        if f.is_file():
            (small / f.name).write_bytes(f.read_bytes())
    header = small / "fer_model_settings.h"
    header.write_text(header.read_text().replace(f"_TENSOR_ARENA_SIZE {settings.arena_size}",
                                                 "_TENSOR_ARENA_SIZE 4096"))
    with pytest.raises(UserError) as e, tflm_builds():
        verify_tflm.verify_export(small, "fer_model", int8_model.read_bytes(), settings,
                                  np.zeros((2, 48 * 48), np.int8), TFLM_DIR)
    # TFLM either fails AllocateTensors (main.cc returns 1) or aborts in it (this tree at 90b983c: SIGABRT)
    assert e.value.exit_code == 1 and "the example main.cc exited " in str(e.value)
    assert re.search(r"\(exit (1|-6)\)", _log_of(e.value).read_text())


@needs_tflm
def test_an_output_that_differs_by_one_lsb_fails(verified, int8_model, monkeypatch):
    from firmware_export import verify_tflm

    real = verify_tflm.python_outputs

    def off_by_one(data, settings, inputs):
        out = real(data, settings, inputs)
        if len(inputs) > 1:  # the parity inputs, not main.cc's test frame
            out[1, 3] += 1
        return out

    monkeypatch.setattr(verify_tflm, "python_outputs", off_by_one)
    inputs = np.random.default_rng(0).integers(-128, 128, (3, 48 * 48)).astype(np.int8)
    with pytest.raises(UserError) as e, tflm_builds():
        verify_tflm.verify_export(verified, "fer_model", int8_model.read_bytes(), _settings(verified), inputs,
                                  TFLM_DIR)
    assert e.value.exit_code == 1 and "1 of 3 outputs differ from tflite-micro Python; first, input 1" in str(e.value)
    assert _log_of(e.value).is_file()
