"""The run directory ``runs/<name>/`` as edge reads it: which file is a run's model, and the one answer to
"a model file, a run directory or the shipped default" that every stage asks.

    train_config.json   marks a run directory (written by fer-edge train)
    model.keras         its float model (fer-edge train), with model.spec.json
    model_int8.tflite   its int8 model (fer-edge quantize), with model_int8.spec.json

Each stage names the other files it writes (``train.run_artifacts``, ``quantize.files``, ``firmware_export.config``,
``mobile_export.export``); the run folder only composes them. Standard library only: the Pi reads run
directories too.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from edge.core.errors import UserError

TRAIN_CONFIG = "train_config.json"
FLOAT_MODEL = "model.keras"
INT8_MODEL = "model_int8.tflite"

#: a run's model of each kind (``fer-edge evaluate --kind``)
MODEL_FILES = {"float": FLOAT_MODEL, "int8": INT8_MODEL}
#: the model a run directory stands for, by the file type a stage accepts
_RUN_MODEL_BY_SUFFIX = {".keras": FLOAT_MODEL, ".tflite": INT8_MODEL}


def shipped_models_dir() -> Path:
    """The folder of the shipped int8 models and their specs: the installed package ``fer_edge_models`` (the
    checkout's models/, mapped in pyproject.toml), else, in a checkout that is not installed, models/ itself."""
    try:
        folder = importlib.resources.files("fer_edge_models")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "models"
    return Path(str(folder))  # a wheel installs into a folder; the models are read as files (LiteRT, specs)


#: Where the shipped models are (the checkout's models/, or the installed package's copy of it).
SHIPPED_MODELS = shipped_models_dir()
#: The reference micro model trained on FER2013 (its card: models/fer_micro.md); used when no model is given.
DEFAULT_MODEL = SHIPPED_MODELS / "fer_micro_int8.tflite"


def is_run_dir(path: str | Path) -> bool:
    return Path(path).is_dir() and (Path(path) / TRAIN_CONFIG).is_file()


def resolve_model(model: str | Path | None, what: str = "model", kinds: tuple[str, ...] = (".tflite",)) -> Path:
    """A model file of one of ``kinds``, or a run directory's model of the first kind it holds
    (``.keras`` -> model.keras, ``.tflite`` -> model_int8.tflite); None means the shipped micro model."""
    if model is None:
        if not DEFAULT_MODEL.is_file():
            raise UserError(f"no model given and the default {DEFAULT_MODEL} is missing (it ships in the checkout's "
                            "models/ and in the installed package fer_edge_models): pass a .tflite model or a run "
                            "directory, or reinstall fer-edge")
        return DEFAULT_MODEL
    path, expected = Path(model), " or ".join(kinds)
    if path.is_dir():
        names = [_RUN_MODEL_BY_SUFFIX[k] for k in kinds]
        for name in names:
            if (path / name).is_file():
                return path / name
        hint = f"run 'fer-edge quantize {path}' first, or pass a model file" if INT8_MODEL in names else "pass a model file"
        found = ", ".join(sorted(p.name for k in kinds for p in path.glob("*" + k))) or "none"
        raise UserError(f"{path}: run directory has no {' or '.join(names)} to use as {what} ({hint}; "
                        f"{expected} files here: {found})")
    if not path.is_file():
        raise UserError(f"{path}: no such {what} file or run directory (expected a {expected} file)")
    if path.suffix not in kinds:
        hint = "; convert .keras models with 'fer-edge quantize'" if path.suffix == ".keras" else ""
        raise UserError(f"{path}: expected a {expected} {what} (or a run directory), got "
                        f"{path.suffix or 'no extension'}{hint}")
    return path
