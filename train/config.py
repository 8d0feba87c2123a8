"""The train stage's one config dataclass, validated and saved as ``train_config.json`` in the run dir."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from edge.core import atomic
from edge.core.cliconfig import Option, comma_separated, comma_text, nested, option
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
#: the argument groups of ``fer-edge train --help``
DATA, MODEL, OPTIMISATION, AUGMENTATION, RUN = ("data", "model", "optimisation",
                                               "augmentation (training batches only)", "run")


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation applied in the tf.data pipeline to training batches only; 0 switches one off."""

    flip: bool = field(default=True, metadata=option(help="random horizontal flip (%(default)s)"))  # probability 1/2
    rotate: float = field(default=10.0, metadata=option(
        metavar="DEG", help="max rotation in degrees, 0 = off (%(default)s)"))
    shift: float = field(default=0.1, metadata=option(
        metavar="FRAC", help="max shift, fraction of the size (%(default)s)"))
    zoom: float = field(default=0.1, metadata=option(metavar="FRAC", help="max zoom in/out (%(default)s)"))
    brightness: float = field(default=0.1, metadata=option(  # fraction of the pixel range
        metavar="FRAC", help="max brightness change (%(default)s)"))
    contrast: float = field(default=0.2, metadata=option(  # factor 1 +/- contrast
        metavar="FRAC", help="max contrast change (%(default)s)"))
    erase: float = field(default=0.25, metadata=option(  # erasing a random rectangle (random erasing)
        metavar="P", help="random-erasing probability (%(default)s)"))

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
    def off(cls) -> AugmentConfig:
        return cls(flip=False, rotate=0, shift=0, zoom=0, brightness=0, contrast=0, erase=0)


