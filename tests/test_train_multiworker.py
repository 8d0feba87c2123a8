"""--strategy multiworker for real: two worker processes on 127.0.0.1 with TF_CONFIG train one epoch together.

Only the chief writes the run directory, and the model equals a single-process run's: the `seed`
preset without dropout has no BatchNorm, so the all-reduced gradient of two half batches is the
gradient of the whole batch and the weights agree to float rounding.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tf_keras")

ARGS = ["--preset", "seed", "--width", "4", "--dropout", "0", "--synthetic-per-class", "40", "--epochs", "1",
        "--batch-size", "28", "--no-augment", "--class-balance", "none", "--name", "mw"]


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _weights(path):
    import tf_keras as keras

    return [w.numpy() for w in keras.models.load_model(path, compile=False, safe_mode=True).weights]


@pytest.mark.slow
def test_two_workers_on_localhost_match_one_process(tmp_path, tmp_path_factory):
    base_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "",
                "FER_EDGE_CACHE": str(tmp_path_factory.getbasetemp() / "fer_edge_cache")}
    single = subprocess.run([sys.executable, "-m", "train", *ARGS, "--runs-dir", str(tmp_path / "single")],
                            capture_output=True, text=True, env=base_env, timeout=600)
    assert single.returncode == 0, single.stderr[-3000:]

    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    procs = []
    for index in range(2):
        tmp = tmp_path / f"tmp{index}"  # each worker's own temporary directory
        tmp.mkdir()
        env = {**base_env, "TMPDIR": str(tmp),
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        procs.append(subprocess.Popen([sys.executable, "-m", "train", *ARGS, "--strategy", "multiworker",
                                       "--runs-dir", str(tmp_path / "multi")],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=600))
    finally:
        for p in procs:
            p.kill()
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    assert "multiworker strategy with 2 replica(s)" in outs[0][1]

    # only the chief (worker 0) wrote a run directory; the other worker's checkpoint copies are gone
    assert sorted(p.name for p in (tmp_path / "multi").iterdir()) == ["mw"]
    assert not any(p.name.startswith("fer-edge-worker") for p in (tmp_path / "tmp1").iterdir())
    metrics = json.loads((tmp_path / "multi" / "mw" / "metrics.json").read_text())
    assert metrics["replicas"] == 2

    one = json.loads((tmp_path / "single" / "mw" / "metrics.json").read_text())
    assert metrics["val"]["accuracy"] == pytest.approx(one["val"]["accuracy"], abs=0.02)
    for a, b in zip(_weights(tmp_path / "multi" / "mw" / "model.keras"), _weights(tmp_path / "single" / "mw" / "model.keras")):
        np.testing.assert_allclose(a, b, atol=1e-4)
    hist_multi = (tmp_path / "multi" / "mw" / "history.csv").read_text().splitlines()[1].split(",")
    hist_one = (tmp_path / "single" / "mw" / "history.csv").read_text().splitlines()[1].split(",")
    assert float(hist_multi[1]) == pytest.approx(float(hist_one[1]), rel=1e-3)  # training loss of the epoch
