"""What an interrupted command leaves (issue 36, case 8): SIGTERM unwinds like Ctrl-C, so temporary folders are
removed and child processes (``make -j`` and its compilers) are ended; the temporary folders of a command that was
killed outright (SIGKILL) are removed when the next one starts, never those of one still running."""

import fcntl
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from edge.core.atomic import atomic_dir


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in state


def test_atomic_dir_removes_what_a_killed_run_left_but_not_a_live_one(tmp_path):
    stale, live = tmp_path / ".out.abcd1234.tmp", tmp_path / ".out.live_123.tmp"
    for folder in (stale, live):
        folder.mkdir()
        (folder / "half.c").write_text("int x")
    other = tmp_path / ".other.abcd1234.tmp"  # another output's: not ours to judge
    other.mkdir()
    fd = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a run still writing it
        with atomic_dir(tmp_path / "out") as tmp:
            (tmp / "done.c").write_text("int y;")
    finally:
        os.close(fd)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.abcd1234.tmp", ".out.live_123.tmp", "out"]


def test_sigterm_ends_the_childs_whole_process_group(tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    script = textwrap.dedent(f"""
        from edge.core.stop import run_child_group, terminate_raises
        with terminate_raises():
            run_child_group(["sh", "-c", "sleep 300 & echo $! > {pidfile}; wait"])
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    grandchild = int(pidfile.read_text())
    assert _alive(grandchild)
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    assert "Terminated: SIGTERM" in proc.stderr.read()
    deadline = time.monotonic() + 10
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild), "the child's own children end too"


MAKEFILE = """\
microlite:
\tsleep 300 & echo $$! > {pidfile}; wait
print-MICROLITE_LIB_PATH:
\t@echo 'MICROLITE_LIB_PATH=gen/lib/libtensorflow-microlite.a'
print-%:
\t@echo '$*='
"""  # print-VAR: the toolkit reads the Makefile's variables (the library's path; the rest empty) before it builds


@pytest.mark.slow
@pytest.mark.requires("tflite_micro")
def test_sigterm_during_verify_tflm_leaves_no_folder_and_no_make(int8_model, tmp_path):
    tree = tmp_path / "tflm"
    make_dir = tree / "tensorflow/lite/micro/tools/make"
    make_dir.mkdir(parents=True)
    pidfile = tmp_path / "compiler.pid"
    (make_dir / "Makefile").write_text(MAKEFILE.format(pidfile=pidfile))
    (tree / "tensorflow/lite/micro/micro_interpreter.h").write_text("")
    out = tmp_path / "fw"
    env = dict(os.environ, FER_EDGE_CACHE=str(tmp_path / "cache"))
    proc = subprocess.Popen([sys.executable, "-m", "edge.commands", "export-firmware", str(int8_model), "--out-dir",
                             str(out), "--parity-samples", "4", "--verify-tflm", str(tree)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 180
        while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline \
                and proc.poll() is None:
            time.sleep(0.1)
        compiler = int(pidfile.read_text())
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143 and "interrupted (SIGTERM)" in err, err
    assert "Traceback" not in err, err
    deadline = time.monotonic() + 10
    while _alive(compiler) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(compiler), "make's jobs end with it"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "compiler.pid", "tflm"], "no .fw.*.tmp, no fw"
