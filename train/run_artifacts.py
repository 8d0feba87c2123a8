"""The run directory ``runs/<name>/``: what a training run leaves behind, and how later stages read it
(train_config.json and model.keras are named in ``edge.core.rundir``, which the Pi reads; the rest here).

    train_config.json   the resolved TrainConfig (data, preset, optimisation, augmentation, seed)
    model.keras         the best float model on validation (tf_keras)
    model.spec.json     its edge.core.spec.ModelSpec (preset and provenance in ``meta``)
    history.csv         one row per completed epoch
    data.json           the data sources and their images per split and class
    metrics.json        final evaluation of model.keras (val, and test when the data has one; per source too)
    curves.png          loss/accuracy curves; confusion.png: the validation confusion matrix
    checkpoints/        resume state: TensorFlow checkpoints (model + optimizer) and state.json

A run directory is never replaced silently: a new run refuses an existing non-empty one unless
asked to (--force), and ``--resume`` continues it.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from edge.core.errors import UserError
from edge.core.rundir import FLOAT_MODEL, MODEL_FILES, TRAIN_CONFIG, is_run_dir  # noqa: F401 (a run's names, in one place)
from edge.core.spec import ModelSpec, load_spec_for
from train.config import TrainConfig

log = logging.getLogger(__name__)

HISTORY = "history.csv"
DATA = "data.json"  # the sources and their images per split and class, written when training starts
METRICS = "metrics.json"
CURVES = "curves.png"
CONFUSION = "confusion.png"
CHECKPOINTS = "checkpoints"


def source_name(source: str | None) -> str:
    """A data source as a shipped spec or card may name it: the folder or file name (``fer2013``,
    ``expw_train``, ``fer2013.csv``) or ``synthetic[:SEED]``, never the trainer's absolute path."""
    if not source or str(source).startswith("synthetic"):
        return str(source or "synthetic")
    return Path(str(source).rstrip("/\\")).name or str(source)


def model_inputs(cfg: TrainConfig) -> dict:
    """The models a run started from or learnt from, by file name and SHA-256 (``--init``, ``--teacher``), so a
    card can name exactly those files after ``models/`` has moved on (e.g. the model it replaces)."""
    from edge.core.rundir import resolve_model
    from edge.detector_model import ZOO_FER, sha256_of

    def ref(model: str, what: str) -> dict:
        if model == "zoo":
            return {"model": "zoo", "file": ZOO_FER.name, "sha256": ZOO_FER.sha256}
        path = resolve_model(model, what, kinds=(".keras", ".tflite"))
        return {"model": path.name, "file": path.name, "sha256": sha256_of(path)}

    out = {}
    if cfg.init:
        out["init"] = ref(cfg.init, "--init model")
    if cfg.teacher:
        out["teachers"] = [ref(t, "--teacher") for t in cfg.teachers]
    return out


def default_run_name(cfg: TrainConfig, runs_dir: Path) -> str:
    """``<preset>_<data>``, numbered ``_2``, ``_3``... so an existing run is never reused."""
    data = "+".join(Path(d).name if d else "synthetic" for d in cfg.sources)
    base = f"{cfg.preset}_{data}"
    name, i = base, 1
    while (runs_dir / name).exists():
        i += 1
        name = f"{base}_{i}"
    return name


def create_run_dir(runs_dir: str | Path, name: str, *, force: bool = False) -> Path:
    """Make ``runs_dir/name``; an existing non-empty directory is an error unless ``force`` and it is a run
    (``force`` never deletes a folder that does not hold a run's config, nor a file)."""
    path = check_run_dir(runs_dir, name, force=force)
    if path.exists():
        log.warning("replacing existing run %s (--force)", path)
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_run_dir(runs_dir: str | Path, name: str, *, force: bool = False) -> Path:
    """``runs_dir/name`` if a new run may be made there (see ``create_run_dir``); checks only, changes nothing."""
    from edge.core.paths import check_outputs, plain_name

    plain_name(name, "--name", "the run is made inside --runs-dir")
    path = Path(runs_dir) / name
    check_outputs(folders={"--runs-dir": runs_dir})
    if path.exists() and not path.is_dir():
        raise UserError(f"{path}: is a file, not a run (pick another --name; --force replaces only a run)")
    if path.is_dir() and any(path.iterdir()):
        if not is_run_dir(path):
            raise UserError(f"{path}: a folder that is not a run (no {TRAIN_CONFIG}) is in the way; pick another "
                            "--name (--force replaces only a run)")
        if not force:
            raise UserError(f"{path}: a run with this name already exists; continue it with --resume {path}, "
                            "pick another --name, or pass --force to replace it")
    return path


def require_run_dir(run_dir: str | Path) -> Path:
    path = Path(run_dir)
    if not path.is_dir():
        raise UserError(f"{path}: not a directory (expected a run directory made by fer-edge train)")
    if not (path / TRAIN_CONFIG).is_file():
        raise UserError(f"{path}: not a run directory (no {TRAIN_CONFIG}; expected one made by fer-edge train)")
    return path


def run_model_path(run_dir: str | Path, which: str = "float") -> Path:
    """The model file of a run: ``float`` -> model.keras, ``int8`` -> model_int8.tflite."""
    run_dir = require_run_dir(run_dir)
    if which not in MODEL_FILES:
        raise UserError(f"unknown model kind {which!r} (expected one of {', '.join(MODEL_FILES)})")
    path = run_dir / MODEL_FILES[which]
    if not path.is_file():
        hint = "run fer-edge quantize on it first" if which == "int8" else "training has not finished an epoch yet"
        raise UserError(f"{run_dir}: no {path.name} ({hint})")
    return path


def load_run(run_dir: str | Path) -> tuple[TrainConfig, ModelSpec, Path]:
    """(train config, model spec, path of model.keras) of a finished or in-progress run."""
    run_dir = require_run_dir(run_dir)
    model_path = run_model_path(run_dir, "float")
    return TrainConfig.load(run_dir), load_spec_for(model_path), model_path


def data_spec(cfg: TrainConfig) -> ModelSpec:
    """The input contract a run's data is loaded for: the default spec with the run's framing."""
    import dataclasses

    from edge.core.spec import DEFAULT_SPEC

    return dataclasses.replace(DEFAULT_SPEC, framing=cfg.framing)


def load_config_data(cfg: TrainConfig):
    """The data a TrainConfig describes: every source loaded with the run's loader options and framing (and,
    with the zoo teacher, the faces as it sees them), merged per split."""
    from train.datasets import load_dataset
    from train.datasets.merge import merge
    from train.teachers import is_zoo

    views = any(is_zoo(t) for t in cfg.teachers)
    return merge([load_dataset(**cfg.loader_options_for(source), spec=data_spec(cfg), teacher_views=views)
                  for source in cfg.sources])


def load_run_dataset(run_dir: str | Path):
    """The run's own data, reloaded with exactly the loader options it was trained with."""
    return load_config_data(TrainConfig.load(require_run_dir(run_dir)))
