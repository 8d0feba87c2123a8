"""`fer-edge model-card`: a real train -> quantize -> export-firmware run published with its card."""

import json

import pytest

from edge.cli import main
from edge.runtime import TFLiteClassifier
from edge.spec import load_spec_for

pytestmark = [pytest.mark.slow, pytest.mark.requires("tensorflow", "tf_keras")]


def test_model_card_publishes_the_runs_real_numbers(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "runs" / "tiny"
    assert main(["train", "--synthetic-per-class", "30", "--epochs", "2", "--width", "4", "--depth", "1",
                 "--runs-dir", str(tmp_path / "runs"), "--name", "tiny"]) == 0
    out = tmp_path / "models"
    # not yet quantized: refused, nothing written
    assert main(["model-card", str(run), "--name", "m", "--out", str(out)]) == 2
    assert not out.exists() or not any(out.iterdir())
    assert main(["quantize", str(run), "--method", "ptq", "--rep-samples", "50", "--max-drop", "100"]) == 0
    assert main(["model-card", str(run), "--name", "m", "--out", str(out)]) == 2  # not exported yet
    assert main(["export-firmware", str(run), "--out", str(run / "firmware"), "--board", "all"]) == 0
    assert main(["model-card", str(run), "--name", "m", "--out", str(out)]) == 0

    assert sorted(p.name for p in out.iterdir()) == ["m.keras", "m.md", "m.spec.json", "m_confusion.png",
                                                     "m_int8.spec.json", "m_int8.tflite"]
    assert (out / "m_int8.tflite").read_bytes() == (run / "model_int8.tflite").read_bytes()
    spec = load_spec_for(out / "m_int8.tflite")
    clf = TFLiteClassifier(out / "m_int8.tflite", spec)
    assert spec.input_quant == clf.input_quant and spec.output_quant == clf.output_quant
    report = json.loads((run / "quant_report.json").read_text())
    export = json.loads((run / "firmware" / "export.json").read_text())
    card = (out / "m.md").read_text()
    q = report["models"]["ptq"]
    assert f"{100 * q['accuracy']:.2f}%" in card and f"{q['macro_f1']:.4f}" in card
    assert f"{export['arena']['recommended']:,} recommended" in card
    assert "fer-edge train --preset micro --synthetic-per-class 30 --epochs 2" in card
    assert "fer-edge quantize runs/tiny --method ptq --rep-samples 50 --max-drop 100.0\n" in card
    for board in export["boards"]:
        assert f"| {board['id']} |" in card

    # a float model over --max-float-size is not shipped (and one left by the publish above is removed)
    assert main(["model-card", str(run), "--name", "m", "--out", str(out), "--max-float-size", "1KB"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["m.md", "m_confusion.png", "m_int8.spec.json", "m_int8.tflite"]
    assert "the float model (" in (out / "m.md").read_text() and "is not shipped" in (out / "m.md").read_text()
    assert main(["model-card", str(run), "--name", "m", "--out", str(out), "--max-float-size", "lots"]) == 2
