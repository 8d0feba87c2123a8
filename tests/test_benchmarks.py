"""`benchmarks/run_all.py --quick`: every benchmark runs for real and lands in one Markdown table."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.requires("tensorflow", "tf_keras")]
ROOT = Path(__file__).resolve().parent.parent


def test_run_all_writes_one_table_with_both_models(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "runs" / "tiny"
    assert main(["train", "--synthetic-per-class", "20", "--epochs", "1", "--width", "4", "--depth", "1",
                 "--runs-dir", str(tmp_path / "runs"), "--name", "tiny"]) == 0
    assert main(["quantize", str(run), "--method", "ptq", "--rep-samples", "30", "--max-drop", "100"]) == 0
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--quick", "--run", str(run),
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
