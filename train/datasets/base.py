"""What every dataset loader returns: named splits of prepared 48x48 uint8 faces, plus what it skipped."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from edge.spec import LABELS

log = logging.getLogger(__name__)

#: Canonical split names. Loaders map a dataset's own names onto these
#: (FER2013 CSV: Training -> train, PublicTest -> val, PrivateTest -> test).
SPLITS = ("train", "val", "test")


@dataclass
class Split:
    images: np.ndarray  # uint8 (N, H, W): the output of edge.preprocess.prepare
    labels: np.ndarray  # int64 (N,), class ids in edge.spec.LABELS order

    def __post_init__(self):
        if self.images.dtype != np.uint8 or self.images.ndim != 3:
            raise ValueError(f"split images must be uint8 (N,H,W), got {self.images.dtype} {self.images.shape}")
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")
        self.labels = np.asarray(self.labels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self, num_classes: int = len(LABELS)) -> list[int]:
        return np.bincount(self.labels, minlength=num_classes).tolist()


@dataclass
class Dataset:
    name: str  # format name: "expw", "fer2013-csv", "folders", "synthetic"
    source: str  # path (or "synthetic:<seed>")
    splits: dict[str, Split]
    skipped: Counter = field(default_factory=Counter)  # kind of problem -> count of items skipped
    labels: tuple[str, ...] = LABELS

    def counts(self) -> dict[str, list[int]]:
        return {name: split.class_counts(len(self.labels)) for name, split in self.splits.items()}

    def log_skipped(self) -> None:
        """One line per kind of skipped item: never silent, never a crash mid-way."""
        for kind, n in sorted(self.skipped.items()):
            log.warning("%s: skipped %d item(s): %s", self.source, n, kind)


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split of indices into (keep, held_out) with ~fraction of each class held out."""
    rng = np.random.default_rng(seed)
    keep, held = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        n_held = int(round(len(idx) * fraction))
        if len(idx) >= 2:
            n_held = min(max(n_held, 1), len(idx) - 1)
        else:
            n_held = 0
        held.append(idx[:n_held])
        keep.append(idx[n_held:])
    return np.sort(np.concatenate(keep)), np.sort(np.concatenate(held))
