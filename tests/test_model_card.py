"""`fer-edge model-card`: a real train -> quantize -> export-firmware run published with its card."""

import json

import pytest

from edge.commands.dispatch import main
from edge.core.spec import load_spec_for
from edge.runtime import TFLiteClassifier

pytestmark = [pytest.mark.slow, pytest.mark.requires("tensorflow", "tf_keras")]


def test_model_card_publishes_the_runs_real_numbers(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "runs" / "tiny"
    assert main(["train", "--synthetic-per-class", "30", "--epochs", "2", "--width", "4", "--depth", "1",
                 "--runs-dir", str(tmp_path / "runs"), "--name", "tiny"]) == 0
    out = tmp_path / "models"
    # not yet quantized: refused, nothing written
    assert main(["model-card", str(run), "--name", "m", "--out-dir", str(out)]) == 2
    assert not out.exists() or not any(out.iterdir())
    assert main(["quantize", str(run), "--method", "ptq", "--rep-samples", "50", "--max-drop", "100"]) == 0
    assert main(["model-card", str(run), "--name", "m", "--out-dir", str(out)]) == 2  # not exported yet
    assert main(["export-firmware", str(run), "--out-dir", str(run / "firmware"), "--board", "all"]) == 0
    assert main(["model-card", str(run), "--name", "m", "--out-dir", str(out)]) == 0

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
    assert "fer-edge train --synthetic-per-class 30 --preset micro --width 4 --depth 1 --epochs 2" in card
    assert "fer-edge quantize runs/tiny --method ptq --rep-samples 50 --max-drop 100\n" in card
    for board in export["boards"]:
        assert f"| {board['id']} |" in card

    # a float model over --max-float-size is not shipped (and one left by the publish above is removed)
    assert main(["model-card", str(run), "--name", "m", "--out-dir", str(out), "--max-float-size", "1KB"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["m.md", "m_confusion.png", "m_int8.spec.json", "m_int8.tflite"]
    assert "the float model (" in (out / "m.md").read_text() and "is not shipped" in (out / "m.md").read_text()
    assert main(["model-card", str(run), "--name", "m", "--out-dir", str(out), "--max-float-size", "lots"]) == 2


def test_model_card_stages_every_file_and_names_the_init_model_it_replaces(tmp_path, monkeypatch):
    """A failure while publishing leaves models/ as it was; a fine-tune published over the model it started from
    names that model by SHA-256 (and commit), not by the path it now overwrites; shipped specs name no folder."""
    import hashlib

    import model_card.card as card_module
    from edge.core.errors import UserError

    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))
    runs, out = tmp_path / "runs", tmp_path / "models"

    def make_run(name: str, *extra: str) -> None:
        assert main(["train", "--synthetic-per-class", "20", "--epochs", "1", "--width", "4", "--depth", "1",
                     "--runs-dir", str(runs), "--name", name, *extra]) == 0
        assert main(["quantize", str(runs / name), "--method", "ptq", "--rep-samples", "30", "--max-drop", "100"]) == 0
        assert main(["export-firmware", str(runs / name), "--out", str(runs / name / "firmware")]) == 0

    make_run("base")
    assert main(["model-card", str(runs / "base"), "--name", "m", "--out", str(out)]) == 0
    card = (out / "m.md").read_text()
    assert "## Speed per face" in card and "Raspberry Pi 4" in card and "Raspberry Pi 5" in card
    for spec_file in ("m.spec.json", "m_int8.spec.json"):
        meta = json.loads((out / spec_file).read_text())["meta"]
        assert meta["data"] == "synthetic" and str(tmp_path) not in (out / spec_file).read_text()
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    init_sha = hashlib.sha256(before["m.keras"]).hexdigest()

    make_run("tuned", "--init", str(out / "m.keras"))
    assert json.loads((runs / "tuned" / "model.spec.json").read_text())["meta"]["init"]["sha256"] == init_sha

    def broken_card(*args, **kwargs):  # fails after the model files were written (staged)
        raise UserError("card template broke")

    monkeypatch.setattr(card_module, "card_text", broken_card)
    assert main(["model-card", str(runs / "tuned"), "--name", "m", "--out", str(out)]) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing new, nothing left behind
    monkeypatch.undo()
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))

    assert main(["model-card", str(runs / "tuned"), "--name", "m", "--out", str(out)]) == 0
    card = (out / "m.md").read_text()
    assert "--init models/m.keras" not in card  # that path now holds the new model
    assert f"--init <m.keras, SHA-256 {init_sha[:16]}...>" in card
    assert (out / "m_int8.tflite").read_bytes() == (runs / "tuned" / "model_int8.tflite").read_bytes()


