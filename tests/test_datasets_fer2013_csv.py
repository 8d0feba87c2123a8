"""FER2013 CSV (emotion,pixels,Usage): its three usages become train/val/test; bad rows are counted."""

from __future__ import annotations

import numpy as np
import pytest

from edge.core.errors import UserError
from train.datasets import load_dataset


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))


def face(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (48, 48), dtype=np.uint8)


def row(label, seed: int, usage: str = "Training", pixels: str | None = None) -> str:
    pixels = " ".join(map(str, face(seed).ravel())) if pixels is None else pixels
    return f'{label},"{pixels}",{usage}' if usage is not None else f'{label},"{pixels}"'


def write_csv(path, rows, header="emotion,pixels,Usage"):
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_three_usages_become_train_val_test(tmp_path):
    rows = ([row(c, c) for c in range(7)] + [row(c, 10 + c) for c in range(7)]
            + [row(3, 20, "PublicTest"), row(5, 21, "PublicTest"), row(0, 22, "PrivateTest")])
    ds = load_dataset(str(write_csv(tmp_path / "fer2013.csv", rows)))
    assert ds.name == "fer2013-csv" and list(ds.splits) == ["train", "val", "test"]
    assert ds.counts() == {"train": [2] * 7, "val": [0, 0, 0, 1, 0, 1, 0], "test": [1, 0, 0, 0, 0, 0, 0]}
    np.testing.assert_array_equal(ds.splits["test"].images[0], face(22))  # 48x48 passes through untouched
    np.testing.assert_array_equal(ds.splits["train"].images[0], face(0))
    assert not ds.skipped


def test_without_usage_column_val_is_a_stratified_split(tmp_path):
    rows = [row(c % 7, i, usage=None) for i, c in enumerate(range(70))]
    ds = load_dataset(str(write_csv(tmp_path / "f.csv", rows, header="emotion,pixels")), val_fraction=0.2)
    assert ds.counts() == {"train": [8] * 7, "val": [2] * 7}


def test_bad_rows_are_skipped_and_counted(tmp_path):
    good = [row(c, c) for c in range(7)] * 2
    bad = [
        row(1, 0, pixels="1 2 3"),  # wrong pixel count
        row(2, 0, pixels=" ".join(["7"] * 2303 + ["x"])),  # not a number
        row(2, 0, pixels=" ".join(["300"] * 2304)),  # out of range
        row(7, 1),  # label outside 0..6
        row(-1, 1),
        row(4, 2, "Validation2"),  # unknown usage
        "3",  # missing columns
    ]
    ds = load_dataset(str(write_csv(tmp_path / "f.csv", good[:5] + bad + good[5:])))
    assert sum(map(sum, ds.counts().values())) == 14
    assert ds.skipped == {
        "pixels field is not 2304 integers in 0..255": 3,
        "label outside 0..6": 2,
        "unknown Usage (expected Training, PublicTest or PrivateTest)": 1,
        "row with missing columns": 1,
    }
    assert ds.skip_examples["pixels field is not 2304 integers in 0..255"] == "line 7: 3 values"


def test_csv_without_emotion_or_pixels_is_a_user_error(tmp_path):
    path = write_csv(tmp_path / "test.csv", ['"1 2 3"'], header="pixels")
    with pytest.raises(UserError, match=r"test.csv: not a FER2013 CSV.*lacks emotion"):
        load_dataset(str(path))
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(UserError, match="empty file"):
        load_dataset(str(tmp_path / "empty.csv"))
