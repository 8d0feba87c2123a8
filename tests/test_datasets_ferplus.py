"""FER+: its folder layout (FER2013Train/label.csv + PNGs) and fer2013new.csv beside fer2013.csv; the vote
rule (contempt/unknown/NF, single-vote outliers, ties); soft targets through the cache, merge and training."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from edge.core.errors import UserError
from edge.core.spec import LABELS
from train.datasets import detect_format, ferplus, load_dataset
from train.datasets.base import Split

# FER+ column order: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
ROWS = [
    ("fer0000000.png", [4, 0, 0, 1, 3, 2, 0, 0, 0, 0]),  # neutral 4, anger 3, disgust 2; the sadness vote is an outlier
    ("fer0000001.png", [0, 10, 0, 0, 0, 0, 0, 0, 0, 0]),  # happy, unanimous
    ("fer0000002.png", [0, 0, 0, 0, 0, 0, 0, 0, 2, 8]),  # not a face: dropped
    ("fer0000003.png", [1, 0, 0, 0, 0, 0, 0, 6, 3, 0]),  # contempt: dropped
    ("fer0000004.png", [3, 0, 0, 3, 0, 0, 0, 0, 4, 0]),  # unknown has most votes: dropped
    ("fer0000005.png", [5, 0, 0, 5, 0, 0, 0, 0, 0, 0]),  # a tie: neutral (FER+ lists it first)
    ("fer0000006.png", [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]),  # single votes only: kept as they are (NF ties last)
]


def face(i: int) -> np.ndarray:
    return np.full((48, 48), 20 * i, np.uint8)


def write_split(folder, rows, extra_lines=()):
    folder.mkdir(parents=True)
    with open(folder / "label.csv", "w", newline="") as f:
        w = csv.writer(f)
        for i, (name, votes) in enumerate(rows):
            cv2.imwrite(str(folder / name), face(i))
            w.writerow([name, "(0, 0, 48, 48)", *votes])
    with open(folder / "label.csv", "a") as f:
        f.writelines(line + "\n" for line in extra_lines)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def ferplus_dir(tmp_path):
    root = tmp_path / "ferplus"
    write_split(root / "FER2013Train", ROWS, extra_lines=[
        "fer0000099.png,\"(0, 0, 48, 48)\",1,2,3",  # too few fields
        "fer0000098.png,\"(0, 0, 48, 48)\",a,0,0,0,0,0,0,0,0,0",  # not a number
        "fer0000097.png,\"(0, 0, 48, 48)\",10,0,0,0,0,0,0,0,0,0",  # no such PNG
        "../x.png,\"(0, 0, 48, 48)\",10,0,0,0,0,0,0,0,0,0",  # escapes the folder
    ])
    write_split(root / "FER2013Valid", ROWS[:2])
    return root


def test_vote_rule():
    soft, why = ferplus.vote_target(np.array(ROWS[0][1]))
    assert why is None and soft.dtype == np.float32
    assert soft[LABELS.index("neutral")] == pytest.approx(4 / 9) and soft[LABELS.index("angry")] == pytest.approx(3 / 9)
    assert soft[LABELS.index("sad")] == 0  # a single vote is an outlier
    assert ferplus.vote_target(np.array(ROWS[2][1])) == (None, "most votes for NF")
    assert ferplus.vote_target(np.array(ROWS[3][1])) == (None, "most votes for contempt")
    assert ferplus.vote_target(np.zeros(10))[1] == "no votes"
    single, _ = ferplus.vote_target(np.array(ROWS[6][1]))
    assert single == pytest.approx(np.full(7, 1 / 7))  # nothing would remain: the single votes stay


def test_folder_layout_soft_targets_splits_and_skips(ferplus_dir):
    assert detect_format(ferplus_dir) == "ferplus" and detect_format(ferplus_dir / "FER2013Train") == "ferplus"
    ds = load_dataset(str(ferplus_dir))
    train, val = ds.splits["train"], ds.splits["val"]
    assert len(train) == 4 and len(val) == 2 and "test" not in ds.splits
    assert [LABELS[i] for i in train.labels] == ["neutral", "happy", "neutral", "neutral"]
    np.testing.assert_allclose(train.soft.sum(axis=1), 1, rtol=1e-6)
    assert train.images[1].mean() == 20  # fer0000001.png, in label.csv order
    assert ds.skipped == {
        "face dropped by the FER+ rule (most votes for NF)": 1,
        "face dropped by the FER+ rule (most votes for contempt)": 1,
        "face dropped by the FER+ rule (most votes for unknown)": 1,
        "label.csv line with the wrong number of fields": 1,
        "vote counts that are not numbers": 1,
        "missing image file": 1,
        "image name that is not a plain file name": 1,
    }
    again = load_dataset(str(ferplus_dir))  # from the cache, soft targets included
    np.testing.assert_array_equal(again.splits["train"].soft, train.soft)
    one = load_dataset(str(ferplus_dir / "FER2013Valid"), holdout=False)
    assert list(one.splits) == ["val"] and len(one.splits["val"]) == 2


def test_fer2013new_csv_beside_fer2013_csv(tmp_path):
    usage = ["Training", "Training", "Training", "PublicTest", "PrivateTest"]
    with open(tmp_path / "fer2013.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["emotion", "pixels", "Usage"])
        for i, u in enumerate(usage):
            w.writerow([0, " ".join(str(v) for v in face(i).ravel()), u])
    with open(tmp_path / "fer2013new.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Usage", "Image name", *ferplus.COLUMNS])
        w.writerow(["Training", "fer0000000.png", *ROWS[0][1]])
        w.writerow(["Training", "", 0, 0, 0, 0, 0, 0, 0, 0, 0, 10])  # a face FER+ dropped
        w.writerow(["Training", "fer0000002.png", *ROWS[1][1]])
        w.writerow(["PublicTest", "fer0000003.png", 0, 0, 8, 0, 0, 0, 2, 0, 0, 0])
        w.writerow(["PrivateTest", "fer0000004.png", 0, 0, 0, 0, 0, 0, 0, 0, 0])  # one field short
    ds = load_dataset(str(tmp_path / "fer2013new.csv"))
    assert ds.name == "ferplus"
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 2, "val": 1}
    assert ds.splits["train"].images[1].mean() == 40  # row 3 of fer2013.csv: votes and pixels stay row by row
    assert LABELS[ds.splits["val"].labels[0]] == "surprise"
    assert ds.skipped["face FER+ dropped (empty image name)"] == 1
    assert ds.skipped["fer2013new.csv line with the wrong number of fields"] == 1


def test_fer2013new_csv_needs_its_pixels(tmp_path):
    (tmp_path / "fer2013new.csv").write_text("Usage,Image name," + ",".join(ferplus.COLUMNS) + "\n")
    with pytest.raises(UserError, match="no fer2013.csv beside it"):
        load_dataset(str(tmp_path / "fer2013new.csv"))


def test_soft_targets_survive_merge_and_split_take():
    a = Split(np.zeros((2, 48, 48), np.uint8), [6, 3], soft=np.array([[0, 0, 0, .25, 0, 0, .75], [0, 0, 0, 1, 0, 0, 0]]))
    b = Split(np.zeros((1, 48, 48), np.uint8), [0])
    merged = Split.concat([a, b])
    np.testing.assert_array_equal(merged.targets()[2], np.eye(7)[0])  # a source without votes: one-hot
    np.testing.assert_array_equal(merged.take(np.array([0])).soft, a.soft[:1])
    assert b.targets().shape == (1, 7)
