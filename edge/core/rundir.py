"""The run directory ``runs/<name>/`` as edge reads it: which file is a run's model, and the one answer to
"a model file, a run directory, a shipped model's short name or the shipped default" that every stage asks.

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
#: The shipped models by short name (``fer-edge run pi``): name -> file stem in SHIPPED_MODELS. Each has its int8
#: model ``<stem>_int8.tflite`` (with its spec); the float ``<stem>.keras`` is in the checkout's models/ only.
SHIPPED_NAMES = {"micro": "fer_micro", "pi": "fer_pi"}
#: The reference micro model trained on FER2013 (its card: models/fer_micro.md); used when no model is given.
DEFAULT_MODEL = SHIPPED_MODELS / "fer_micro_int8.tflite"


def shipped_file(name: str, kind: str) -> Path:
    """Where the shipped model ``name`` (a key of SHIPPED_NAMES) of file type ``kind`` is (it may be missing)."""
    stem = SHIPPED_NAMES[name]
    return SHIPPED_MODELS / (f"{stem}_int8.tflite" if kind == ".tflite" else f"{stem}{kind}")


def _shipped(name: str, what: str, kinds: tuple[str, ...]) -> Path:
    """The first of ``kinds`` the shipped model ``name`` has, or one line saying what is there."""
    for kind in kinds:
        if shipped_file(name, kind).is_file():
            return shipped_file(name, kind)
    wanted = " or ".join(kinds)
    hint = ("the float .keras models ship in the checkout's models/ only (not in the installed package): "
            "run this from a clone of fer-edge, or pass a .keras file" if ".keras" in kinds
            else "reinstall fer-edge")
    raise UserError(f"{name}: the shipped model has no {wanted} {what} in {SHIPPED_MODELS} ({hint})")


def is_run_dir(path: str | Path) -> bool:
    return Path(path).is_dir() and (Path(path) / TRAIN_CONFIG).is_file()


def resolve_model(model: str | Path | None, what: str = "model", kinds: tuple[str, ...] = (".tflite",)) -> Path:
    """A model file of one of ``kinds``, a run directory's model of the first kind it holds (``.keras`` ->
    model.keras, ``.tflite`` -> model_int8.tflite), or a shipped model by short name (``micro``, ``pi``: its
    int8 ``.tflite``, or its float ``.keras`` when that kind comes first); None means the shipped micro model.
    An existing file or folder of that name wins over a short name."""
    if model is None:
        if not DEFAULT_MODEL.is_file():
            raise UserError(f"no model given and the default {DEFAULT_MODEL} is missing (it ships in the checkout's "
                            "models/ and in the installed package fer_edge_models): pass a .tflite model or a run "
                            "directory, or reinstall fer-edge")
        return DEFAULT_MODEL
    path, expected = Path(model), " or ".join(kinds)
    if str(model) in SHIPPED_NAMES and not path.exists():
        return _shipped(str(model), what, kinds)
    if path.is_dir():
        names = [_RUN_MODEL_BY_SUFFIX[k] for k in kinds]
        for name in names:
            if (path / name).is_file():
                return path / name
        hint = f"run 'fer-edge quantize {path}' first, or pass a model file" if INT8_MODEL in names else "pass a model file"
        found = ", ".join(sorted(p.name for k in kinds for p in path.glob("*" + k))) or "none"
        raise UserError(f"{path}: run directory has no {' or '.join(names)} to use as {what} ({hint}; "
                        f"{expected} files here: {found})")
    if path.exists() and not path.is_file():  # never opened: reading a FIFO would wait forever
        raise UserError(f"{path}: not a regular file (a pipe or device; expected a {expected} {what} file or a run "
                        "directory)")
    if not path.is_file():
        raise UserError(f"{path}: no such {what} file or run directory (expected a {expected} file, a run directory "
                        f"or a shipped model's name: {', '.join(SHIPPED_NAMES)})")
    if path.suffix not in kinds:
        hint = "; convert .keras models with 'fer-edge quantize'" if path.suffix == ".keras" else ""
        raise UserError(f"{path}: expected a {expected} {what} (or a run directory), got "
                        f"{path.suffix or 'no extension'}{hint}")
    return path
