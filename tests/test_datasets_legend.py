"""legend.csv + images/ (the muxspace/facial_expressions layout): labels, identities, bad rows, YuNet framing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.core.errors import UserError
from edge.core.preprocess import prepare
from edge.core.spec import LABELS
from train.datasets import detect_format, legend, load_dataset
from train.datasets.base import Skips


def photo(seed: int, shape=(90, 90)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def make_legend(root: Path, rows: list[str], photos: dict[str, np.ndarray]) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "images").mkdir()
    for name, image in photos.items():
        assert cv2.imwrite(str(root / "images" / name), image)
    (root / "data" / "legend.csv").write_text("user.id,image,emotion\n" + "\n".join(rows) + "\n")
    return root


@pytest.fixture
def no_yunet(monkeypatch):
    from train.datasets import face_views

    monkeypatch.setattr(face_views, "have_yunet", lambda: False)


def test_identity_is_the_name_before_the_number():
    assert legend.identity("George_W_Bush_0012.jpg") == "George_W_Bush"
    assert legend.identity("HrithikRoshan_3.jpg") == "HrithikRoshan"
    assert legend.identity("facial-expressions_2868588k.jpg") == "facial-expressions_2868588k"


def test_reads_labels_drops_contempt_and_counts_every_bad_row(tmp_path, no_yunet):
    people = [f"Ann_Lee_{i:04d}.jpg" for i in range(4)] + [f"Bo_Chan_{i:04d}.jpg" for i in range(4)]
    emotions = ["NEUTRAL", "happiness", "sadness", "anger", "surprise", "fear", "disgust", "neutral"]
    rows = [f"7,{name},{emo}" for name, emo in zip(people, emotions)]
    rows += ["7,Cy_Dee_0001.jpg,contempt", "7,Cy_Dee_0002.jpg,boredom", "7,missing_0001.jpg,neutral",
             "7,Ann_Lee_0000.jpg,happiness", "7,../escape.jpg,neutral", "only,two"]
    photos = {name: photo(i) for i, name in enumerate(people + ["Cy_Dee_0001.jpg", "Cy_Dee_0002.jpg"])}
    root = make_legend(tmp_path / "fx", rows, photos)
    assert detect_format(root) == "legend" and detect_format(root / "data" / "legend.csv") == "legend"
    ds = load_dataset(str(root), use_cache=False, val_fraction=0.5)
    assert ds.name == "legend" and ds.unsplit
    faces = np.concatenate([s.labels for s in ds.splits.values()])
    expected = ["neutral", "happy", "sad", "angry", "surprise", "fear", "disgust", "neutral"]
    assert sorted(faces.tolist()) == sorted(LABELS.index(e) for e in expected)
    assert ds.skipped == {"emotion contempt (no such class here)": 1, "unknown emotion": 1, "missing image file": 1,
                          "duplicate image line": 1, "image name outside the images folder": 1, "malformed line": 1}
    # without YuNet the whole photo is the face box, framed and prepared as everywhere else
    from edge.core.preprocess import frame_labelled_face
    from edge.core.spec import DEFAULT_SPEC

    every = np.concatenate([s.images for s in ds.splits.values()])
    written = cv2.imread(str(root / "images" / "Ann_Lee_0000.jpg"), cv2.IMREAD_GRAYSCALE)  # JPEG: as decoded
    crop = frame_labelled_face(written, (0, 0, 90, 90), None, DEFAULT_SPEC.face_framing)
    assert any(np.array_equal(img, prepare(crop)) for img in every)


def test_validation_holds_out_whole_identities(tmp_path, no_yunet):
    names = [f"P{p}_{i:04d}.jpg" for p in range(6) for i in range(5)]
    rows = [f"1,{n},{'neutral' if k % 2 else 'happiness'}" for k, n in enumerate(names)]
    root = make_legend(tmp_path / "fx", rows, {n: photo(k) for k, n in enumerate(names)})
    ds = load_dataset(str(root), use_cache=False, val_fraction=0.34)
    train, val = ds.splits["train"], ds.splits["val"]
    assert len(val) and len(train) and len(train) + len(val) == 30
    assert not set(train.groups.tolist()) & set(val.groups.tolist())
    assert all(np.bincount(train.groups)[g] == 5 for g in np.unique(train.groups))


def test_header_and_layout_errors_are_one_line(tmp_path, no_yunet):
    root = make_legend(tmp_path / "fx", ["1,a_0001.jpg,neutral"], {"a_0001.jpg": photo(0)})
    (root / "data" / "legend.csv").write_text("id,file,label\n1,a_0001.jpg,neutral\n")
    with pytest.raises(UserError, match=r"legend.csv: line 1: expected the header user.id,image,emotion"):
        legend.read_legend(root / "data" / "legend.csv", Skips("x"))
    (root / "data" / "legend.csv").write_bytes(b"user.id,image,emotion\n1,\xff\xfe.jpg,neutral\n")
    with pytest.raises(UserError, match="not UTF-8"):
        legend.read_legend(root / "data" / "legend.csv", Skips("x"))
    (root / "images").rename(root / "pictures")
    with pytest.raises(UserError, match="no images folder beside it"):
        legend.locate(root)


def test_yunet_finds_and_frames_the_face_as_the_live_loop_does(tmp_path, yunet_model, monkeypatch):
    """A photo with a face off-centre: the crop is YuNet's framed face, not the whole photo."""
    from edge_testkit import demo_frames

    from edge.core.preprocess import frame_labelled_face
    from edge.core.spec import DEFAULT_SPEC
    from train.datasets import face_views

    monkeypatch.setenv("FER_EDGE_DETECTOR_MODEL", str(yunet_model))
    image, boxes = demo_frames(1, seed=3, faces=1)[0]
    root = make_legend(tmp_path / "fx", ["1,Face_0001.jpg,happiness", "1,Blank_0001.jpg,neutral"],
                       {"Face_0001.jpg": image, "Blank_0001.jpg": np.full((120, 160), 128, np.uint8)})
    ds = load_dataset(str(root), use_cache=False, holdout=False)
    assert ds.skipped == {legend.NO_FACE: 1}
    (face,) = ds.splits["train"].images
    found = face_views.largest_face(face_views.yunet(), cv2.imread(str(root / "images" / "Face_0001.jpg")))
    x, y, w, h = boxes[0]
    assert found is not None and abs(found[0][0] + found[0][2] / 2 - (x + w / 2)) < w / 3
    gray = cv2.imread(str(root / "images" / "Face_0001.jpg"), cv2.IMREAD_GRAYSCALE)
    framing = DEFAULT_SPEC.face_framing
    np.testing.assert_array_equal(face, prepare(frame_labelled_face(gray, found[0], found, framing)))
