"""The systemd unit in edge/deploy runs: ``systemd-analyze verify`` accepts it, and its ExecStartPre and ExecStart
commands, exactly as written (%h a home folder made here, the port a free one), start, serve the shipped model's
predictions and stop cleanly on the unit's KillSignal within its TimeoutStopSec. The camera is picamera2's own code
over the stand-ins in tests/fake_libcamera, whose sensor sees a demo video."""

from __future__ import annotations

import configparser
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from edge_testkit import demo_video

import edge

UNIT = Path(edge.__file__).parent / "deploy" / "fer-edge.service"
FAKES = Path(__file__).parent / "fake_libcamera"
ROOT = Path(edge.__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(180)


def _service() -> configparser.SectionProxy:
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str
    unit.read(UNIT)
    return unit["Service"]


def _home(tmp_path: Path) -> Path:
    """A home folder laid out as the unit expects: ~/fer-edge with fer-edge in ~/fer-edge/.venv/bin."""
    home = tmp_path / "home"
    bin_dir = home / "fer-edge" / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    exe = bin_dir / "fer-edge"
    exe.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m edge.commands \"$@\"\n")
    exe.chmod(0o755)
    return home


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_systemd_analyze_verifies_the_unit(tmp_path):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed here (apt-get install systemd)")
    home = _home(tmp_path)
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    shutil.copy(UNIT, tmp_path / UNIT.name)
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)}
    done = subprocess.run([tool, "verify", "--user", str(tmp_path / UNIT.name)], capture_output=True, text=True,
                          env=env, timeout=120)
    if done.returncode and "Failed to initialize manager" in done.stderr:
        pytest.skip(f"systemd-analyze cannot run a user manager here: {done.stderr.strip()}")
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def test_the_units_commands_run_the_shipped_model_and_stop_on_sigterm(tmp_path, yunet_model):
    try:
        subprocess.run([sys.executable, "-c", "import picamera2"], check=True, capture_output=True,
                       env={**os.environ, "PYTHONPATH": str(FAKES)}, timeout=60)
    except subprocess.CalledProcessError as e:
        if os.environ.get("CI"):
            pytest.fail(f"picamera2 is not importable ({e.stderr.strip()[-200:]}); CI installs it with "
                        "'make picamera2-test-deps'")
        pytest.skip("picamera2 not installed: make picamera2-test-deps")
    service = _service()
    home = _home(tmp_path)
    port = _free_port()

    def argv(key: str) -> list[str]:
        line = service[key].lstrip("-").replace("%h", str(home)).replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        return shlex.split(line)

    video = tmp_path / "scene.mp4"
    demo_video(video, 30, faces="2")
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy(yunet_model, cache / yunet_model.name)  # fetched before; the unit's fetch must not download again
    env = {k: v for k, v in os.environ.items() if k not in ("FER_EDGE_DETECTOR_MODEL", "PYTHONPATH")}
    env.update(dict(kv.split("=", 1) for kv in shlex.split(service["Environment"])))
    env.update(HOME=str(home), FER_EDGE_CACHE=str(cache), FAKE_CAMERA_VIDEO=str(video),
               PYTHONPATH=os.pathsep.join([str(FAKES), str(ROOT)]))
    cwd = service["WorkingDirectory"].replace("%h", str(home))

    pre = subprocess.run(argv("ExecStartPre"), cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert pre.returncode == 0 and "already installed" in pre.stdout, pre.stderr
    assert sorted(p.name for p in cache.iterdir()) == [yunet_model.name], "the detector only"

    err = open(tmp_path / "journal.txt", "w")
    proc = subprocess.Popen(argv("ExecStart"), cwd=cwd, env=env, stdout=err, stderr=subprocess.STDOUT, text=True)
    try:
        faces, deadline = [], time.monotonic() + 120
        while not faces and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/predictions.json", timeout=5) as r:
                    faces = json.loads(r.read() or b"{}").get("faces") or []
            except (OSError, ValueError):
                continue
        journal = (tmp_path / "journal.txt").read_text()
        assert faces and all(f["label"] for f in faces), journal
        proc.send_signal(getattr(signal, service["KillSignal"]))
        proc.wait(timeout=float(service["TimeoutStopSec"]))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    journal = (tmp_path / "journal.txt").read_text()
    assert proc.returncode == 0, journal
    assert "fer_micro_int8.tflite" in journal and "YuNet" in journal and "stopped by signal" in journal, journal
