"""A read-only file system and a full disk (issue 36, cases 11 and 12): every command that writes says so in one
line naming the path, "read-only file system" rather than "permission denied", before its work, and leaves nothing
under the name it was asked for. The file systems are real: a tmpfs mounted read-only (or tiny) in a mount
namespace of the test's own (``unshare``), so nothing outside the test sees it."""

import os
import shutil
import subprocess
import sys

import pytest
from edge_testkit import write_no_face_frames

#: sh -c SCRIPT OPTIONS FOLDER COMMAND...: mount, run, then say how it ended and what the folder holds
SCRIPT = ('opts=$0; dir=$1; shift; mount -t tmpfs -o "$opts" tmpfs "$dir" || exit 97; "$@"; code=$?; '
          'echo "exit $code"; ls -A "$dir"')


@pytest.fixture(scope="module", autouse=True)
def _namespaces(tmp_path_factory):
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux)")
    probe = tmp_path_factory.mktemp("probe")
    done = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o ro tmpfs {probe}"], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount in a user namespace here ({done.stderr.decode().strip()})")


def mounted(options: str, folder, *args, env=None) -> tuple[int, str, list[str]]:
    """``fer-edge ARGS`` with a tmpfs mounted (``options``) on ``folder`` that only it sees: (exit code, stderr,
    the names left in the folder)."""
    folder.mkdir(exist_ok=True)
    done = subprocess.run(["unshare", "-rm", "sh", "-c", SCRIPT, options, str(folder), sys.executable, "-m",
                           "edge.commands", *map(str, args)], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, **(env or {})))
    lines = done.stdout.splitlines()
    ends = [i for i, line in enumerate(lines) if line.startswith("exit ")]
    assert ends, (done.returncode, done.stdout, done.stderr)
    return int(lines[ends[-1]].split()[1]), done.stderr, lines[ends[-1] + 1:]


def one_line(err: str, *needles: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], err
    return lines[0]


READ_ONLY = "read-only file system"


def test_run_says_read_only_not_permission_denied(int8_model, tmp_path):
    frames, ro = write_no_face_frames(tmp_path / "frames", 2), tmp_path / "ro"
    code, err, left = mounted("ro", ro, "run", int8_model, "--source", frames, "--detector", "haar",
                              "--jsonl", ro / "p.jsonl")
    assert code == 2 and left == []
    line = one_line(err, f"--jsonl {ro / 'p.jsonl'}", READ_ONLY)
    assert "permission denied" not in line


def test_demo_video_into_a_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    code, err, left = mounted("ro", ro, "demo-video", ro / "clip.mp4", "--frames", "3")
    assert code == 2 and left == []
    one_line(err, str(ro / "clip.mp4"), READ_ONLY)


def test_demo_video_on_a_full_disk_leaves_nothing_and_names_the_video(tmp_path):
    small = tmp_path / "small"
    code, err, left = mounted("size=48k", small, "demo-video", small / "clip.mp4", "--frames", "40")
    assert code == 1 and left == [], (err, left)
    one_line(err, f"{small / 'clip.mp4'}: the video could not be written completely", "disk full")


def test_fetch_models_into_a_read_only_cache(tmp_path):
    ro, copy = tmp_path / "ro", tmp_path / "face_detection_yunet_2023mar.onnx"
    copy.write_bytes(b"not checked before the cache is: it cannot take it anyway")
    code, err, left = mounted("ro", ro, "fetch-models", "--from", copy, env={"FER_EDGE_CACHE": str(ro / "cache")})
    assert code == 2 and left == []
    one_line(err, str(ro / "cache"), READ_ONLY, "FER_EDGE_CACHE")


@pytest.mark.requires("tensorflow", "tf_keras")
def test_train_into_a_read_only_runs_dir(tmp_path):
    ro = tmp_path / "ro"
    code, err, left = mounted("ro", ro, "train", "--data", "synthetic", "--epochs", "1", "--runs-dir", ro,
                              env={"FER_EDGE_CACHE": str(tmp_path / "cache")})
    assert code == 2 and left == []
    one_line(err, f"--runs-dir {ro}", READ_ONLY)


@pytest.mark.requires("tensorflow", "tf_keras")
def test_data_refuses_a_read_only_contact_sheet_before_its_work(tmp_path):
    ro = tmp_path / "ro"
    code, err, left = mounted("ro", ro, "data", "synthetic", "--contact-sheet", ro / "sheet.png",
                              env={"FER_EDGE_CACHE": str(tmp_path / "cache")})
    assert code == 2 and left == []
    one_line(err, f"--contact-sheet {ro / 'sheet.png'}", READ_ONLY)
    assert not (tmp_path / "cache").exists(), "refused before the dataset was loaded (and cached)"
