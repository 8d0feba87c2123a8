"""A training run from start to finish: budget check, data, fit, then the final evaluation and plots.

``start_run`` makes a new run directory, ``resume_run`` continues one; both return a ``RunResult``
the CLI prints. The model is built and checked against --max-flash/--max-ram before any data is
loaded or anything is written.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from edge.core import atomic
from edge.core.errors import UserError
from edge.core.spec import DEFAULT_SPEC, ModelSpec
from train import run_artifacts
from train.budget import Budget, check_fits, model_budget
from train.config import TrainConfig
from train.distribute import deterministic, is_chief, make_strategy
from train.fit import STATE_NAME, FitResult, TrainState, fit
from train.models import build_model

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    run_dir: Path
    cfg: TrainConfig
    budget: Budget
    fit: FitResult
    replicas: int
    data: dict  # source, format and split sizes
    metrics: dict | None  # metrics.json content once training finished
    seconds: float  # wall time of this session


def _build(cfg: TrainConfig, max_flash: int | None, max_ram: int | None, init: bool = False):
    strategy = make_strategy(cfg.strategy)
    with strategy.scope():
        model = build_model(cfg.preset, DEFAULT_SPEC, **cfg.preset_options)
        if init and cfg.init:  # a resumed run restores its own checkpoint instead
            from train.finetune import load_init_weights

            load_init_weights(model, cfg.init, cfg.preset, cfg.preset_options, DEFAULT_SPEC)
    if cfg.teacher:  # a bad teacher fails before any data is loaded or anything is written
        from train.teachers import check_teachers, weights_per_source

        check_teachers(cfg.teachers, DEFAULT_SPEC)
        weights_per_source(cfg.teacher_weights, len(cfg.teachers), len(cfg.sources))
    budget = model_budget(model)
    for name, value in budget.rows():
        log.info("%s %s: %s", cfg.preset, name, value)
    check_fits(budget, f"preset {cfg.preset}", max_flash, max_ram)
    return strategy, model, budget


def _load(cfg: TrainConfig):
    from train.datasets.merge import format_counts

    dataset = run_artifacts.load_config_data(cfg)
    for member in dataset.members or [dataset]:
        missing = [s for s in ("train", "val") if s not in member.splits or len(member.splits[s]) == 0]
        if missing:
            raise UserError(f"{member.source}: no {' or '.join(missing)} images to train on")
    log.info("images per source, split and class:\n%s", format_counts(dataset))
    if tuple(dataset.labels) != DEFAULT_SPEC.labels:
        raise UserError(f"{dataset.source}: labels {list(dataset.labels)} differ from {list(DEFAULT_SPEC.labels)}")
    return dataset


def _spec(cfg: TrainConfig, run_dir: Path, dataset) -> ModelSpec:
    # shipped with the model: data sources by name only (the trainer's folders stay in train_config.json)
    meta = {"run": run_dir.name, "data": " + ".join(run_artifacts.source_name(s) for s in cfg.sources),
            "data_format": dataset.name, "preset_options": dict(cfg.preset_options),
            "train_config": run_artifacts.TRAIN_CONFIG, **run_artifacts.model_inputs(cfg)}
    # the framing was decided before the data was loaded (TrainConfig.framing): faces cut from photos (ExpW)
    # were cropped with it, and the live loop will cut this model's faces with it
    return dataclasses.replace(run_artifacts.data_spec(cfg), labels=tuple(dataset.labels), preset=cfg.preset, meta=meta)


def start_run(cfg: TrainConfig, *, runs_dir: str | Path = "runs", name: str | None = None, force: bool = False,
              max_flash: int | None = None, max_ram: int | None = None) -> RunResult:
    """Train a new run in ``runs_dir/name`` (default name: ``<preset>_<data>``, numbered if taken)."""
    if cfg.preset == "locator":  # the face locator: its own data, loss and evaluation (train.locator.session)
        from train.locator import session as locator

        return locator.start_run(cfg, runs_dir=runs_dir, name=name, force=force, max_flash=max_flash, max_ram=max_ram)
    with deterministic(cfg.seed):
        strategy, model, budget = _build(cfg, max_flash, max_ram, init=True)
        dataset = _load(cfg)
        runs_dir = Path(runs_dir)
        name = name or run_artifacts.default_run_name(cfg, runs_dir)
        if is_chief(strategy):
            run_dir = run_artifacts.create_run_dir(runs_dir, name, force=force)
            try:
                cfg.save(run_dir)
                return _train(cfg, run_dir, strategy, model, budget, dataset)
            except BaseException:
                _clean_failed(run_dir)
                raise
        run_dir = Path(tempfile.mkdtemp(prefix=f"fer-edge-worker-{name}-"))  # a worker's required checkpoint copies
        try:
            cfg.save(run_dir)
            return _train(cfg, run_dir, strategy, model, budget, dataset)
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)


def resume_run(run_dir: str | Path, *, epochs: int | None = None,
               max_flash: int | None = None, max_ram: int | None = None) -> RunResult:
    """Continue a run from its last completed epoch (or finish its final evaluation)."""
    run_dir = run_artifacts.require_run_dir(run_dir)
    cfg = TrainConfig.load(run_dir)
    check_resumable(run_dir, cfg)  # before anything in the run is rewritten
    if epochs is not None and epochs != cfg.epochs:
        cfg = cfg.with_epochs(epochs)
        cfg.save(run_dir)
        log.info("%s: epochs changed to %d", run_dir, epochs)
    if cfg.preset == "locator":
        from train.locator import session as locator

        return locator.resume_run(run_dir, cfg, max_flash=max_flash, max_ram=max_ram)
    with deterministic(cfg.seed):
        strategy, model, budget = _build(cfg, max_flash, max_ram)
        if is_chief(strategy):
            return _train(cfg, run_dir, strategy, model, budget, _load(cfg))
        worker_dir = Path(tempfile.mkdtemp(prefix=f"fer-edge-worker-{run_dir.name}-"))
        try:
            shutil.copytree(run_dir, worker_dir, dirs_exist_ok=True)
            return _train(cfg, worker_dir, strategy, model, budget, _load(cfg))
        finally:
            shutil.rmtree(worker_dir, ignore_errors=True)


def _clean_failed(run_dir: Path) -> None:
    """After a failed run (a full disk, an error, Ctrl-C): TensorFlow's half-written checkpoint folders go,
    and so does the run folder itself when no epoch completed (nothing to resume)."""
    checkpoints = run_dir / run_artifacts.CHECKPOINTS
    for tmp in checkpoints.glob("*_temp*"):
        shutil.rmtree(tmp, ignore_errors=True)
    if not (checkpoints / STATE_NAME).is_file():
        shutil.rmtree(run_dir, ignore_errors=True)
        log.warning("removed %s: the run stopped before its first epoch completed", run_dir)


def check_resumable(run_dir: Path, cfg: TrainConfig) -> None:
    """The run's training state and the checkpoint it names must read back completely, or a one-line error."""
    import tensorflow as tf

    state = TrainState.load(run_dir, cfg)
    if not state.checkpoint:
        return
    prefix = run_dir / run_artifacts.CHECKPOINTS / state.checkpoint
    try:
        reader = tf.train.load_checkpoint(str(prefix))
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)  # every tensor: a truncated or damaged data file fails here
    except Exception as e:  # TensorFlow raises several types for a bad checkpoint
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"{prefix}: corrupt or missing checkpoint ({first[:200]}); the run cannot be resumed "
                        "(start it again with --force)") from None


