"""Where a model comes from: a .tflite file, a run directory, or the micro model shipped in models/."""

from __future__ import annotations

from pathlib import Path

from edge.errors import UserError

RUN_DIR_MODEL = "model_int8.tflite"  # what `fer-edge quantize` writes into a run directory
#: The reference micro model trained on FER2013 (its card: models/fer_micro.md); used when no model is given.
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "fer_micro_int8.tflite"


def resolve_model(model: str | Path | None) -> Path:
    """A .tflite file, a run directory holding ``model_int8.tflite``, or (None) the shipped micro model."""
    if model is None:
        if not DEFAULT_MODEL.is_file():
            raise UserError(f"no model given and the default {DEFAULT_MODEL} is missing (it ships in the source "
                            "tree's models/): pass a .tflite model or a run directory")
        return DEFAULT_MODEL
    path = Path(model)
    if path.is_dir():
        candidate = path / RUN_DIR_MODEL
        if not candidate.is_file():
            found = ", ".join(sorted(p.name for p in path.glob("*.tflite"))) or "none"
            raise UserError(f"{path}: run directory has no {RUN_DIR_MODEL} (run 'fer-edge quantize {path}' "
                            f"first, or pass a .tflite file; .tflite files here: {found})")
        return candidate
    if not path.is_file():
        raise UserError(f"{path}: no such model file or run directory")
    if path.suffix != ".tflite":
        raise UserError(f"{path}: expected a .tflite model (or a run directory); convert .keras models "
                        "with 'fer-edge quantize'")
    return path
