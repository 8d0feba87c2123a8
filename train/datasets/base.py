"""What every dataset loader returns: named splits of prepared 48x48 uint8 faces, plus what it skipped.

Loaders produce a ``Loaded`` (the source's own splits, as decoded, plus a ``Skips`` tally); that is
what the cache stores. ``assemble`` then turns it into a ``Dataset`` with at least ``train`` and
``val`` (carving a stratified, seeded ``val`` out of ``train`` when the source has none).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from edge.core.errors import UserError
from edge.core.spec import LABELS

log = logging.getLogger(__name__)

#: Canonical split names. Loaders map a dataset's own names onto these
#: (FER2013 CSV: Training -> train, PublicTest -> val, PrivateTest -> test).
SPLITS = ("train", "val", "test")
#: A dataset's own split names (lower case) -> canonical name.
SPLIT_ALIASES = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val", "publictest": "val", "dev": "val",
    "test": "test", "testing": "test", "privatetest": "test",
}


@dataclass
class Split:
    images: np.ndarray  # uint8 (N, H, W): the output of edge.core.preprocess.prepare
    labels: np.ndarray  # int64 (N,), class ids in edge.core.spec.LABELS order
    #: int64 (N,) or None: faces with the same id come from one photo (ExpW) and stay on one side of a split
    groups: np.ndarray | None = None
    #: int64 (N,) or None: which source of a merged dataset each face comes from (see ``merge``)
    sources: np.ndarray | None = None
    #: float32 (N, classes) or None: soft targets (FER+: the annotators' vote shares); ``labels`` is their argmax
    soft: np.ndarray | None = None
    #: uint8 (N, 112, 112, 3) or None: each face as the zoo teacher sees it (colour, five-point aligned),
    #: where the source has more than the 48x48 grey crop (ExpW photos); see ``train.teachers.zoo``
    views: np.ndarray | None = None

    def __post_init__(self):
        if self.images.dtype != np.uint8 or self.images.ndim != 3:
            raise ValueError(f"split images must be uint8 (N,H,W), got {self.images.dtype} {self.images.shape}")
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.groups is not None:
            self.groups = np.asarray(self.groups, dtype=np.int64)
            if len(self.groups) != len(self.labels):
                raise ValueError(f"{len(self.labels)} labels but {len(self.groups)} group ids")
        if self.sources is not None:
            self.sources = np.asarray(self.sources, dtype=np.int64)
            if len(self.sources) != len(self.labels):
                raise ValueError(f"{len(self.labels)} labels but {len(self.sources)} source ids")
        if self.soft is not None:
            self.soft = np.asarray(self.soft, dtype=np.float32)
            if self.soft.ndim != 2 or len(self.soft) != len(self.labels):
                raise ValueError(f"{len(self.labels)} labels but soft targets of shape {self.soft.shape}")
        if self.views is not None and (self.views.dtype != np.uint8 or len(self.views) != len(self.labels)):
            raise ValueError(f"{len(self.labels)} labels but teacher views {self.views.dtype} {self.views.shape}")

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self, num_classes: int = len(LABELS)) -> list[int]:
        return np.bincount(self.labels, minlength=num_classes).tolist()

    def take(self, index: np.ndarray) -> Split:
        def part(a):
            return None if a is None else a[index]
        return Split(self.images[index], self.labels[index], part(self.groups), part(self.sources), part(self.soft),
                     part(self.views))

    def targets(self, num_classes: int = len(LABELS)) -> np.ndarray:
        """float32 (N, classes): the soft targets where the source has them, else the one-hot labels."""
        if self.soft is not None:
            return self.soft
        return np.eye(num_classes, dtype=np.float32)[self.labels]

    @classmethod
    def concat(cls, splits: list[Split], shape: tuple[int, int] = (48, 48)) -> Split:
        """One split of all faces in ``splits``, in order, each tagged with the index of the split it came from."""
        if not splits:
            return cls(np.zeros((0, *shape), np.uint8), np.zeros(0, np.int64), sources=np.zeros(0, np.int64))
        soft = None
        if any(s.soft is not None for s in splits):  # sources without votes keep their one-hot labels
            soft = np.concatenate([s.targets(len(LABELS)) for s in splits])
        return cls(np.concatenate([s.images for s in splits]), np.concatenate([s.labels for s in splits]),
                   sources=np.concatenate([np.full(len(s), i, np.int64) for i, s in enumerate(splits)]), soft=soft)

    @classmethod
    def stack(cls, images: list[np.ndarray], labels: list[int], shape: tuple[int, int],
              groups: list[int] | None = None) -> Split:
        array = np.stack(images) if images else np.zeros((0, *shape), np.uint8)
        return cls(array, np.asarray(labels, dtype=np.int64), None if groups is None else np.asarray(groups, np.int64))


class Skips:
    """Items skipped by kind; the first example of each kind is logged once, the rest only counted."""

    def __init__(self, source: str):
        self.source = source
        self.counts: Counter = Counter()
        self.examples: dict[str, str] = {}

    def add(self, kind: str, example: str, n: int = 1) -> None:
        if kind not in self.examples:
            self.examples[kind] = example
            log.info("%s: skipping: %s (further items of this kind are counted, not logged)", self.source, example)
        self.counts[kind] += n


@dataclass
class Loaded:
    """A source as decoded: its own splits (any of SPLITS) and what was skipped. The cache stores this."""

    parts: dict[str, Split]
    skipped: Counter = field(default_factory=Counter)
    skip_examples: dict[str, str] = field(default_factory=dict)


@dataclass
class Dataset:
    name: str  # format name: "expw", "fer2013-csv", "folders", "synthetic"
    source: str  # path (or "synthetic:<seed>")
    splits: dict[str, Split]
    skipped: Counter = field(default_factory=Counter)  # kind of problem -> count of items skipped
    labels: tuple[str, ...] = LABELS
    skip_examples: dict[str, str] = field(default_factory=dict)  # kind -> first example seen
    unsplit: bool = False  # the source has no splits of its own (flat class folders, ExpW): "train" is all of it
    members: list[Dataset] = field(default_factory=list)  # the sources of a merged dataset, in order (see merge)

    def counts(self) -> dict[str, list[int]]:
        return {name: split.class_counts(len(self.labels)) for name, split in self.splits.items()}

    def log_skipped(self) -> None:
        """One line per kind of skipped item: never silent, never a crash mid-way."""
        for kind, n in sorted(self.skipped.items()):
            example = self.skip_examples.get(kind)
            log.warning("%s: skipped %d item(s): %s%s", self.source, n, kind, f" (first: {example})" if example else "")


def stratified_split(labels: np.ndarray, fraction: float, seed: int,
                     groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split of indices into (keep, held_out) with ~fraction of each class held out.

    With ``groups``, whole groups (the faces of one photo) move together: the groups are split,
    stratified by their most common label, so no photo has faces on both sides.
    """
    if groups is not None:
        ids, inverse = np.unique(groups, return_inverse=True)
        counts = np.zeros((len(ids), int(labels.max(initial=0)) + 1), np.int64)
        np.add.at(counts, (inverse, labels), 1)  # faces per (photo, class), in one pass
        group_label = counts.argmax(axis=1)
        _, held_groups = stratified_split(group_label, fraction, seed)
        held_mask = np.isin(inverse, held_groups)
        return np.flatnonzero(~held_mask), np.flatnonzero(held_mask)
    rng = np.random.default_rng(seed)
    keep, held = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
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


