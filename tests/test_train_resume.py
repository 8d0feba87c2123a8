"""Nothing lost on interruption: a real `fer-edge train` process is SIGKILLed, resumed, SIGTERMed and resumed."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("tf_keras")

EPOCHS = 12
ARGS = ["--width", "8", "--synthetic-per-class", "150", "--epochs", str(EPOCHS), "--no-augment", "--patience", "0"]


def _start(args, env):
    return subprocess.Popen([sys.executable, "-m", "train", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def _epoch(run) -> int:
    try:
        return json.loads((run / "checkpoints" / "state.json").read_text())["epoch"]
    except FileNotFoundError:
        return 0


def _wait_for_epoch(proc, run, n, timeout=240.0) -> None:
    deadline = time.monotonic() + timeout
    while _epoch(run) < n:
        if proc.poll() is not None:
            pytest.fail(f"training exited with {proc.returncode} before epoch {n}:\n{proc.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no epoch {n} after {timeout} s")
        time.sleep(0.05)


@pytest.mark.slow
def test_kill_then_resume_continues_and_completes(tmp_path, tmp_path_factory):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
           "FER_EDGE_CACHE": str(tmp_path_factory.getbasetemp() / "fer_edge_cache")}
    run = tmp_path / "runs" / "r"

    proc = _start([*ARGS, "--name", "r", "--runs-dir", str(tmp_path / "runs")], env)
    _wait_for_epoch(proc, run, 2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    killed_at = _epoch(run)
    assert 2 <= killed_at < EPOCHS, "the first process finished before it could be killed"
    assert not (run / "metrics.json").exists()

    proc = _start(["--resume", str(run)], env)
    _wait_for_epoch(proc, run, killed_at + 1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    stopped_at = _epoch(run)
    assert proc.returncode == 143, err[-2000:]
    assert f"resume with: fer-edge train --resume {run}" in err
    assert f"resuming {run} after epoch {killed_at}/{EPOCHS}" in err
    assert killed_at < stopped_at < EPOCHS

    proc = _start(["--resume", str(run)], env)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert f"after epoch {stopped_at}/{EPOCHS}" in err
    with open(run / "history.csv") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == list(range(1, EPOCHS + 1))
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_completed"] == EPOCHS
    assert metrics["val"]["accuracy"] > 0.8  # the same kind of result as the uninterrupted run (0.90)
    for name in ("model.keras", "model.spec.json", "curves.png", "confusion.png"):
        assert (run / name).is_file()
    assert "best model on val" in out

    proc = _start(["--resume", str(run)], env)  # a finished run: nothing to do, says so
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "already finished" in err