def _train(cfg, run_dir: Path, strategy, model, budget: Budget, dataset) -> RunResult:
    start = time.monotonic()
    from train.datasets.merge import source_counts

    spec = _spec(cfg, run_dir, dataset)
    data = {"source": dataset.source, "format": dataset.name, "sizes": {k: len(v) for k, v in dataset.splits.items()},
            "sources": source_counts(dataset)}
    teacher = None
    if cfg.teacher:
        from train.distill import teacher_report
        from train.teachers import ensemble_log_probs, weights_per_source

        members = dataset.members or [dataset]
        weights = weights_per_source(cfg.teacher_weights, len(cfg.teachers), len(members))
        train = dataset.splits["train"]
        teacher, own = ensemble_log_probs([m.splits["train"] for m in members], cfg.teachers, weights, spec,
                                          names=[f"{m.source} [train]" for m in members])
        t = teacher_report(teacher, train.labels, spec)
        data["teacher"] = {"model": cfg.teacher, "train_accuracy": round(t["accuracy"], 4),
                           "train_macro_f1": round(t["macro_f1"], 4)}
        if len(cfg.teachers) > 1:
            data["teacher"]["weights"] = weights.tolist()
            import numpy as np

            taught = [~np.isnan(lp).any(axis=1) for lp in own]  # a teacher of weight 0 on a source skips it
            data["teacher"]["members"] = [{"model": name, "faces": int(ok.sum()), "train_accuracy": round(teacher_report(
                lp[ok], train.labels[ok], spec)["accuracy"], 4) if ok.any() else None}
                for name, lp, ok in zip(cfg.teachers, own, taught)]
        log.info("teacher %s on the train split: accuracy %.4f, macro-F1 %.4f", cfg.teacher, t["accuracy"], t["macro_f1"])
    if is_chief(strategy):
        atomic.write_json(run_dir / run_artifacts.DATA, data)
    result = fit(model, dataset, spec, cfg, run_dir, strategy, teacher_log_probs=teacher)
    metrics = None
    metrics_path = run_dir / run_artifacts.METRICS
    if result.state.finished and not result.trained and metrics_path.is_file():
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))  # finished and reported before
    elif result.state.finished and is_chief(strategy):
        metrics = finalize(run_dir, dataset, result, budget, strategy.num_replicas_in_sync, data)
    return RunResult(run_dir, cfg, budget, result, strategy.num_replicas_in_sync, data, metrics,
                     time.monotonic() - start)


