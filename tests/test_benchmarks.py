"""`python -m benchmarks.run_all --quick`: every benchmark runs for real and lands in one Markdown table; the
benchmarks are a package run from the repository root, with no sys.path edits."""

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from edge.commands.dispatch import main

ROOT = Path(__file__).resolve().parent.parent


def test_benchmarks_are_modules_of_a_package_that_leave_sys_path_alone():
    scripts = sorted((ROOT / "benchmarks").glob("*.py"))
    assert (ROOT / "benchmarks" / "__init__.py") in scripts and len(scripts) > 10
    for path in scripts:
        text = path.read_text(encoding="utf-8")
        edits = [n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Attribute) and n.attr == "path"
                 and getattr(n.value, "id", "") == "sys"]
        assert not edits, path.name  # camera_dropout runs itself again with the stand-ins on PYTHONPATH instead
        assert "noqa: E402" not in text and "python benchmarks/" not in text, path.name
    for path in (ROOT / "tools").glob("*.py"):  # the tools too
        text = path.read_text(encoding="utf-8")
        assert "sys.path.insert" not in text and "noqa: E402" not in text, path.name
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


def test_clip_reads_counts_each_face_frame_of_a_real_run(tmp_path):
    """benchmarks.clip_reads runs `fer-edge run` on <class>.mp4 clips and counts the label of every face-frame."""
    from benchmarks.clip_reads import main as clip_reads
    from benchmarks.clip_reads import read_jsonl, shares, table
    from edge.commands.dispatch import main as fer_edge
    from edge.core.spec import DEFAULT_SPEC

    clips = tmp_path / "clips"
    clips.mkdir()
    assert fer_edge(["demo-video", str(clips / "neutral.mp4"), "--frames", "12", "--fps", "6"]) == 0
    out, model = tmp_path / "reads.json", str(Path(__file__).resolve().parents[1] / "models" / "fer_micro_int8.tflite")
    assert clip_reads([model, "--clips", str(clips), "--json", str(out),
                       "--run-arg=--detector=haar"]) == 0
    counts = json.loads(out.read_text())[model]["neutral"]
    assert sum(counts.values()) > 0 and set(counts) <= set(DEFAULT_SPEC.labels)
    lines = tmp_path / "p.jsonl"
    lines.write_text('{"frame":0,"faces":[{"label":"sad"},{"label":"neutral"}]}\n{"frame":1,"faces":[]}\n'
                     '{"frame":2,"faces":[{"label":"neutral"}]}\n')
    c = read_jsonl(lines)
    assert c == {"neutral": 2, "sad": 1} and shares(c) == {"neutral": 2 / 3, "sad": 1 / 3}
    assert "**66.7% neutral** (3; neutral 66.7%, sad 33.3%)" in table({"m.tflite": {"neutral": c}})
    with pytest.raises(SystemExit, match="happy.mp4"):
        clip_reads([model, "--clips", str(clips), "--classes", "happy"])