def test_model_card_of_a_two_source_run_scores_every_set_side_by_side(tmp_path, monkeypatch, int8_model):
    """A run on FER-style folders + an ExpW folder: the card names both sources and their weights, and
    scores the float, int8 and an earlier (baseline) model on each source's held-out faces and on an
    extra folder, with numbers equal to what `fer-edge evaluate` prints for the same model and faces."""
    from dataset_fixtures import write_expw, write_folders

    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))
    write_folders(tmp_path / "fer2013", 12, 40)
    write_expw(tmp_path / "expw_train", 8)
    write_folders(tmp_path / "mine", 3, 50, splits=("test",))  # a user's test-only folder
    runs = tmp_path / "runs"
    assert main(["train", "--data", str(tmp_path / "fer2013"), "--data", str(tmp_path / "expw_train"),
                 "--source-weight", "3", "--source-weight", "1", "--monitor", "val_source_accuracy",
                 "--width", "8", "--epochs", "8", "--batch-size", "16", "--lr", "0.01", "--no-augment", "--runs-dir", str(runs), "--name", "two"]) == 0
    run = runs / "two"
    assert main(["quantize", str(run), "--method", "ptq", "--rep-samples", "50", "--max-drop", "100"]) == 0
    report = json.loads((run / "quant_report.json").read_text())
    assert [s["source"] for s in report["gate"]["sources"]] == [str(tmp_path / "fer2013"), str(tmp_path / "expw_train")]
    assert main(["export-firmware", str(run), "--out-dir", str(run / "firmware"), "--board", "all"]) == 0
    out = tmp_path / "models"
    # a baseline that is not a model is refused before anything is written
    assert main(["model-card", str(run), "--name", "m", "--out-dir", str(out), "--baseline", str(tmp_path / "fer2013")]) == 2
    assert not out.exists() or not any(out.iterdir())
    assert main(["model-card", str(run), "--name", "m", "--out-dir", str(out), "--eval", str(tmp_path / "mine"),
                 "--baseline", str(int8_model)]) == 0
    card = (out / "m.md").read_text()
    assert "fer2013 (folders: train 84, val 84) + expw_train (expw: " in card and "sampled 3:1" in card
    assert "checkpoint chosen on `val` by the mean of the sources' own accuracies" in card
    assert f"--eval <mine> --baseline <before: {int8_model.name}>" in card

    start = card.index("## Every data set side by side")
    table = card[start:card.index("\n## ", start)]
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table.splitlines() if line.startswith("| ")
            and not line.startswith("| data")}
    assert set(rows) == {"fer2013", "expw_train", "mine"}
    assert "| test | 21 |" in rows["mine"] and "| held-out val (trained on its train split) | 84 |" in rows["fer2013"]
    # each cell is what `fer-edge evaluate` reports for that model on those faces
    cells = {name: [c.strip() for c in line.strip(" |").split(" | ")[3:]] for name, line in rows.items()}
    assert all(len(set(c)) > 1 for c in cells.values())  # the models differ, so a swapped column would fail
    for name in rows:
        extra = [] if name == "mine" else ["--split", "val"]
        for column, model in enumerate((out / "m.keras", out / "m_int8.tflite", int8_model)):
            assert main(["evaluate", str(model), "--data", str(tmp_path / name), *extra,
                         "--json", str(tmp_path / "e.json")]) == 0
            e = json.loads((tmp_path / "e.json").read_text())
            assert cells[name][column] == (f"{100 * e['accuracy']:.2f}% / {100 * e['balanced_accuracy']:.2f}% / "
                                             f"{100 * e['natural_prior_accuracy']:.2f}% / {e['macro_f1']:.4f}")
    assert f"fer-edge evaluate <before: {int8_model.name}> --data <ExpW folder: expw_train> --split val" in table
