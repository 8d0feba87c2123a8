"""``fer-edge demo-video``: a playable mp4 plus per-frame truth that a face detector agrees with."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from edge.commands.dispatch import main
from edge.synthetic.video import VideoConfig, truth_path, write_video


def read_video(path):
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"{path} is not a playable video"
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    return frames, fps


def iou(a, b) -> float:
    w = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return w * h / (a[2] * a[3] + b[2] * b[3] - w * h)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    out = tmp_path_factory.mktemp("video") / "demo.mp4"
    truth = write_video(out, VideoConfig(frames=30, width=480, height=360, fps=6, min_faces=2, max_faces=2, seed=1))
    return out, truth


def test_video_plays_back_with_the_asked_size_and_length(video):
    out, truth = video
    frames, fps = read_video(out)
    assert len(frames) == 30 and frames[0].shape == (360, 480, 3) and fps == pytest.approx(6)
    assert truth == truth_path(out) and truth.name == "demo.truth.jsonl"
    assert sorted(p.name for p in out.parent.iterdir()) == ["demo.mp4", "demo.truth.jsonl"]


def test_truth_has_every_frame_boxes_inside_and_changing_expressions(video):
    _, truth = video
    lines = [json.loads(line) for line in truth.read_text().splitlines()]
    assert [line["frame"] for line in lines] == list(range(30))
    labels = set()
    for line in lines:
        assert len(line["faces"]) == 2
        for face in line["faces"]:
            x, y, w, h = face["box"]
            assert 0 <= x and 0 <= y and x + w <= 480 and y + h <= 360 and w >= 40
            assert 0 <= face["label"] <= 6
            labels.add((face["id"], face["label"]))
    assert len(labels) > 2  # expressions change (every ~2 s = ~12 frames here)
    moved = np.subtract(lines[-1]["faces"][0]["box"][:2], lines[0]["faces"][0]["box"][:2])
    assert np.abs(moved).max() >= 5  # faces drift


def test_haar_cascade_agrees_with_the_truth_boxes(video):
    out, truth = video
    frames, _ = read_video(out)
    lines = [json.loads(line) for line in truth.read_text().splitlines()]
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    hits = total = 0
    for frame, line in list(zip(frames, lines))[::3]:
        boxes = cascade.detectMultiScale(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), 1.1, 5, minSize=(40, 40))
        for face in line["faces"]:
            total += 1
            hits += any(iou(face["box"], tuple(b)) > 0.4 for b in boxes)
    assert hits / total >= 0.8, f"{hits}/{total}"  # measured: 20/20


def test_same_seed_same_video_truth(tmp_path):
    config = VideoConfig(frames=3, width=320, height=240, seed=4)
    a, b = write_video(tmp_path / "a.mp4", config), write_video(tmp_path / "b.mp4", config)
    assert a.read_text() == b.read_text()


def test_cli_writes_video_and_refuses_bad_options(tmp_path, capsys):
    out = tmp_path / "v.mp4"
    assert main(["demo-video", str(out), "--frames", "4", "--size", "320x240", "--faces", "1", "--fps", "10"]) == 0
    assert len(read_video(out)[0]) == 4 and truth_path(out).exists()
    assert main(["demo-video", str(tmp_path / "w.mp4"), "--faces", "3-1"]) == 2
    assert "--faces must be MIN-MAX" in capsys.readouterr().err
    assert not (tmp_path / "w.mp4").exists()
    with pytest.raises(SystemExit) as exc:
        main(["demo-video", str(out), "--size", "big"])
    assert exc.value.code == 2
