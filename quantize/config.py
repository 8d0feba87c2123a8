"""The quantize stage's one config: validated at the boundary, saved as quantize_config.json."""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge.core.cliconfig import option
from edge.core.errors import UserError
from edge.core.jsonio import dataclass_from_dict, read_json

METHODS = ("auto", "ptq", "qat")
EVAL_SPLITS = ("val", "test", "train")
FORMAT = "fer-edge-quantize-config/1"


def _finite_float(text: str) -> float:
    """``--max-drop``'s value: a finite number of accuracy points."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of accuracy points (e.g. 1.0), got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number of accuracy points, got {text!r}")
    return value


@dataclass(frozen=True)
class QuantizeConfig:
    #: "auto" makes PTQ and QAT models and keeps the more accurate on ``eval_split``.
    method: str = field(default="auto", metadata=option(
        choices=METHODS, help="post-training quantization, quantization-aware training, or both and keep the more "
                              "accurate on the evaluation split (default: %(default)s)"))
    #: quantization-aware fine-tuning: epochs, learning rate, batch size (None: the run's own)
    qat_epochs: int = field(default=3, metadata=option(metavar="N", help="QAT fine-tuning epochs (default: %(default)s)"))
    qat_lr: float = field(default=1e-4, metadata=option(
        metavar="LR", help="QAT fine-tuning learning rate (default: %(default)s)"))
    qat_batch_size: int | None = field(default=None, metadata=option(
        type=int, metavar="N", help="QAT batch size (default: the run's own)"))
    #: images drawn (stratified, seeded) from the train split to calibrate the int8 ranges
    rep_samples: int = field(default=500, metadata=option(
        metavar="N", help="training images (stratified, seeded) that calibrate the int8 ranges (default: %(default)s)"))
    #: the gate: the chosen int8 model may lose at most this many accuracy points vs float
    max_drop: float = field(default=1.0, metadata=option(
        type=_finite_float, metavar="POINTS",
        help="fail (exit 4) if the int8 model's accuracy is more than this many points below "
             "the float model's on the evaluation split (default: %(default)s)"))
    #: the face locator's gate: int8 boxes against the float model's, recall and precision in percent (quantize.locator)
    min_agreement: float = field(default=95.0, metadata=option(
        type=_finite_float, metavar="PERCENT",
        help="a face locator run: fail (exit 4) unless the int8 boxes match the float model's with recall and "
             "precision of at least this many percent at IoU >= 0.5 (default: %(default)s)"))
    float16: bool = field(default=False, metadata=option(
        help="also write model_float16.tflite (mobile GPU delegates)"))
    eval_split: str = field(default="val", metadata=option(
        choices=EVAL_SPLITS, help="split that compares float and int8 and picks the method (default: %(default)s)"))
    seed: int = field(default=0, metadata=option(
        help="seed of the representative sample and QAT (default: %(default)s)"))
    format: str = FORMAT

    def __post_init__(self):
        if self.method not in METHODS:
            raise UserError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        _check_int("qat_epochs", self.qat_epochs, 1)
        if not _is_number(self.qat_lr) or not 0 < self.qat_lr < 1:
            raise UserError(f"qat_lr must be a learning rate in (0, 1), got {self.qat_lr!r}")
        if self.qat_batch_size is not None:
            _check_int("qat_batch_size", self.qat_batch_size, 1)
        _check_int("rep_samples", self.rep_samples, 1,
                   hint=" (the int8 ranges are calibrated on these images; a few hundred is typical)")
        if not _is_number(self.max_drop):
            raise UserError(f"max_drop must be a finite number of accuracy points, got {self.max_drop!r}")
        if not _is_number(self.min_agreement) or not 0 <= self.min_agreement <= 100:
            raise UserError(f"min_agreement must be a percentage in 0..100, got {self.min_agreement!r}")
        if not isinstance(self.float16, bool):
            raise UserError(f"float16 must be true or false, got {self.float16!r}")
        if self.eval_split not in EVAL_SPLITS:
            raise UserError(f"eval_split must be one of {', '.join(EVAL_SPLITS)}, got {self.eval_split!r}")
        _check_int("seed", self.seed, 0)
        if self.format != FORMAT:
            raise UserError(f"quantize config format must be {FORMAT!r}, got {self.format!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str = "quantize config") -> QuantizeConfig:
        return dataclass_from_dict(cls, d, source, "quantize config")

    @classmethod
    def load(cls, path: str | Path) -> QuantizeConfig:
        return cls.from_dict(read_json(path, "quantize config"), source=str(path))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_int(name: str, value: Any, minimum: int, hint: str = "") -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise UserError(f"{name} must be an integer >= {minimum}, got {value!r}{hint}")

