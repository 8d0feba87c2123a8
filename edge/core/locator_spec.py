"""The face locator's spec: what travels beside ``face_locator_int8.tflite`` as its ``.spec.json``.

A face locator is not an expression model: it takes a whole (downscaled) grayscale frame and outputs a
coarse grid (``edge.locator`` decodes it into boxes). Its spec says so (``kind: "face_locator"``, its own
format) so that no command mistakes one for the other, and carries everything decoding needs: input size,
grid stride, the channel order of the output, the score threshold, NMS overlap and most faces, and the int8
scale and zero point of input and output. Standard library only, like ``edge.core.spec``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge.core import atomic
from edge.core.errors import UserError
from edge.core.jsonio import dataclass_from_dict, read_json
from edge.core.spec import Quant, spec_path_for

LOCATOR_KIND = "face_locator"
LOCATOR_FORMAT = "fer-edge-locator-spec/1"
#: the output channels per grid cell, in order: the face-centre score (a logit), the centre's offset inside
#: its cell (x, y, in cells, 0..1) and the box size (width, height, in cells); see edge.locator
CHANNELS = ("score", "offset_x", "offset_y", "width", "height")


@dataclass(frozen=True)
class LocatorSpec:
    input_width: int = 128
    input_height: int = 96
    #: input pixels per grid cell: the grid is (input_height / stride) x (input_width / stride)
    stride: int = 8
    channels: tuple[str, ...] = CHANNELS
    #: model input = uint8 pixel * pixel_scale + pixel_offset (float model); int8 via input_quant
    pixel_scale: float = 1.0 / 255.0
    pixel_offset: float = 0.0
    #: a cell is a face centre when sigmoid(score) >= this (compared on the int8 value, edge.locator)
    score_threshold: float = 0.5
    #: a box overlapping an earlier (higher-scoring) kept box by more than this IoU is dropped
    nms_iou: float = 0.4
    max_faces: int = 8
    input_quant: Quant | None = None
    output_quant: Quant | None = None
    preset: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    kind: str = LOCATOR_KIND
    format: str = LOCATOR_FORMAT

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(self.channels))
        for name in ("input_width", "input_height"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 16 <= value <= 1024:
                raise UserError(f"locator spec {name} must be an integer in 16..1024, got {value!r}")
        if self.stride not in (4, 8, 16, 32):
            raise UserError(f"locator spec stride must be 4, 8, 16 or 32, got {self.stride!r}")
        if self.input_width % self.stride or self.input_height % self.stride:
            raise UserError(f"locator spec input {self.input_width}x{self.input_height} must be a multiple of "
                            f"its stride {self.stride}")
        if self.channels != CHANNELS:
            raise UserError(f"locator spec channels must be {list(CHANNELS)}, got {list(self.channels)}")
        if not (isinstance(self.score_threshold, (int, float)) and 0 < self.score_threshold < 1):
            raise UserError(f"locator spec score_threshold must be a probability in (0, 1), got {self.score_threshold!r}")
        if not (isinstance(self.nms_iou, (int, float)) and 0 < self.nms_iou < 1):
            raise UserError(f"locator spec nms_iou must be in (0, 1), got {self.nms_iou!r}")
        if not isinstance(self.max_faces, int) or not 1 <= self.max_faces <= 64:
            raise UserError(f"locator spec max_faces must be an integer in 1..64, got {self.max_faces!r}")
        if not (isinstance(self.pixel_scale, (int, float)) and math.isfinite(self.pixel_scale) and self.pixel_scale > 0):
            raise UserError(f"locator spec pixel_scale must be a positive number, got {self.pixel_scale!r}")
        if self.kind != LOCATOR_KIND:
            raise UserError(f"locator spec kind must be {LOCATOR_KIND!r}, got {self.kind!r}")
        if self.format != LOCATOR_FORMAT:
            raise UserError(f"locator spec format must be {LOCATOR_FORMAT!r}, got {self.format!r}")

    @property
    def grid(self) -> tuple[int, int]:
        """(rows, columns) of the output grid."""
        return self.input_height // self.stride, self.input_width // self.stride

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.input_height, self.input_width, 1)

    @property
    def output_shape(self) -> tuple[int, int, int]:
        return (*self.grid, len(self.channels))

    @property
    def is_quantized(self) -> bool:
        return self.input_quant is not None and self.output_quant is not None

    def with_quant(self, input_quant: Quant | None, output_quant: Quant | None) -> LocatorSpec:
        from dataclasses import replace

        return replace(self, input_quant=input_quant, output_quant=output_quant)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str = "locator spec") -> LocatorSpec:
        if isinstance(d, dict):
            d = dict(d)
            if d.get("kind") != LOCATOR_KIND:
                raise UserError(f"{source}: not a face locator's spec (kind {d.get('kind')!r}, expected "
                                f"{LOCATOR_KIND!r}); an expression model goes first on the command line, a locator "
                                "after --detector")
            for key in ("input_quant", "output_quant"):
                if isinstance(d.get(key), dict):
                    d[key] = dataclass_from_dict(Quant, d[key], source, "quantization")
        return dataclass_from_dict(cls, d, source, "locator spec")

    def save(self, path: str | Path) -> Path:
        return atomic.write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> LocatorSpec:
        return cls.from_dict(read_json(path, "locator spec"), source=str(path))


def is_locator_spec(path: str | Path) -> bool:
    """Whether the spec file at ``path`` (or beside the model at ``path``) is a face locator's."""
    path = Path(path)
    if path.suffix != ".json":
        path = spec_path_for(path)
    try:
        import json

        return json.loads(path.read_text(encoding="utf-8")).get("kind") == LOCATOR_KIND
    except (OSError, ValueError, AttributeError):
        return False


def load_locator_spec_for(model_path: str | Path) -> LocatorSpec:
    """The locator spec beside ``model_path``; a missing one is an error naming the file expected."""
    path = spec_path_for(model_path)
    if not path.is_file():
        raise UserError(f"{model_path}: no spec beside the face locator (expected {path.name}, written by "
                        "'fer-edge train --preset locator' and 'fer-edge quantize')")
    return LocatorSpec.load(path)
