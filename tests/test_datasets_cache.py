"""The decode-once cache: a hit gives identical arrays without decoding; any content change misses."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from train.datasets import folders, load_dataset


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("FER_EDGE_CACHE", str(path))
    return path


@pytest.fixture
def dataset_dir(tmp_path):
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for name in ("happy", "sad"):
            (tmp_path / "ds" / split / name).mkdir(parents=True)
            for i in range(3):
                cv2.imwrite(str(tmp_path / "ds" / split / name / f"{i}.png"), rng.integers(0, 256, (50, 50), dtype=np.uint8))
    return tmp_path / "ds"


def no_decoding(*args, **kwargs):
    raise AssertionError("decoded although the cache should have answered")


def same(a, b) -> bool:
    return a.splits.keys() == b.splits.keys() and all(
        np.array_equal(a.splits[k].images, b.splits[k].images) and np.array_equal(a.splits[k].labels, b.splits[k].labels)
        for k in a.splits)


def test_second_load_is_a_cache_hit_with_identical_arrays(cache_dir, dataset_dir, monkeypatch):
    first = load_dataset(str(dataset_dir))
    files = list(cache_dir.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"
    monkeypatch.setattr(folders, "load", no_decoding)
    second = load_dataset(str(dataset_dir))
    assert same(first, second) and second.skipped == first.skipped


def test_changed_added_or_removed_file_misses_the_cache(cache_dir, dataset_dir):
    first = load_dataset(str(dataset_dir))
    target = dataset_dir / "train" / "happy" / "0.png"
    cv2.imwrite(str(target), np.full((50, 50), 7, np.uint8))
    os.utime(target, ns=(1, 1))  # a different mtime even on coarse filesystems
    changed = load_dataset(str(dataset_dir))
    assert not same(first, changed)
    assert any((img == 7).all() for img in changed.splits["train"].images)
    (dataset_dir / "train" / "sad" / "new.png").write_bytes((dataset_dir / "train" / "sad" / "0.png").read_bytes())
    assert load_dataset(str(dataset_dir)).counts()["train"][4] == 4
    (dataset_dir / "train" / "sad" / "new.png").unlink()
    assert load_dataset(str(dataset_dir)).counts()["train"][4] == 3
    assert len(list(cache_dir.iterdir())) == 1  # earlier contents of the same source were pruned


def test_skipped_items_survive_the_cache(cache_dir, dataset_dir, monkeypatch):
    (dataset_dir / "train" / "sad" / "broken.png").write_bytes(b"nope")
    first = load_dataset(str(dataset_dir))
    monkeypatch.setattr(folders, "load", no_decoding)
    second = load_dataset(str(dataset_dir))
    assert second.skipped == first.skipped == {"corrupt or unreadable image": 1}
    assert second.skip_examples == first.skip_examples


def test_no_cache_neither_reads_nor_writes(cache_dir, dataset_dir):
    load_dataset(str(dataset_dir), use_cache=False)
    assert not cache_dir.exists() or not list(cache_dir.iterdir())


def test_unreadable_cache_file_is_rebuilt(cache_dir, dataset_dir):
    first = load_dataset(str(dataset_dir))
    (cached,) = cache_dir.iterdir()
    cached.write_bytes(b"truncated")
    assert same(first, load_dataset(str(dataset_dir)))
    assert np.load(cached)["meta"].dtype == np.uint8  # rewritten as a proper .npz


def test_synthetic_is_cached_per_seed_and_size(cache_dir, monkeypatch):
    from train.datasets import synthetic

    first = load_dataset("synthetic:3", synthetic_per_class=2)
    monkeypatch.setattr(synthetic, "load", no_decoding)
    assert same(first, load_dataset("synthetic:3", synthetic_per_class=2))
    with pytest.raises(AssertionError, match="decoded"):
        load_dataset("synthetic:4", synthetic_per_class=2)
