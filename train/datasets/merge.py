"""Several sources in one dataset: splits merged per split name, each source keeping its own val split.

``merge([fer2013, expw])`` concatenates every split (train with train, val with val, ...) and tags
each face with the index of its source (``Split.sources``), so batches can be weighted by source
and every source's val split can still be evaluated on its own (``Dataset.members``).
"""

from __future__ import annotations

import logging
from collections import Counter

from edge.core.spec import LABELS
from train.datasets.base import SPLITS, Dataset, Split

log = logging.getLogger(__name__)


def merge(datasets: list[Dataset]) -> Dataset:
    """One Dataset over all ``datasets``; a single dataset is returned as it is."""
    if len(datasets) == 1:
        return datasets[0]
    names = [s for s in SPLITS if any(s in d.splits for d in datasets)]
    splits = {}
    for name in names:
        parts = [d.splits.get(name, Split(d.splits["train"].images[:0], d.splits["train"].labels[:0]))
                 for d in datasets]
        splits[name] = Split.concat(parts)
    skipped = Counter()
    for d in datasets:
        skipped.update(d.skipped)
    return Dataset("+".join(d.name for d in datasets), " + ".join(d.source for d in datasets), splits, skipped,
                   labels=datasets[0].labels, members=list(datasets))


def source_counts(dataset: Dataset) -> list[dict]:
    """Per source: its path, format and images per split and class (``{split: {class: n}}``)."""
    members = dataset.members or [dataset]
    return [{"source": d.source, "format": d.name,
             "counts": {s: dict(zip(LABELS, split.class_counts())) for s, split in d.splits.items()}}
            for d in members]


def format_counts(dataset: Dataset) -> str:
    """A table of images per source, split and class (the merged totals last when there are several sources)."""
    rows = source_counts(dataset)
    if dataset.members:
        rows.append({"source": "merged", "format": dataset.name,
                     "counts": {s: dict(zip(LABELS, split.class_counts())) for s, split in dataset.splits.items()}})
    w = max(10, *(len(n) for n in LABELS))
    lines = [f"{'source / split':<40}" + "".join(f" {n[:w]:>{w}}" for n in LABELS) + f" {'total':>8}"]
    for row in rows:
        for split, counts in row["counts"].items():
            label = f"{row['source']} [{split}]"
            if len(label) > 40:
                label = "..." + label[-37:]
            lines.append(f"{label:<40}" + "".join(f" {counts[n]:>{w}d}" for n in LABELS)
                         + f" {sum(counts.values()):>8d}")
    return "\n".join(lines)