def assemble(name: str, source: str, loaded: Loaded, *, val_fraction: float, seed: int,
             holdout: bool = True, unsplit: bool = False) -> Dataset:
    """The source's splits as a Dataset with train and val; a missing val is carved out of train.

    ``holdout=False`` keeps the source's own splits as they are (nothing carved, no train split
    required): what evaluating a test-only or unsplit folder needs.
    """
    parts = {k: v for k, v in loaded.parts.items() if len(v)}
    if not parts:
        raise UserError(f"{source}: no usable images found in this {name} dataset"
                        + (f" (skipped: {dict(loaded.skipped)})" if loaded.skipped else ""))
    if not holdout:
        ordered = {k: parts[k] for k in SPLITS if k in parts}
        return Dataset(name, source, ordered, Counter(loaded.skipped), skip_examples=dict(loaded.skip_examples),
                       unsplit=unsplit)
    if "train" not in parts:
        raise UserError(f"{source}: no training images (found only the {'/'.join(parts)} split); "
                        "expected a train split or unsplit data")
    splits = dict(parts)
    if "val" not in splits:
        if not 0.0 < val_fraction < 1.0:
            raise UserError(f"val_fraction must be in (0, 1) for a source without a validation split, got {val_fraction}")
        groups = parts["train"].groups
        keep, held = stratified_split(parts["train"].labels, val_fraction, seed, groups)
        if not len(held):
            n = len(parts["train"]) if groups is None else len(np.unique(groups))
            log.warning("%s: too few %s (%d) to hold out a validation split; val is empty", source,
                        "images" if groups is None else "photos", n)
        splits["train"], splits["val"] = parts["train"].take(keep), parts["train"].take(held)
    ordered = {k: splits[k] for k in SPLITS if k in splits}
    for split_name, split in ordered.items():
        empty = [LABELS[c] for c, n in enumerate(split.class_counts()) if n == 0]
        if empty:
            log.warning("%s: split %s has no images of class %s", source, split_name, ", ".join(empty))
    return Dataset(name, source, ordered, Counter(loaded.skipped), skip_examples=dict(loaded.skip_examples),
                   unsplit=unsplit)


class Progress:
    """Logs 'what: done/total (pct)' at most every ``every`` seconds, and once at the end."""

    def __init__(self, what: str, total: int, every: float = 3.0):
        self.what, self.total, self.every = what, total, every
        self.done = 0
        self.start = self._last = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            log.info("%s: %d/%d (%.0f%%)", self.what, self.done, self.total, 100.0 * self.done / max(self.total, 1))

    def finish(self) -> None:
        log.info("%s: %d done in %.1f s", self.what, self.done, time.monotonic() - self.start)