def finalize(run_dir: Path, dataset, result: FitResult, budget: Budget, replicas: int, data: dict) -> dict:
    """Evaluate the best model on val (and test), write metrics.json, curves.png and confusion.png."""
    from edge.core.spec import load_spec_for
    from train.plots import plot_confusion, plot_curves
    from train.scoring import evaluate_model

    model_path = run_dir / run_artifacts.FLOAT_MODEL
    spec = load_spec_for(model_path)
    state = result.state
    metrics = {"model": run_artifacts.FLOAT_MODEL, "best_epoch": state.best_epoch, "epochs_completed": state.epoch,
               "stop_reason": state.stop_reason, "train_seconds": round(state.seconds, 1),
               "replicas": replicas, "data": data, "budget": budget.to_dict()}
    for split in ("val", "test"):
        if split in dataset.splits and len(dataset.splits[split]):
            metrics[split] = evaluate_model(model_path, dataset.splits[split], spec)
    if dataset.members:  # every source's own val (and test) split, beside the merged numbers above
        metrics["sources"] = [
            {"source": m.source, **{split: evaluate_model(model_path, m.splits[split], spec)
                                    for split in ("val", "test") if split in m.splits and len(m.splits[split])}}
            for m in dataset.members]
    plot_curves(state.history, run_dir / run_artifacts.CURVES, state.best_epoch)
    val = metrics["val"]
    plot_confusion(val["confusion"], val["labels"], run_dir / run_artifacts.CONFUSION,
                   title=f"{run_dir.name}: val accuracy {val['accuracy']:.3f}, macro-F1 {val['macro_f1']:.3f}")
    atomic.write_json(run_dir / run_artifacts.METRICS, metrics)
    return metrics
