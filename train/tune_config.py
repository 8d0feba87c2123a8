"""The tune stage's one config (``TuneConfig``), saved as ``tune_config.json``, with its command-line options
declared on its fields. Standard library, ``edge.core`` and ``train.config`` only: ``fer-edge tune --help``
is built from it."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge.core import atomic
from edge.core.cliconfig import comma_separated, comma_text, nested, option
from edge.core.errors import UserError
from edge.core.jsonio import dataclass_from_dict, read_json
from train.budget import parse_bytes
from train.config import TrainConfig

CONFIG_NAME = "tune_config.json"
ALGORITHMS = ("random", "bayesian", "hyperband")

#: the TrainConfig options tune takes (the others are searched, or fixed by the search: lr, preset options,
#: augmentation, epochs), with tune's own help where it says something else than train's
TRAIN_OPTIONS = {
    "data": "dataset (default: the built-in synthetic faces); repeat it to tune on several sources, "
            "merged per split as `fer-edge train` does",
    "source_weights": "with several --data: one weight per source, in order: the share of training batches "
                      "drawn from it (default: in proportion to size)",
    "data_format": None,
    "synthetic_per_class": None,
    "preset": "preset to tune (%(default)s; the presets of `fer-edge train --help`)",
    "batch_size": "batch size (%(default)s)",
    "monitor": "the objective (%(default)s): val_accuracy (merged val splits), val_loss, or "
               "val_source_accuracy (the mean of every source's own val accuracy)",
    "seed": None,
}


def _byte_size(text: str) -> int:
    try:
        return parse_bytes(text)
    except UserError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


_INTS = comma_separated(int, what="comma-separated integers", into=tuple)
_RANGE = comma_separated(float, n=2, into=tuple)


@dataclass(frozen=True)
class TuneConfig:
    train: TrainConfig = field(default_factory=TrainConfig,  # data, preset and fixed options
                               metadata=nested(only=TRAIN_OPTIONS))
    algorithm: str = field(default="bayesian", metadata=option(
        choices=ALGORITHMS, help="search algorithm (%(default)s)"))
    max_trials: int = field(default=12, metadata=option(help="trials for random/bayesian search (%(default)s)"))
    epochs_per_trial: int = field(default=8, metadata=option(help="training epochs per trial (%(default)s)"))
    train_fraction: float = field(default=1.0, metadata=option(  # faster trials
        help="tune on this stratified share of the train split for faster trials (%(default)s)"))
    widths: tuple[int, ...] = field(default=(8, 12, 16, 20, 24), metadata=option(
        type=_INTS, text=comma_text, help="base widths to try (%(default)s)"))
    depths: tuple[int, ...] = field(default=(1, 2, 3), metadata=option(
        type=_INTS, text=comma_text, help="convolutions per stage to try (%(default)s)"))
    dropout: tuple[float, float] = field(default=(0.1, 0.5), metadata=option(
        type=_RANGE, text=comma_text, metavar="LOW,HIGH", help="dropout range (%(default)s)"))
    lr: tuple[float, float] = field(default=(3e-4, 3e-3), metadata=option(
        type=_RANGE, text=comma_text, metavar="LOW,HIGH", help="learning-rate range, log scale (%(default)s)"))
    augment_strengths: tuple[float, ...] = field(default=(0.0, 0.5, 1.0, 1.5), metadata=option(
        type=comma_separated(float, into=tuple), text=comma_text, metavar="S,...",
        help="augmentation strengths to try, 1 = the train defaults, 0 = off (%(default)s)"))
    max_flash: int | None = field(default=None, metadata=option(
        type=_byte_size, metavar="BYTES", help="skip models whose int8 weights exceed this (e.g. 150KB)"))
    max_ram: int | None = field(default=None, metadata=option(
        type=_byte_size, metavar="BYTES", help="skip models whose peak int8 activations exceed this (e.g. 64KiB)"))

    def __post_init__(self):
        if isinstance(self.train, dict):
            object.__setattr__(self, "train", TrainConfig.from_dict(self.train))
        for name in ("widths", "depths", "dropout", "lr", "augment_strengths"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        checks = [
            ("algorithm", self.algorithm in ALGORITHMS, f"one of {ALGORITHMS}"),
            ("max_trials", isinstance(self.max_trials, int) and self.max_trials >= 1, "an integer >= 1"),
            ("epochs_per_trial", isinstance(self.epochs_per_trial, int) and self.epochs_per_trial >= 1, "an integer >= 1"),
            ("train_fraction", 0 < self.train_fraction <= 1, "in (0, 1]"),
            ("widths", self.widths and all(isinstance(w, int) and w >= 1 for w in self.widths), "positive integers"),
            ("depths", self.depths and all(isinstance(d, int) and d >= 1 for d in self.depths), "positive integers"),
            ("dropout", len(self.dropout) == 2 and 0 <= self.dropout[0] <= self.dropout[1] < 1, "LOW,HIGH in [0, 1)"),
            ("lr", len(self.lr) == 2 and 0 < self.lr[0] <= self.lr[1], "LOW,HIGH > 0"),
            ("augment_strengths", self.augment_strengths and all(0 <= s <= 3 for s in self.augment_strengths),
             "numbers in 0..3"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise UserError(f"tune option {name} must be {expected}, got {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, run_dir: Path) -> Path:
        return atomic.write_json(run_dir / CONFIG_NAME, self.to_dict())

    @classmethod
    def load(cls, run_dir: Path) -> TuneConfig:
        path = Path(run_dir) / CONFIG_NAME
        if not path.is_file():
            raise UserError(f"{run_dir}: not a tuning directory (no {CONFIG_NAME})")
        return dataclass_from_dict(cls, read_json(path, "tune config"), str(path), "tune config")
