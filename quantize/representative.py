"""The representative set: a stratified, seeded sample of training faces that calibrates int8 ranges."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import numpy as np

from edge.core.errors import UserError
from edge.core.preprocess import normalize
from edge.core.spec import ModelSpec
from train.datasets.base import Split, stratified_split

log = logging.getLogger(__name__)


def sample_indices(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of about ``n`` items with the class proportions of ``labels`` (all if fewer)."""
    labels = np.asarray(labels)
    if n >= len(labels):
        return np.arange(len(labels))
    _, held = stratified_split(labels, n / len(labels), seed)
    return held


def representative_inputs(split: Split, n: int, spec: ModelSpec, *, seed: int = 0,
                          source: str = "train split") -> np.ndarray:
    """float32 (k, H, W, 1) model inputs: a stratified sample of ``split`` through the shared normalize."""
    if n < 1:
        raise UserError(f"--rep-samples must be at least 1, got {n}")
    if len(split) == 0:
        raise UserError(f"{source}: no images to calibrate int8 ranges with (the representative set is empty); "
                        "quantize a run whose dataset has a non-empty train split")
    idx = sample_indices(split.labels, n, seed)
    if len(idx) == 0:
        raise UserError(f"{source}: the stratified sample of {n} image(s) is empty; raise --rep-samples")
    counts = np.bincount(split.labels[idx], minlength=spec.num_classes)
    log.info("representative set: %d images from the %s (per class: %s)", len(idx), source,
             ", ".join(f"{name} {c}" for name, c in zip(spec.labels, counts)))
    return normalize(split.images[idx], spec)


def as_generator(inputs: np.ndarray) -> Callable[[], Iterator[list[np.ndarray]]]:
    """The TFLiteConverter ``representative_dataset`` callable: one-image batches."""
    def gen():
        for i in range(len(inputs)):
            yield [inputs[i:i + 1]]
    return gen
