"""Which faces ``fer-edge evaluate`` scores: the right split of each source, chosen the same way every time.

``--split auto`` (the default) takes a source's own ``val`` split; a source with only a ``test``
split, or train and test, is scored on ``test``; a source with no splits of its own (a folder of
``<class>/`` folders, an ExpW folder) is scored whole, because that is how a user's held-out test
folder looks. A folder with only ``train/`` gets the val split training would carve out of it.
``--split all`` scores every face of the source; ``train|val|test`` picks that split (carving val
out of unsplit data with the training seed and fraction, so a run is scored on the faces it held out).
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.core.errors import UserError
from edge.core.spec import DEFAULT_SPEC, ModelSpec
from train.datasets.base import Split

CHOICES = ("auto", "all", "train", "val", "test")


@dataclass
class EvalSet:
    source: str
    split: str  # the split scored: train, val, test or all
    faces: Split
    carved: bool = False  # the split is the share training holds out of a source that has no such split


def choose_split(own: dict, unsplit: bool) -> str:
    """The split ``auto`` scores, given the source's own splits (nothing carved) and whether it has none."""
    if "val" in own:
        return "val"
    if "test" in own:
        return "test"
    return "all" if unsplit else "val"


def eval_set(source: str | None, split: str = "auto", *, spec: ModelSpec = DEFAULT_SPEC, **loader_options) -> EvalSet:
    """The faces of ``source`` to score for ``split`` (one of CHOICES); ``loader_options`` go to load_dataset."""
    from train.datasets import load_dataset

    if split not in CHOICES:
        raise UserError(f"unknown split {split!r} (expected one of {', '.join(CHOICES)})")
    own = load_dataset(source, spec=spec, holdout=False, **loader_options)
    if split == "auto":
        split = choose_split(own.splits, own.unsplit)
    if split == "all":
        return EvalSet(own.source, "all", Split.concat(list(own.splits.values())))
    if split in own.splits and not (split == "train" and "val" not in own.splits):
        return EvalSet(own.source, split, own.splits[split])
    if split in ("train", "val") and "train" in own.splits:  # carved out the way training does it
        carved = load_dataset(source, spec=spec, **loader_options)
        return EvalSet(carved.source, split, carved.splits[split], carved=True)
    raise UserError(f"{own.source}: no {split!r} split (it has {', '.join(own.splits)}; --split all scores every face)")
