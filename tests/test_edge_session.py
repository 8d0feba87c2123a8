"""The session view: per-face timelines over the last minute, the share of time per expression, and the
summary image ``fer-edge run --summary`` writes."""

import json
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from edge_testkit import demo_video

from edge.commands.dispatch import main
from edge.core.spec import LABELS
from edge.draw import PALETTE, TRACK_MARK, draw_faces
from edge.live.session import SessionStats
from edge.live.summary_image import render


def _face(track, cls, p=0.9):
    probs = np.full(len(LABELS), (1 - p) / (len(LABELS) - 1))
    probs[cls] = p
    return SimpleNamespace(track_id=track, probs=probs)


def test_shares_count_face_seconds_and_timelines_keep_the_last_minute():
    s = SessionStats(LABELS)
    happy, sad = LABELS.index("happy"), LABELS.index("sad")
    for i in range(101):  # 10 s at 10 fps: face 1 happy throughout, face 2 sad for the first 5 s
        t = 1000.0 + i / 10
        s.update(t, [_face(1, happy)] + ([_face(2, sad)] if t <= 1005.0 else []))
    v = s.view()
    assert v["summary"]["face_seconds"]["happy"] == pytest.approx(10.0)
    assert v["summary"]["face_seconds"]["sad"] == pytest.approx(5.0)
    assert v["summary"]["share"]["happy"] == pytest.approx(2 / 3, abs=1e-3) and v["summary"]["tracks"] == 2
    one, two = v["tracks"]
    assert one["track"] == 1 and [c for _, c in one["timeline"]] == [happy] * 11
    assert [a for a, _ in one["timeline"]] == list(range(10, -1, -1)), "seconds ago, oldest first"
    assert [c for _, c in two["timeline"]] == [sad] * 6 and two["timeline"][-1][0] == 5
    assert v["colors"][happy] != v["colors"][sad] and "color" not in one, "tracks are marked by id, not colour"
    s.update(1070.0, [_face(1, sad)])  # a gap counts at most a second; face 2 is gone for over a minute
    v = s.view()
    assert [t["track"] for t in v["tracks"]] == [1] and v["tracks"][0]["timeline"] == [[0, sad]]
    assert v["summary"]["face_seconds"]["sad"] == pytest.approx(6.0)
    json.dumps(v)


def test_each_second_shows_the_expression_it_showed_most():
    s = SessionStats(LABELS)
    for i, cls in enumerate([0, 3, 3, 3, 0]):
        s.update(50.0 + i / 10, [_face(7, cls)])
    assert s.view()["tracks"][0]["timeline"] == [[0, 3]]


def test_summary_image_draws_shares_and_strips():
    s = SessionStats(LABELS)
    for i in range(30):
        s.update(i / 10, [_face(1, 3), _face(2, 0 if i < 15 else 5)])
    image = render(s.view())
    assert image.shape[0] > 200
    # the happy bar (face 1 all along: half of the face-seconds) is drawn in happy's colour
    happy_bgr = tuple(int(s.view()["colors"][3][i:i + 2], 16) for i in (5, 3, 1))
    assert (image == np.array(happy_bgr, np.uint8)).all(axis=2).sum() > 500


@pytest.mark.parametrize("tracks, seconds", [(1, 3), (12, 98765.4)])
def test_summary_image_is_as_wide_as_its_text(tracks, seconds):
    """Nothing is cut off on the right: the last columns are background, however long the title or the numbers."""
    s = SessionStats(LABELS)
    for i in range(20):
        s.update(i / 10 * seconds / 2, [_face(t, t % len(LABELS)) for t in range(1, tracks + 1)])
    image = render(s.view())
    background = (image[:, -10:] == 24).all()
    assert background, "text or bars reach the right edge"
    title_ink = np.nonzero((image[:30] > 100).any(axis=2).any(axis=0))[0]
    assert title_ink.max() < image.shape[1] - 10 and title_ink.max() > image.shape[1] * 0.8, "sized to the title"


def test_run_writes_the_summary_image(int8_model, tmp_path, capsys):
    video, summary = tmp_path / "faces.mp4", tmp_path / "out" / "summary.png"
    demo_video(video, 20, fps=15, faces="2")
    assert main(["run", str(int8_model), "--source", str(video), "--summary", str(summary)]) == 0
    assert str(summary) in capsys.readouterr().out
    image = cv2.imread(str(summary))
    assert image is not None and image.shape[1] > 600
    assert main(["run", str(int8_model), "--source", str(video), "--summary", str(tmp_path / "s.jpg")]) == 2
    err = capsys.readouterr().err
    assert "--summary" in err and "expected an image file name ending in .png" in err and err.count("\n") == 1


def test_track_marks_cannot_be_read_as_classes():
    """A track is marked by its id, white on black: both colours far from every class colour."""
    for mark in TRACK_MARK:
        distance = min(np.linalg.norm(np.subtract(mark, c)) for c in PALETTE)
        assert distance > 90, (mark, distance)
    image = np.full((200, 200, 3), 128, np.uint8)
    face = SimpleNamespace(box=(40, 40, 100, 100), label="happy", class_index=LABELS.index("happy"), confidence=0.9,
                           track_id=6)
    draw_faces(image, [face])
    colours = {tuple(int(v) for v in px) for px in image.reshape(-1, 3)}
    assert tuple(PALETTE[LABELS.index("happy")]) in colours, "the box has its class's colour"
    chip = image[126:138, 42:56].reshape(-1, 3).astype(int)  # the id mark, inside the box's bottom-left corner
    assert (chip.max(axis=1) == chip.min(axis=1)).all(), "the id mark is grey-scale only"
    assert chip.min() == 0 and chip.max() >= 200, "white on black"


def test_a_video_file_is_summarised_in_media_time(int8_model, tmp_path):
    """A 3 s clip is 3 s of face-seconds per face, however fast it was processed (the JSON lines' t too)."""
    video, summary, jsonl = tmp_path / "faces.mp4", tmp_path / "s.png", tmp_path / "p.jsonl"
    demo_video(video, 45, fps=15, faces="1")
    assert main(["run", str(int8_model), "--source", str(video), "--summary", str(summary), "--jsonl", str(jsonl)]) == 0
    times = [json.loads(line)["t"] for line in jsonl.read_text().splitlines()]
    assert times == pytest.approx([i / 15 for i in range(45)], abs=2e-3)
    image = cv2.imread(str(summary))
    assert image is not None
    from edge.live.session import SessionStats as S
    s = S(LABELS, clock="media")
    for t in times:
        s.update(t, [_face(1, 3)])
    assert s.view()["summary"]["duration"] == pytest.approx(44 / 15, abs=0.01)
    assert sum(s.view()["summary"]["face_seconds"].values()) == pytest.approx(44 / 15, abs=0.01)
