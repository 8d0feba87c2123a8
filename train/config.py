"""The train stage's one config dataclass, validated and saved as ``train_config.json`` in the run dir."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from edge.core import atomic
from edge.core.errors import UserError
from edge.core.jsonio import dataclass_from_dict, read_json
from edge.core.rundir import TRAIN_CONFIG
from edge.core.spec import FACE_FRAMING, Framing

SCHEDULES = ("plateau", "cosine", "constant")
CLASS_BALANCE = ("none", "weights", "sqrt-weights", "sampler")
STRATEGIES = ("default", "mirrored", "multiworker")
#: val_source_accuracy: the mean over the data sources of each one's own val accuracy (so a small
#: source counts as much as a large one when choosing the best epoch); val_accuracy with one source
MONITORS = ("val_accuracy", "val_loss", "val_source_accuracy")


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation applied in the tf.data pipeline to training batches only; 0 switches one off."""

    flip: bool = True  # horizontal flip with probability 1/2
    rotate: float = 10.0  # max rotation, degrees
    shift: float = 0.1  # max shift, fraction of the image size
    zoom: float = 0.1  # max zoom in/out, fraction
    brightness: float = 0.1  # max brightness change, fraction of the pixel range
    contrast: float = 0.2  # max contrast change factor (1 +/- contrast)
    erase: float = 0.25  # probability of erasing a random rectangle (random erasing)

    def __post_init__(self):
        for name in ("rotate", "shift", "zoom", "brightness", "contrast", "erase"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise UserError(f"augmentation {name} must be a number >= 0, got {value!r}")
        for name, limit in (("rotate", 45), ("shift", 0.5), ("zoom", 0.5), ("brightness", 1.0), ("contrast", 1.0), ("erase", 1.0)):
            if getattr(self, name) > limit:
                raise UserError(f"augmentation {name} must be at most {limit}, got {getattr(self, name)!r}")

    @property
    def enabled(self) -> bool:
        return self.flip or any(getattr(self, f.name) for f in fields(self) if f.name != "flip")

    @classmethod
    def off(cls) -> "AugmentConfig":
        return cls(flip=False, rotate=0, shift=0, zoom=0, brightness=0, contrast=0, erase=0)


@dataclass(frozen=True)
class TrainConfig:
    # data (each source passed as-is to train.datasets.load_dataset; None = the built-in synthetic faces);
    # a list trains on several sources at once, merged per split (train.datasets.merge)
    data: str | list[str] | None = None
    source_weights: list[float] | None = None  # share of training batches per source (None: by size)
    data_format: str = "auto"
    val_fraction: float = 0.1
    #: the spec's framing (edge.core.spec.Framing), decided before any data is loaded: how the live loop cuts this
    #: model's faces and how faces cut from photos (ExpW) are cropped for training; None = FACE_FRAMING's margin
    framing_margin: float | None = None
    framing_align: bool = True
    expw_min_confidence: float | None = None
    synthetic_per_class: int | None = None
    #: the face locator (preset locator): frames generated from the sources and labelled by YuNet, for training
    #: and validation (None: train.datasets.locator_frames.FramesConfig's defaults)
    frames: int | None = None
    val_frames: int | None = None
    # model
    preset: str = "micro"
    preset_options: dict[str, Any] = field(default_factory=dict)  # width/depth/dropout/...
    init: str | None = None  # start from this model's weights (.keras file or run directory): fine-tuning
    freeze_epochs: int = 0  # with init: train only the classifier head for this many first epochs
    # knowledge distillation: learn from a teacher model's soft predictions as well as from the labels
    teacher: str | list[str] | None = None  # .keras/.tflite file, run directory or "zoo"; a list: an ensemble
    #: per teacher: one weight, or one per data source (train.teachers); None = equal weights
    teacher_weights: list[list[float]] | None = None
    distill_temperature: float = 4.0
    distill_weight: float = 0.5  # share of the distillation term in the loss (the labels get 1 - weight)
    # optimisation (the seed's defaults: Adam 1e-3, batch 32, 50 epochs, categorical cross-entropy)
    epochs: int = 50
    batch_size: int = 32
    lr: float = 1e-3
    schedule: str = "plateau"  # plateau: halve the LR after plateau_patience epochs without progress
    plateau_patience: int = 4
    min_lr: float = 1e-5
    early_stopping_patience: int = 10  # 0 = never stop early
    monitor: str = "val_accuracy"  # picks the best checkpoint and drives early stopping
    label_smoothing: float = 0.0
    class_balance: str = "sqrt-weights"  # measured on FER2013: +1.6 macro-F1 points for -0.7 accuracy vs none
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # execution
    seed: int = 0
    strategy: str = "default"

    def __post_init__(self):
        if isinstance(self.augment, dict):
            object.__setattr__(self, "augment", AugmentConfig(**self.augment))
        if isinstance(self.data, (list, tuple)):
            if not self.data or not all(isinstance(d, str) and d for d in self.data):
                raise UserError(f"train option data must be one or more dataset sources, got {self.data!r}")
            object.__setattr__(self, "data", self.data[0] if len(self.data) == 1 else list(self.data))
        if self.source_weights is not None:
            w = self.source_weights
            if len(self.sources) == 1:
                raise UserError(f"--source-weight {', '.join(map(str, w)) if isinstance(w, (list, tuple)) else w} "
                                f"with a single --data source ({self.sources[0] or 'synthetic'}): weights share "
                                "batches between several --data sources; drop it or add sources")
            if (not isinstance(w, (list, tuple)) or len(w) != len(self.sources)
                    or not all(_positive(x) for x in w)):
                raise UserError(f"train option source_weights must be one positive number per --data source "
                                f"({len(self.sources)}), got {w!r}")
            object.__setattr__(self, "source_weights", [float(x) for x in w])
        if isinstance(self.teacher, (list, tuple)):
            if not self.teacher or not all(isinstance(t, str) and t for t in self.teacher):
                raise UserError(f"train option teacher must be one or more models, got {self.teacher!r}")
            object.__setattr__(self, "teacher", self.teacher[0] if len(self.teacher) == 1 else list(self.teacher))
        if self.teacher_weights is not None:
            w = self.teacher_weights
            if (not isinstance(w, (list, tuple)) or len(w) != len(self.teachers)
                    or not all(isinstance(x, (list, tuple)) and len(x) in (1, len(self.sources))
                               and all(isinstance(v, (int, float)) and math.isfinite(v) and v >= 0 for v in x) for x in w)):
                raise UserError(f"train option teacher_weights must give each of the {len(self.teachers)} teacher(s) "
                                f"one weight >= 0, or one per data source ({len(self.sources)}), got {w!r}")
            object.__setattr__(self, "teacher_weights", [[float(v) for v in x] for x in w])
        checks = [
            ("framing_margin", self.framing_margin is None or (isinstance(self.framing_margin, (int, float))
                                                                and -0.25 <= self.framing_margin <= 2.0), "in -0.25..2"),
            ("framing_align", isinstance(self.framing_align, bool), "true or false"),
            ("epochs", isinstance(self.epochs, int) and self.epochs >= 1, "an integer >= 1"),
            ("batch_size", isinstance(self.batch_size, int) and self.batch_size >= 1, "an integer >= 1"),
            ("lr", _positive(self.lr), "a positive number"),
            ("min_lr", _positive(self.min_lr) and self.min_lr <= self.lr, "a positive number <= lr"),
            ("plateau_patience", isinstance(self.plateau_patience, int) and self.plateau_patience >= 1, "an integer >= 1"),
            ("early_stopping_patience", isinstance(self.early_stopping_patience, int) and self.early_stopping_patience >= 0,
             "an integer >= 0"),
            ("label_smoothing", isinstance(self.label_smoothing, (int, float)) and 0 <= self.label_smoothing < 1, "in [0, 1)"),
            ("val_fraction", isinstance(self.val_fraction, (int, float)) and 0 < self.val_fraction < 1, "in (0, 1)"),
            ("schedule", self.schedule in SCHEDULES, f"one of {SCHEDULES}"),
            ("class_balance", self.class_balance in CLASS_BALANCE, f"one of {CLASS_BALANCE}"),
            ("strategy", self.strategy in STRATEGIES, f"one of {STRATEGIES}"),
            ("monitor", self.monitor in MONITORS, f"one of {MONITORS}"),
            ("seed", isinstance(self.seed, int) and self.seed >= 0, "an integer >= 0"),
            ("freeze_epochs", isinstance(self.freeze_epochs, int) and self.freeze_epochs >= 0, "an integer >= 0"),
            ("freeze_epochs", not self.freeze_epochs or self.init, "used with init (a model to fine-tune)"),
            ("distill_temperature", _positive(self.distill_temperature), "a positive number"),
            ("distill_weight", isinstance(self.distill_weight, (int, float)) and 0 <= self.distill_weight <= 1,
             "in [0, 1]"),
            ("frames", self.frames is None or (isinstance(self.frames, int) and self.frames >= 1), "an integer >= 1"),
            ("val_frames", self.val_frames is None or (isinstance(self.val_frames, int) and self.val_frames >= 1),
             "an integer >= 1"),
            ("monitor", self.preset != "locator" or self.monitor == "val_loss",
             "val_loss for the locator preset (it has no accuracy)"),
            ("teacher", self.preset != "locator" or not self.teacher, "unset for the locator preset (YuNet teaches it)"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise UserError(f"train option {name} (--{name.replace('_', '-')}) must be {expected}, "
                                f"got {getattr(self, name)!r}")

    @property
    def teachers(self) -> list[str]:
        """The teacher models of this run, in order (empty: no distillation)."""
        return [] if not self.teacher else list(self.teacher) if isinstance(self.teacher, list) else [self.teacher]

    @property
    def framing(self) -> Framing:
        """How this run's model frames faces: decided here, before any data is loaded, for every path."""
        margin = self.framing_margin if self.framing_margin is not None else FACE_FRAMING.margin
        return Framing(margin=float(margin), align=self.framing_align)

    @property
    def sources(self) -> list[str | None]:
        """The dataset sources of this run, in order (``[None]``: the built-in synthetic faces)."""
        return list(self.data) if isinstance(self.data, list) else [self.data]

    def loader_options_for(self, source: str | None) -> dict[str, Any]:
        """Keyword arguments for train.datasets.load_dataset that reproduce one source of this run's data."""
        return {"source": source, "format": self.data_format, "val_fraction": self.val_fraction,
                "seed": self.seed,
                "expw_min_confidence": self.expw_min_confidence, "synthetic_per_class": self.synthetic_per_class}

    @property
    def loader_options(self) -> dict[str, Any]:
        """Keyword arguments for train.datasets.load_dataset that reproduce this run's (single-source) data."""
        if len(self.sources) > 1:
            raise ValueError("a run with several sources has one set of loader options per source (loader_options_for)")
        return self.loader_options_for(self.data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_epochs(self, epochs: int) -> "TrainConfig":
        return replace(self, epochs=epochs)

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str = "train config") -> "TrainConfig":
        if isinstance(d, dict) and "expw_margin" in d:  # older configs: the former name of framing_margin
            d = dict(d)
            margin = d.pop("expw_margin")
            if margin and d.get("framing_margin") is None:
                d["framing_margin"] = margin
        return dataclass_from_dict(cls, d, source, "train config")

    def save(self, run_dir: str | Path) -> Path:
        return atomic.write_json(Path(run_dir) / TRAIN_CONFIG, self.to_dict())

    @classmethod
    def load(cls, run_dir: str | Path) -> "TrainConfig":
        path = Path(run_dir) / TRAIN_CONFIG
        if not path.is_file():
            raise UserError(f"{run_dir}: not a run directory (no {TRAIN_CONFIG})")
        return cls.from_dict(read_json(path, "train config"), source=str(path))


def _positive(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0
