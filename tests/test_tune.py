import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.requires("tensorflow", "tf_keras", "keras_tuner")]


def _tune(*args, cwd):
    cmd = [sys.executable, "-m", "edge.cli", "tune", "--synthetic-per-class", "40", "--epochs-per-trial", "1",
           "--depths", "1", "--algorithm", "random", "--runs-dir", "runs", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_tune_skips_over_budget_models_records_trials_and_resumes(tmp_path):
    r = _tune("--max-trials", "3", "--widths", "4,64", "--max-flash", "150KB", "--name", "t", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    results = json.loads((tmp_path / "runs/t/tune_results.json").read_text())
    trials = results["trials"]
    assert 1 <= len(trials) <= 3
    for t in trials:  # width 64 is ~500 KB of int8 weights: never trained, recorded as failed with the numbers
        if t["width"] == 64:
            assert t["status"] == "FAILED" and t["val_accuracy"] is None and "--max-flash" in t["message"]
        else:
            assert t["status"] == "COMPLETED" and 0.0 <= t["val_accuracy"] <= 1.0
            assert t["int8_weight_bytes"] <= 150_000
    best = json.loads((tmp_path / "runs/t/best/train_config.json").read_text())
    assert best["preset_options"]["width"] == results["best"]["width"] == 4
    assert "fer-edge train --preset micro --width 4" in r.stdout

    # resuming a finished search trains nothing again and keeps the same trials
    r2 = _tune("--resume", "runs/t", cwd=tmp_path)
    assert r2.returncode == 0, r2.stderr[-2000:]
    again = json.loads((tmp_path / "runs/t/tune_results.json").read_text())
    key = lambda t: (t["trial"], t["status"], t["val_accuracy"])  # noqa: E731
    assert sorted(map(key, again["trials"])) == sorted(map(key, trials))
    assert "Epoch 1/1" not in r2.stdout + r2.stderr


def test_tune_refuses_an_existing_directory_and_bad_ranges(tmp_path):
    (tmp_path / "runs/t").mkdir(parents=True)
    (tmp_path / "runs/t/x").write_text("")
    r = _tune("--name", "t", cwd=tmp_path)
    assert r.returncode == 2 and "already exists" in r.stderr
    r = _tune("--name", "u", "--dropout", "0.6,0.2", cwd=tmp_path)
    assert r.returncode == 2 and "dropout" in r.stderr
    assert not (tmp_path / "runs/u/tune_results.json").exists()
