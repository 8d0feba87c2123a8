import json
import subprocess
import sys

import pytest

from train.config import TrainConfig

pytestmark = [pytest.mark.slow, pytest.mark.requires("tensorflow", "tf_keras", "keras_tuner")]


def _train_config(argv):
    import argparse

    from train import cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.config_from_args(parser.parse_args(argv))


def _tune(*args, cwd):
    cmd = [sys.executable, "-m", "edge.commands", "tune", "--synthetic-per-class", "40", "--epochs-per-trial", "1",
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
    # the printed command trains exactly the best trial's configuration, --synthetic-per-class included
    command = r.stdout.split("train it fully with:")[1].split()
    assert command[:2] == ["fer-edge", "train"] and "--synthetic-per-class" in command
    assert _train_config(command[2:]) == TrainConfig.from_dict(best)

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
    assert r.returncode == 2 and "is in the way" in r.stderr and (tmp_path / "runs/t/x").exists()
    r = _tune("--name", "u", "--dropout", "0.6,0.2", cwd=tmp_path)
    assert r.returncode == 2 and "dropout" in r.stderr
    assert not (tmp_path / "runs/u/tune_results.json").exists()


def test_tune_on_two_sources_scores_trials_by_the_mean_of_their_val_splits(tmp_path):
    import re

    from dataset_fixtures import write_folders

    write_folders(tmp_path / "faces", 4, 60)  # 28 val faces, against the synthetic source's 1,400
    r = _tune("--data", "synthetic:1", "--data", str(tmp_path / "faces"), "--source-weight", "3",
              "--source-weight", "1", "--monitor", "val_source_accuracy", "--max-trials", "2", "--widths", "4",
              "--name", "two", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    results = json.loads((tmp_path / "runs/two/tune_results.json").read_text())
    assert results["objective"] == "val_source_accuracy"
    # one epoch per trial: each trial's score is the mean of the two per-source accuracies it logged
    means = [float(m) for m in re.findall(r"val accuracy per source \S+ \S+ \(mean ([0-9.]+)\)", r.stderr)]
    trials = sorted(results["trials"], key=lambda t: t["trial"])
    assert len(means) == len(trials) == 2
    for t, mean in zip(trials, means):
        assert t["status"] == "COMPLETED" and abs(t["score"] - mean) < 1e-4
        assert 0.0 <= t["val_accuracy"] <= 1.0
    best = json.loads((tmp_path / "runs/two/best/train_config.json").read_text())
    assert best["data"] == ["synthetic:1", str(tmp_path / "faces")] and best["source_weights"] == [3.0, 1.0]
    assert (f"--data synthetic:1 --data {tmp_path / 'faces'} --source-weight 3 --source-weight 1 ") in r.stdout
    command = r.stdout.split("train it fully with:")[1].split()
    assert "val_source_accuracy" in command and _train_config(command[2:]) == TrainConfig.from_dict(best)
