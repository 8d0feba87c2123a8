"""The input contract: class names, input shape, preprocessing parameters, int8 quantization.

A ``ModelSpec`` is saved as JSON beside every model artifact (``model.keras`` ->
``model.spec.json``), so a model file plus its spec is all a device needs. Nothing here is typed
twice: training, quantization, firmware export and the camera loop all read it from here or from
the spec file that travelled with the model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from edge.core import atomic
from edge.core.errors import UserError
from edge.core.jsonio import dataclass_from_dict, is_integer, is_number, read_json

#: Class names in dataset order (FER2013 / ExpW label ids 0..6).
LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
SPEC_FORMAT = "fer-edge-spec/1"
INTERPOLATIONS = ("area", "linear", "nearest", "cubic")
#: what two models must share to read the same faces and name the same classes
CONTRACT_FIELDS = ("labels", "input_height", "input_width", "input_channels", "interpolation", "pixel_scale",
                   "pixel_offset")


#: a class name becomes a folder (``collect``, ``data``), a C string and a JSON key: at most this long
MAX_LABEL_LENGTH = 64
#: bounds of the spec's pixel scaling (model input = pixel * pixel_scale + pixel_offset): wide enough for
#: any normalisation of 0..255 pixels, narrow enough that float32 arithmetic stays finite and meaningful
MAX_PIXEL_SCALE = 1000.0
MAX_PIXEL_OFFSET = 1000.0


def check_label(name: Any, what: str = "spec label") -> str:
    """``name`` if it can name a class everywhere (a folder, a C string, a JSON key), else a one-line error:
    a non-empty string of printable characters without a folder part ('/', '\\'), not '.'/'..', not hidden
    (leading '.'), without surrounding spaces, at most ``MAX_LABEL_LENGTH`` characters."""
    if not isinstance(name, str):
        raise UserError(f"{what} {name!r}: expected a class name (a string), got {type(name).__name__}")
    if (not name or name != name.strip() or name.startswith(".") or "/" in name or "\\" in name
            or not name.isprintable() or len(name) > MAX_LABEL_LENGTH):
        raise UserError(f"{what} {name!r}: expected a plain class name (printable, no '/', '\\' or leading '.', "
                        f"no surrounding spaces, 1..{MAX_LABEL_LENGTH} characters)")
    return name


@dataclass(frozen=True)
class Quant:
    """Affine int8 quantization: real = scale * (q - zero_point)."""

    scale: float
    zero_point: int

    def __post_init__(self):
        if not (is_number(self.scale) and self.scale > 0):
            raise UserError(f"quantization scale must be a positive finite number, got {self.scale!r}")
        if not is_integer(self.zero_point) or not -128 <= self.zero_point <= 255:
            raise UserError(f"quantization zero_point must be an integer in -128..255, got {self.zero_point!r}")


@dataclass(frozen=True)
class Framing:
    """How a face is cut out of a photo or frame before ``prepare`` resizes it (``preprocess.frame_face``).

    The detector's box is grown by ``margin`` times its width/height on every side (shrunk if negative);
    with ``align`` and the five landmarks of a landmark detector (YuNet), the crop is first rotated about
    the box centre so that the eyes are level. Boxes without landmarks (the Haar cascade) get the margin only.
    """

    margin: float = 0.0
    align: bool = False

    def __post_init__(self):
        if not (is_number(self.margin) and -0.25 <= self.margin <= 2.0):
            raise UserError(f"spec framing margin must be a fraction of the box size in -0.25..2 "
                            f"(negative: inside the box), got {self.margin!r}")
        if not isinstance(self.align, bool):
            raise UserError(f"spec framing align must be true or false, got {self.align!r}")


#: what a spec without a ``framing`` field means: the detector's box, as it is (fer-edge before framing).
BOX_CROP = Framing()
#: Measured best for the shipped FER2013 models on ExpW faces found by YuNet (benchmarks/framing.py): the
#: square box shrunk by 5% on every side, eyes levelled. New specs of pre-cropped datasets carry it.
FACE_FRAMING = Framing(margin=-0.05, align=True)


@dataclass(frozen=True)
class ModelSpec:
    labels: tuple[str, ...] = LABELS
    input_height: int = 48
    input_width: int = 48
    input_channels: int = 1
    #: cv2 interpolation used to resize a face crop to the input size (fixed per model).
    interpolation: str = "area"
    #: model input = uint8 pixel * pixel_scale + pixel_offset
    pixel_scale: float = 1.0 / 255.0
    pixel_offset: float = 0.0
    input_quant: Quant | None = None
    output_quant: Quant | None = None
    #: how faces are cut out of a frame for this model; None (older specs) = ``BOX_CROP``.
    framing: Framing | None = None
    preset: str | None = None
    #: free-form provenance (dataset, run name, tool version, ...); never needed to run the model.
    meta: dict[str, Any] = field(default_factory=dict)
    format: str = SPEC_FORMAT

    def __post_init__(self):
        """Every field checked for its exact type and range, wherever a spec comes from (a file, a stage)."""
        if not isinstance(self.labels, (list, tuple)):  # a string would become one class per character
            raise UserError(f"spec labels must be a list of class names, got {self.labels!r}")
        object.__setattr__(self, "labels", tuple(self.labels))
        for label in self.labels:
            check_label(label)
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise UserError(f"spec labels must be at least two distinct names, got {list(self.labels)}")
        for name in ("input_height", "input_width"):
            value = getattr(self, name)
            if not is_integer(value) or not 8 <= value <= 1024:
                raise UserError(f"spec {name} must be an integer in 8..1024, got {value!r}")
        if not is_integer(self.input_channels) or self.input_channels not in (1, 3):
            raise UserError(f"spec input_channels must be 1 or 3, got {self.input_channels!r}")
        if not isinstance(self.interpolation, str) or self.interpolation not in INTERPOLATIONS:
            raise UserError(f"spec interpolation must be one of {INTERPOLATIONS}, got {self.interpolation!r}")
        if not (is_number(self.pixel_scale) and 0 < self.pixel_scale <= MAX_PIXEL_SCALE):
            raise UserError(f"spec pixel_scale must be a number in (0, {MAX_PIXEL_SCALE:g}], got {self.pixel_scale!r}")
        if not (is_number(self.pixel_offset) and abs(self.pixel_offset) <= MAX_PIXEL_OFFSET):
            raise UserError(f"spec pixel_offset must be a number in [-{MAX_PIXEL_OFFSET:g}, {MAX_PIXEL_OFFSET:g}], "
                            f"got {self.pixel_offset!r}")
        for name in ("input_quant", "output_quant"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), Quant):
                raise UserError(f"spec {name} must be an object with scale and zero_point, got {getattr(self, name)!r}")
        if self.framing is not None and not isinstance(self.framing, Framing):
            raise UserError(f"spec framing must be an object with margin and align, got {self.framing!r}")
        if self.preset is not None and not isinstance(self.preset, str):
            raise UserError(f"spec preset must be a name, got {self.preset!r}")
        if not isinstance(self.meta, dict):
            raise UserError(f"spec meta must be an object, got {self.meta!r}")
        if self.format != SPEC_FORMAT:
            raise UserError(f"spec format must be {SPEC_FORMAT!r}, got {self.format!r}")

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def face_framing(self) -> Framing:
        return self.framing or BOX_CROP

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.input_height, self.input_width, self.input_channels)

    def check_contract(self, other: ModelSpec, what: str, other_what: str) -> None:
        """Raise unless this model reads the same faces and names the same classes as ``other``.

        ``what`` and ``other_what`` name the two in the message, e.g. ``"PATH: teacher"`` and
        ``"the model being trained"``.
        """
        for name in CONTRACT_FIELDS:
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                raise UserError(f"{what}'s {name} is {mine!r}, {other_what} has {theirs!r} (both must share the "
                                "input contract)")

    def with_quant(self, input_quant: Quant | None, output_quant: Quant | None) -> ModelSpec:
        return replace(self, input_quant=input_quant, output_quant=output_quant)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["labels"] = list(self.labels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str = "spec") -> ModelSpec:
        if isinstance(d, dict):
            if d.get("kind") == "face_locator":  # edge.core.locator_spec
                raise UserError(f"{source}: a face locator's spec, not an expression model's (pass a locator with "
                                "--detector, an expression model as MODEL)")
            d = dict(d)
            for key in ("input_quant", "output_quant"):
                if isinstance(d.get(key), dict):
                    d[key] = dataclass_from_dict(Quant, d[key], source, "quantization")
            if isinstance(d.get("framing"), dict):
                d["framing"] = dataclass_from_dict(Framing, d["framing"], source, "framing")
        return dataclass_from_dict(cls, d, source, "spec")

    def save(self, path: str | Path) -> Path:
        return atomic.write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> ModelSpec:
        return cls.from_dict(read_json(path, "spec file"), source=str(path))


DEFAULT_SPEC = ModelSpec()


def spec_path_for(model_path: str | Path) -> Path:
    """Where the spec of ``model_path`` lives: ``<dir>/<stem>.spec.json``."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + ".spec.json")


def load_spec_for(model_path: str | Path) -> ModelSpec:
    """Read the spec that travels with a model; a missing spec is an error, never a silent default."""
    path = spec_path_for(model_path)
    if not path.exists():
        raise UserError(f"{model_path}: no spec beside the model (expected {path.name}); "
                        "every model file needs the spec it was trained with")
    return ModelSpec.load(path)
