"""``fer-edge run --source FOLDER``: the images of a folder are unrelated stills, not a time series. Each is its own
frame of faces: its scores are the model's for that image alone (no smoothing with the previous file), its faces get
their own tracks; and --out says so when images of other sizes are fitted into the first one's."""

from __future__ import annotations

import json
import logging

import cv2
import numpy as np
from edge_testkit import demo_frames

from edge.commands.dispatch import main


def _run(folder, out, *extra):
    assert main(["run", "--source", str(folder), "--headless", "--jsonl", str(out), *extra]) == 0
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_each_image_is_scored_alone_and_tracked_alone(tmp_path):
    # two consecutive frames of one scene: the faces barely move, so a tracker would join them and smooth
    (first, _), (second, _) = demo_frames(6, seed=1, faces=2)[:2]
    both, alone = tmp_path / "both", tmp_path / "alone"
    both.mkdir()
    alone.mkdir()
    cv2.imwrite(str(both / "a.png"), first)
    cv2.imwrite(str(both / "b.png"), second)
    cv2.imwrite(str(alone / "b.png"), second)
    records = _run(both, tmp_path / "both.jsonl")
    (reference,) = _run(alone, tmp_path / "alone.jsonl")
    assert len(records) == 2 and records[0]["faces"] and reference["faces"]
    by_box = {tuple(f["box"]): f["scores"] for f in reference["faces"]}
    assert {tuple(f["box"]): f["scores"] for f in records[1]["faces"]} == by_box, "not smoothed with a.png's faces"
    first_ids = {f["track"] for f in records[0]["faces"]}
    assert not first_ids & {f["track"] for f in records[1]["faces"]}, "a face of b.png is not a face of a.png"


def test_detect_every_does_not_carry_boxes_from_one_image_to_the_next(tmp_path):
    (with_faces, _), = demo_frames(2, seed=2, faces=2)[:1]
    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), with_faces)
    cv2.imwrite(str(folder / "b.png"), np.full_like(with_faces, 90))  # a flat grey picture: no face
    records = _run(folder, tmp_path / "p.jsonl", "--detect-every", "5")
    assert records[0]["faces"] and records[1]["faces"] == [], "b.png has no face, whatever a.png had"


def test_out_says_when_images_of_other_sizes_are_fitted(tmp_path, caplog):
    (frame, _), = demo_frames(2, seed=3, faces=1)[:1]
    folder = tmp_path / "mixed"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), cv2.resize(frame, (84, 84)))
    cv2.imwrite(str(folder / "b.png"), frame)
    with caplog.at_level(logging.WARNING):
        assert main(["run", "--source", str(folder), "--headless", "--out", str(tmp_path / "v.mp4")]) == 0
    (line,) = [r.getMessage() for r in caplog.records if "--out" in r.getMessage()]
    assert "frame 2 is 640x480, but the video is 84x84 (its first frame's size)" in line
