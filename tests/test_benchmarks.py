"""`python -m benchmarks.run_all --quick`: every benchmark runs for real and lands in one Markdown table; the
benchmarks are a package run from the repository root, with no sys.path edits."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_benchmarks_are_modules_of_a_package_that_leave_sys_path_alone():
    scripts = sorted((ROOT / "benchmarks").glob("*.py"))
    assert (ROOT / "benchmarks" / "__init__.py") in scripts and len(scripts) > 10
    for path in scripts:
        text = path.read_text(encoding="utf-8")
        edits = [n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Attribute) and n.attr == "path"
                 and getattr(n.value, "id", "") == "sys"]
        # camera_dropout puts only tests/fake_libcamera (libcamera's stand-ins) in front, for picamera2's own code
        assert len(edits) == (path.name == "camera_dropout.py"), path.name
        assert "noqa: E402" not in text and "python benchmarks/" not in text, path.name
    proc = subprocess.run([sys.executable, "-m", "benchmarks.edge_pipeline", "--help"], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 0 and "--repeats" in proc.stdout, proc.stderr


@pytest.mark.slow
@pytest.mark.requires("tensorflow", "tf_keras")
def test_run_all_writes_one_table_with_both_models(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "runs" / "tiny"
    assert main(["train", "--synthetic-per-class", "20", "--epochs", "1", "--width", "4", "--depth", "1",
                 "--runs-dir", str(tmp_path / "runs"), "--name", "tiny"]) == 0
    assert main(["quantize", str(run), "--method", "ptq", "--rep-samples", "30", "--max-drop", "100"]) == 0
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run_all", "--quick", "--run", str(run),
                           "--pi-run", str(run), "--train-presets", "micro", "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = out.read_text()
    assert re.search(r"\| training micro: images/s \(FER2013 epoch, extrapolated\) \| \d+ \(\d+ s\) \|", table)
    for label in ("", "pi model: "):
        assert re.search(rf"\| {label}per-face latency, TFLite int8 \(1 thread\) \| \d+\.\d+ ms \| \*\*[\d.]+x\*\*", table)
        assert re.search(rf"\| {label}int8 vs float TFLite speed-up \(1 thread\) \| \| \*\*[\d.]+x\*\* \|", table)
        assert re.search(rf"\| {label}edge pipeline, 640x480 headless end to end \| [\d.]+ fps \|", table)
        assert re.search(rf"\| {label}TFLM arena: measured / recommended \| [\d,]+ B / [\d,]+ B \|", table)
    assert f"model `{run / 'model_int8.tflite'}`" in table and "## Edge pipeline, pi model" in table