@dataclass(frozen=True)
class TrainConfig:
    # data (each source passed as-is to train.datasets.load_dataset; None = the built-in synthetic faces);
    # a list trains on several sources at once, merged per split (train.datasets.merge)
    data: str | list[str] | None = field(default=None, metadata=option(
        repeat=True, metavar="SOURCE", group=DATA,
        help="dataset: an image folder (<split>/<class>/), a FER2013 .csv, an ExpW folder, FER+ (its "
             "FER2013Train/ label.csv folders or fer2013new.csv: the votes as soft targets), "
             "or 'synthetic[:SEED]' (default: the built-in synthetic faces); repeat it to train on "
             "several sources, merged per split, each keeping its own val split"))
    source_weights: list[float] | None = field(default=None, metadata=option(  # None: by size
        "--source-weight", type=float, repeat=True, metavar="W", group=DATA,
        help="with several --data: one weight per source, in the same order; training batches draw "
             "from source i with probability W_i / sum(W) (default: in proportion to their sizes)"))
    data_format: str = field(default="auto", metadata=option(
        "--format", group=DATA, help="dataset format (default: %(default)s)"))
    val_fraction: float = field(default=0.1, metadata=option(
        group=DATA, help="held-out fraction when the data has no val split (%(default)s)"))
    #: the spec's framing (edge.core.spec.Framing), decided before any data is loaded: how the live loop cuts this
    #: model's faces and how faces cut from photos (ExpW) are cropped for training; None = FACE_FRAMING's margin
    framing_margin: float | None = field(default=None, metadata=option(
        type=float, metavar="FRAC", group=DATA, deprecated=("--expw-margin",),
        help="the model's face framing, decided before the data is loaded: the detector's box grown by "
             "FRAC of its size on every side (negative: shrunk); faces cut from photos (ExpW) are cropped "
             "so for training, and the live loop cuts this model's faces so (default -0.05)"))
    framing_align: bool = field(default=True, metadata=option(
        group=DATA, help="level the eyes with the detector's landmarks when framing faces (default %(default)s)"))
    expw_min_confidence: float | None = field(default=None, metadata=option(
        type=float, group=DATA, help="ExpW: drop face boxes below this confidence"))
    synthetic_per_class: int | None = field(default=None, metadata=option(
        type=int, metavar="N", group=DATA, help="synthetic training faces per class"))
    #: the face locator (preset locator): frames generated from the sources and labelled by YuNet, for training
    #: and validation (None: train.datasets.locator_frames.FramesConfig's defaults)
    frames: int | None = field(default=None, metadata=option(
        type=int, metavar="N", group=DATA,
        help="preset locator: frames to generate from the --data sources and label with YuNet (16000)"))
    val_frames: int | None = field(default=None, metadata=option(
        type=int, metavar="N", group=DATA, help="preset locator: validation frames generated likewise (1500)"))
    # model
    preset: str = field(default="micro", metadata=option(
        always=True, group=MODEL,
        help="model preset: micro (microcontrollers), micro_ds (micro with depthwise-separable stages: fewer "
             "Cortex-M4 instructions), seed (the seed project's CNN), pi (Raspberry Pi) or locator (the face "
             "locator: frames in, face boxes out; its --data are the photos and faces its frames are made of); "
             "default %(default)s"))
    preset_options: dict[str, Any] = field(default_factory=dict, metadata=option(group=MODEL, keys={
        "width": Option(type=int, help="preset base width (channels of the first stage)"),
        "depth": Option(type=int, help="preset convolutions per stage"),
        "dropout": Option(type=float, help="preset dropout before the classifier"),
        "input_width": Option(type=int, metavar="PX", help="preset locator: the width of the frame it sees (128)"),
        "input_height": Option(type=int, metavar="PX", help="preset locator: the height of the frame it sees (96)"),
    }))
    init: str | None = field(default=None, metadata=option(  # fine-tuning
        metavar="MODEL_OR_RUN", group=MODEL,
        help="fine-tune: start from this .keras model's (or run directory's) weights; it must have "
             "the same preset, options and input contract"))
    freeze_epochs: int = field(default=0, metadata=option(
        metavar="N", group=MODEL,
        help="with --init: train only the classifier head (convolutions frozen) for the first N epochs"))
    # knowledge distillation: learn from a teacher model's soft predictions as well as from the labels
    teacher: str | list[str] | None = field(default=None, metadata=option(  # a list: an ensemble
        repeat=True, metavar="MODEL_OR_RUN", group=MODEL,
        help="knowledge distillation: also learn from this model's soft predictions (.keras, .tflite, "
             "a run directory, or 'zoo': OpenCV Zoo's expression model trained on in-the-wild faces, "
             "see fetch-models); computed once per training face and cached. Repeat it for an ensemble"))
    #: per teacher: one weight, or one per data source (train.teachers); None = equal weights
    teacher_weights: list[list[float]] | None = field(default=None, metadata=option(
        "--teacher-weight", repeat=True, metavar="W[,W...]", group=MODEL, text=comma_text,
        type=comma_separated(float, what="a weight or comma-separated weights"),
        help="with --teacher: this teacher's weight in the ensemble, one number or one per --data source "
             "(in order); give one --teacher-weight per --teacher (default: equal)"))
    distill_temperature: float = field(default=4.0, metadata=option(
        metavar="T", group=MODEL, help="softmax temperature of the distillation term (%(default)s)"))
    distill_weight: float = field(default=0.5, metadata=option(  # the labels get 1 - weight
        metavar="A", group=MODEL, help="weight of the distillation term; the labels get 1 - A (%(default)s)"))
    # optimisation (the seed's defaults: Adam 1e-3, batch 32, 50 epochs, categorical cross-entropy)
    epochs: int = field(default=50, metadata=option(group=OPTIMISATION, help="maximum epochs (%(default)s)"))
    batch_size: int = field(default=32, metadata=option(group=OPTIMISATION, help="global batch size (%(default)s)"))
    lr: float = field(default=1e-3, metadata=option(group=OPTIMISATION, help="Adam learning rate (%(default)s)"))
    schedule: str = field(default="plateau", metadata=option(
        choices=SCHEDULES, group=OPTIMISATION,
        help="LR schedule (%(default)s; plateau: halve after --plateau-patience epochs without progress)"))
    plateau_patience: int = field(default=4, metadata=option(
        group=OPTIMISATION, help="epochs without progress before halving the LR (%(default)s)"))
    min_lr: float = field(default=1e-5, metadata=option(group=OPTIMISATION, help="lowest learning rate (%(default)s)"))
    early_stopping_patience: int = field(default=10, metadata=option(
        "--patience", group=OPTIMISATION, help="early stopping patience in epochs, 0 = off (%(default)s)"))
    monitor: str = field(default="val_accuracy", metadata=option(  # the best checkpoint, early stopping
        choices=MONITORS, group=OPTIMISATION,
        help="validation metric choosing the best checkpoint (%(default)s; val_source_accuracy: the mean of "
             "every --data source's own val accuracy, so a small source weighs as much as a big one)"))
    label_smoothing: float = field(default=0.0, metadata=option(group=OPTIMISATION, help="label smoothing (%(default)s)"))
    class_balance: str = field(default="sqrt-weights", metadata=option(  # measured on FER2013: +1.6 macro-F1
        choices=CLASS_BALANCE, group=OPTIMISATION,  # points for -0.7 accuracy vs none
        help="imbalanced classes: loss weights, square-root weights, or a class-balanced sampler (%(default)s)"))
    augment: AugmentConfig = field(default_factory=AugmentConfig, metadata=nested(group=AUGMENTATION))
    # execution
    seed: int = field(default=0, metadata=option(group=RUN, help="random seed (%(default)s)"))
    strategy: str = field(default="default", metadata=option(
        choices=STRATEGIES, group=RUN,
        help="tf.distribute strategy: mirrored = this machine's GPUs; multiworker reads TF_CONFIG"))

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

    def with_epochs(self, epochs: int) -> TrainConfig:
        return replace(self, epochs=epochs)

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str = "train config") -> TrainConfig:
        if isinstance(d, dict) and "expw_margin" in d:  # older configs: the former name of framing_margin
            d = dict(d)
            margin = d.pop("expw_margin")
            if margin and d.get("framing_margin") is None:
                d["framing_margin"] = margin
        return dataclass_from_dict(cls, d, source, "train config")

    def save(self, run_dir: str | Path) -> Path:
        return atomic.write_json(Path(run_dir) / TRAIN_CONFIG, self.to_dict())

    @classmethod
    def load(cls, run_dir: str | Path) -> TrainConfig:
        path = Path(run_dir) / TRAIN_CONFIG
        if not path.is_file():
            raise UserError(f"{run_dir}: not a run directory (no {TRAIN_CONFIG})")
        return cls.from_dict(read_json(path, "train config"), source=str(path))


def _positive(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0
