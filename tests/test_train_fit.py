"""`fer-edge train` on the built-in synthetic faces: it learns, leaves a complete run dir, refuses what it should."""

import csv
import json

import pytest

from edge.commands.dispatch import main
from edge.core.spec import FACE_FRAMING, load_spec_for

pytest.importorskip("tf_keras")

# Measured: micro at width 8 reaches 0.90 val accuracy on these settings (chance is 0.14).
QUICK = ["--width", "8", "--synthetic-per-class", "150", "--epochs", "12", "--no-augment"]
THRESHOLD = 0.80


@pytest.fixture(autouse=True)
def shared_cache(tmp_path_factory, monkeypatch):
    """One dataset cache for the session: synthetic faces are drawn once."""
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path_factory.getbasetemp() / "fer_edge_cache"))


@pytest.mark.slow
def test_train_learns_synthetic_and_leaves_a_complete_run(tmp_path, capsys):
    assert main(["train", *QUICK, "--name", "quick", "--runs-dir", str(tmp_path)]) == 0
    run = tmp_path / "quick"
    for name in ("model.keras", "model.spec.json", "train_config.json", "history.csv", "metrics.json",
                 "curves.png", "confusion.png", "checkpoints/state.json"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["val"]["accuracy"] > THRESHOLD
    assert metrics["budget"]["int8_weight_bytes"] < 40_000  # width 8: a quarter of micro's weights
    with open(run / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == list(range(1, 13))
    best = max(rows, key=lambda r: float(r["val_accuracy"]))
    assert metrics["best_epoch"] == int(best["epoch"])
    # model.keras is the best epoch's model: evaluating it reproduces that epoch's validation accuracy
    assert metrics["val"]["accuracy"] == pytest.approx(float(best["val_accuracy"]), abs=1e-4)
    spec = load_spec_for(run / "model.keras")
    assert spec.preset == "micro" and spec.meta["preset_options"] == {"width": 8}
    assert spec.framing == FACE_FRAMING, "the live loop frames faces as measured for pre-cropped training faces"
    config = json.loads((run / "train_config.json").read_text())
    assert config["synthetic_per_class"] == 150 and config["augment"]["flip"] is False
    out = capsys.readouterr().out
    assert "best model on val" in out and "confusion matrix" in out

    # evaluate on the run's own data (no --data) gives the numbers in metrics.json
    assert main(["evaluate", str(run), "--json", str(tmp_path / "eval.json")]) == 0
    evaluated = json.loads((tmp_path / "eval.json").read_text())
    assert evaluated["confusion"] == metrics["val"]["confusion"]

    # an existing run is never replaced silently
    assert main(["train", *QUICK, "--name", "quick", "--runs-dir", str(tmp_path)]) == 2
    assert "--resume" in capsys.readouterr().err


def test_budget_refusal_before_anything_is_written(tmp_path, capsys):
    from train.budget import model_budget
    from train.models import build_model

    need = model_budget(build_model("micro"))
    code = main(["train", "--max-flash", "64KiB", "--max-ram", "16KB", "--name", "big", "--runs-dir", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "does not fit" in err and "65,536" in err and "16,000" in err
    assert f"{need.int8_weight_bytes:,}" in err and f"{need.peak_activation_bytes:,}" in err
    assert not (tmp_path / "big").exists()


def test_bad_options_are_user_errors(tmp_path, capsys):
    assert main(["train", "--lr", "-1", "--runs-dir", str(tmp_path)]) == 2
    assert "lr" in capsys.readouterr().err
    assert main(["train", "--max-flash", "lots", "--runs-dir", str(tmp_path)]) == 2
    assert main(["train", "--resume", str(tmp_path / "nope")]) == 2
    assert main(["train", "--resume", str(tmp_path), "--lr", "0.1"]) == 2
    assert "only --epochs" in capsys.readouterr().err
