"""A recording survives a kill up to its last seconds (issue 36, case 8): ``run --out`` records segments that are
playable as soon as each is complete, joins them into the one video at the end, and a recording that was killed
is recovered by the next one to the same file."""

import fcntl
import os
import re
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from edge_testkit import demo_video, one_line_error

from edge import recording
from edge.commands.dispatch import main
from edge.mp4join import JoinError, join


def _decoded(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            return frames
        frames.append(frame)


def _segment(path, values, size=(96, 64)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15, size)
    for v in values:
        writer.write(np.full((size[1], size[0], 3), v, np.uint8))
    writer.release()
    return path


def test_joined_segments_decode_as_the_segments_do(tmp_path):
    parts = [_segment(tmp_path / f"{i}.mp4", range(10 * i, 10 * i + 7)) for i in range(3)]
    assert join(parts, tmp_path / "joined.mp4") == 21
    joined = _decoded(tmp_path / "joined.mp4")
    expected = [f for p in parts for f in _decoded(p)]
    assert len(joined) == 21 and all(np.array_equal(a, b) for a, b in zip(joined, expected))
    cap = cv2.VideoCapture(str(tmp_path / "joined.mp4"))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 21 and cap.get(cv2.CAP_PROP_FPS) == 15


def test_segments_of_another_size_or_cut_short_are_not_joined(tmp_path):
    a = _segment(tmp_path / "a.mp4", range(3))
    with pytest.raises(JoinError, match="other settings"):
        join([a, _segment(tmp_path / "b.mp4", range(3), size=(64, 48))], tmp_path / "x.mp4")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(a.read_bytes()[:-200])
    with pytest.raises(JoinError):
        join([a, cut], tmp_path / "y.mp4")


def test_a_long_run_is_recorded_in_segments_and_joined(int8_model, tmp_path, monkeypatch):
    monkeypatch.setattr(recording, "SEGMENT_S", 0.2)  # 3 frames per segment at 15 fps
    source = tmp_path / "faces.mp4"
    demo_video(source, 20, fps=15)
    out = tmp_path / "out.mp4"
    seen = []
    real = recording.Recording._open_segment

    def spy(self):
        seen.append(len(self._segments))
        return real(self)

    monkeypatch.setattr(recording.Recording, "_open_segment", spy)
    assert main(["run", str(int8_model), "--source", str(source), "--out", str(out), "--detector", "haar"]) == 0
    assert seen == list(range(7))
    frames = _decoded(out)
    assert len(frames) == 20 and frames[0].shape == (480, 640, 3)
    assert sorted(os.listdir(tmp_path)) == ["faces.mp4", "faces.truth.jsonl", "out.config.json", "out.mp4"]


def test_a_second_recording_to_the_same_file_is_refused(int8_model, tmp_path, capsys):
    source = tmp_path / "faces.mp4"
    demo_video(source, 3, fps=15)
    out = tmp_path / "out.mp4"
    folder = recording.recording_dir(out)
    folder.mkdir()
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert main(["run", str(int8_model), "--source", str(source), "--out", str(out)]) == 2
    finally:
        os.close(fd)
    one_line_error(capsys, f"--out {out}: another fer-edge is recording it")
    assert folder.is_dir() and not out.exists()


def test_a_leftover_without_a_complete_segment_is_removed_with_a_warning(int8_model, tmp_path, caplog):
    source = tmp_path / "faces.mp4"
    demo_video(source, 3, fps=15)
    out = tmp_path / "out.mp4"
    folder = recording.recording_dir(out)
    folder.mkdir()
    (folder / "00000.mp4").write_bytes(b"\0" * 4096)  # cut off before its index was written
    assert main(["run", str(int8_model), "--source", str(source), "--out", str(out), "--detector", "haar"]) == 0
    assert "nothing to recover" in caplog.text
    assert not folder.exists() and len(_decoded(out)) == 3


@pytest.mark.slow
def test_sigkill_loses_only_the_last_seconds(int8_model, tmp_path):
    source = tmp_path / "slow.mp4"
    demo_video(source, 90, fps=10)
    out, jsonl = tmp_path / "rec.mp4", tmp_path / "p.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "edge.commands", "run", str(int8_model), "--source", str(source),
                             "--realtime", "--detector", "haar", "--out", str(out), "--jsonl", str(jsonl)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not jsonl.exists() or len(jsonl.read_text().splitlines()) < 55):
            time.sleep(0.05)
    finally:
        proc.kill()  # SIGKILL: no handler runs
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    written = len(jsonl.read_text().splitlines())
    folder = recording.recording_dir(out)
    assert not out.exists() and folder.is_dir()
    segments = sorted(folder.iterdir())
    per_segment = int(10 * recording.SEGMENT_S)
    assert all(len(_decoded(s)) == per_segment for s in segments[:-1]), "every complete segment plays"

    again = subprocess.run([sys.executable, "-m", "edge.commands", "run", str(int8_model), "--source", str(source),
                            "--detector", "haar", "--max-frames", "3", "--out", str(out)],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    recovered = re.search(r"recovered into (\S+)", again.stderr)
    assert recovered, again.stderr
    frames = _decoded(recovered.group(1))
    assert written - per_segment - 2 <= len(frames) <= written + 2, (written, len(frames))
    assert len(frames) % per_segment == 0 and len(frames) >= 2 * per_segment
    assert len(_decoded(out)) == 3 and not folder.exists()
    assert re.fullmatch(r"rec\.interrupted-\d{8}-\d{6}\.mp4", os.path.basename(recovered.group(1)))
    assert oct(os.stat(recovered.group(1)).st_mode & 0o777) != "0o600"
