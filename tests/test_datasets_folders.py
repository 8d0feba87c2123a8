"""Image-folder datasets: layouts, class-name aliases, own splits vs a stratified split, bad files."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.core.errors import UserError
from edge.core.preprocess import prepare
from edge.core.spec import LABELS
from train.datasets import load_dataset


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))


def write_images(folder: Path, n: int, ext: str = ".png", seed: int = 0, shape=(60, 52)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        path = folder / f"img{i:03d}{ext}"
        assert cv2.imwrite(str(path), rng.integers(0, 256, shape, dtype=np.uint8))
        paths.append(path)
    return paths


def test_split_folders_with_aliases_numeric_names_and_extensions(tmp_path):
    root = tmp_path / "ds"
    write_images(root / "train" / "Anger", 3, ".png")
    write_images(root / "train" / "happiness", 4, ".jpg")
    write_images(root / "train" / "SADNESS", 2, ".bmp")
    write_images(root / "train" / "5", 2, ".tiff")  # surprise by label id
    write_images(root / "train" / "fearful", 2, ".webp")
    write_images(root / "train" / "disgusted", 1, ".pgm")
    write_images(root / "train" / "surprised", 1, ".jpeg")  # merges with 5/
    write_images(root / "PublicTest" / "neutral", 2)
    write_images(root / "PrivateTest" / "angry", 1)

    ds = load_dataset(str(root))

    assert ds.name == "folders" and list(ds.splits) == ["train", "val", "test"]
    assert ds.counts() == {"train": [3, 1, 2, 4, 2, 3, 0], "val": [0, 0, 0, 0, 0, 0, 2], "test": [1, 0, 0, 0, 0, 0, 0]}
    assert not ds.skipped
    for split in ds.splits.values():
        assert split.images.dtype == np.uint8 and split.images.shape[1:] == (48, 48)
        assert split.labels.dtype == np.int64


def test_images_go_through_prepare(tmp_path):
    (path,) = write_images(tmp_path / "ds" / "happy", 1, shape=(90, 70))
    ds = load_dataset(str(tmp_path / "ds"), val_fraction=0.5)
    both = np.concatenate([s.images for s in ds.splits.values()])
    np.testing.assert_array_equal(both[0], prepare(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)))


def test_flat_class_folders_get_a_seeded_stratified_val_split(tmp_path):
    for c, name in enumerate(LABELS):
        write_images(tmp_path / "ds" / name, 10, seed=c)
    a = load_dataset(str(tmp_path / "ds"), val_fraction=0.2, seed=1)
    b = load_dataset(str(tmp_path / "ds"), val_fraction=0.2, seed=1)
    c = load_dataset(str(tmp_path / "ds"), val_fraction=0.2, seed=2)
    assert a.counts() == {"train": [8] * 7, "val": [2] * 7}
    np.testing.assert_array_equal(a.splits["val"].images, b.splits["val"].images)
    assert not np.array_equal(a.splits["val"].images, c.splits["val"].images)


def test_valid_folder_is_val_and_missing_val_is_carved_from_train(tmp_path):
    write_images(tmp_path / "a" / "train" / "happy", 10)
    write_images(tmp_path / "a" / "valid" / "happy", 3)
    assert load_dataset(str(tmp_path / "a")).counts()["val"][3] == 3
    write_images(tmp_path / "b" / "train" / "sad", 10)
    write_images(tmp_path / "b" / "test" / "sad", 4)
    counts = load_dataset(str(tmp_path / "b"), val_fraction=0.3).counts()
    assert counts["train"][4] == 7 and counts["val"][4] == 3 and counts["test"][4] == 4


def test_corrupt_image_is_skipped_and_counted(tmp_path, caplog):
    write_images(tmp_path / "ds" / "happy", 4)
    (tmp_path / "ds" / "happy" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (tmp_path / "ds" / "happy" / "empty.png").write_bytes(b"")
    (tmp_path / "ds" / "happy" / "notes.txt").write_text("hello")
    with caplog.at_level(logging.INFO):
        ds = load_dataset(str(tmp_path / "ds"))
    assert sum(len(s) for s in ds.splits.values()) == 4
    assert ds.skipped["corrupt or unreadable image"] == 2
    assert sum(n for kind, n in ds.skipped.items() if kind.startswith("not an image file")) == 1
    summary = [r.getMessage() for r in caplog.records if "skipped 2 item(s): corrupt or unreadable image" in r.getMessage()]
    assert len(summary) == 1  # one line per kind


def test_folder_that_is_not_a_class_is_counted(tmp_path):
    write_images(tmp_path / "ds" / "train" / "happy", 3)
    write_images(tmp_path / "ds" / "train" / "contempt", 2)  # CK+ has it, we do not
    ds = load_dataset(str(tmp_path / "ds"))
    assert [n for kind, n in ds.skipped.items() if "not a class" in kind] == [2]


def test_empty_class_folder_loads_the_rest_and_warns(tmp_path, caplog):
    write_images(tmp_path / "ds" / "happy", 4)
    (tmp_path / "ds" / "disgust").mkdir()
    with caplog.at_level(logging.WARNING):
        ds = load_dataset(str(tmp_path / "ds"))
    assert ds.counts()["train"][1] == 0 and sum(ds.counts()["train"]) == 3
    assert any("empty class folder" in r.getMessage() and "disgust" in r.getMessage() for r in caplog.records)


def test_folders_with_only_empty_classes_are_a_user_error(tmp_path):
    (tmp_path / "ds" / "happy").mkdir(parents=True)
    with pytest.raises(UserError, match="no usable images"):
        load_dataset(str(tmp_path / "ds"))


def test_missing_path_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match=r"nowhere.*not found"):
        load_dataset(str(tmp_path / "nowhere"))
    with pytest.raises(UserError, match="not found"):
        load_dataset(str(tmp_path / "nowhere"), format="folders")


def test_unknown_format_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="unknown dataset format 'kaggle'"):
        load_dataset(str(tmp_path), format="kaggle")


def test_folder_without_class_folders_is_a_user_error(tmp_path):
    write_images(tmp_path / "ds" / "pictures", 2)
    with pytest.raises(UserError, match=r"ds: unrecognised dataset folder"):
        load_dataset(str(tmp_path / "ds"))
    with pytest.raises(UserError, match=r"no class folders found"):
        load_dataset(str(tmp_path / "ds"), format="folders")
