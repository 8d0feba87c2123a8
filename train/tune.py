"""KerasTuner search over a preset's knobs (width, depth, dropout, learning rate, augmentation
strength) within a hardware budget.

Each trial builds the preset with the trial's knobs, measures its int8 budget with
``train.budget.model_budget`` and skips (as a failed trial, with the numbers) a model over
``max_flash``/``max_ram`` before spending any training on it; the rest train on the same seeded
tf.data pipeline as ``fer-edge train`` for a few epochs and are scored on the validation split.
The tuner's own project folder makes the search resumable: rerunning with ``--resume`` skips
completed trials and reruns an interrupted one.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import keras_tuner as kt
import numpy as np
import tf_keras as keras

from edge.core import atomic
from edge.core.errors import UserError
from edge.core.spec import DEFAULT_SPEC
from train.budget import check_fits, model_budget
from train.config import AugmentConfig, TrainConfig
from train.datasets.base import Split, stratified_split
from train.fit import compile_model, source_accuracies, source_vals_of
from train.models import build_model
from train.pipeline import eval_dataset, steps_per_epoch, training_dataset
from train.tune_config import TuneConfig

log = logging.getLogger(__name__)

RESULTS_NAME = "tune_results.json"


def scaled_augment(base: AugmentConfig, strength: float) -> AugmentConfig:
    """The default augmentation with every magnitude scaled by ``strength`` (0 = off), within limits."""
    limits = {"rotate": 45, "shift": 0.5, "zoom": 0.5, "brightness": 1.0, "contrast": 1.0, "erase": 1.0}
    return replace(base, flip=base.flip and strength > 0,
                   **{k: min(getattr(base, k) * strength, v) for k, v in limits.items()})


def trial_train_config(cfg: TuneConfig, values: dict[str, Any]) -> TrainConfig:
    """The TrainConfig a trial's hyperparameter values stand for (what ``fer-edge train`` would use)."""
    return replace(cfg.train, lr=float(values["lr"]),
                   preset_options={**cfg.train.preset_options, "width": int(values["width"]),
                                   "depth": int(values["depth"]), "dropout": round(float(values["dropout"]), 3)},
                   augment=scaled_augment(cfg.train.augment, float(values["augment"])))


class _SourceAccuracy(keras.callbacks.Callback):
    """Adds ``val_source_accuracy`` (the mean of every source's own val accuracy) to each epoch's logs,
    before KerasTuner reads its objective from them."""

    def __init__(self, source_vals: list):
        super().__init__()
        self.source_vals = source_vals

    def on_epoch_end(self, epoch, logs=None):
        per_source = source_accuracies(self.model, self.source_vals, logs or {})
        if logs is None or not per_source:
            return
        logs["val_source_accuracy"] = float(np.mean(per_source))
        if self.source_vals:
            log.info("epoch %d: val accuracy per source %s (mean %.4f)", epoch + 1,
                     " ".join(f"{a:.4f}" for a in per_source), logs["val_source_accuracy"])


class PresetHyperModel(kt.HyperModel):
    def __init__(self, cfg: TuneConfig, train_split: Split, val_split: Split, source_vals: list | None = None):
        super().__init__(name=f"{cfg.train.preset}_search")
        self.cfg, self.train_split, self.val_split = cfg, train_split, val_split
        self.val_ds = eval_dataset(val_split, DEFAULT_SPEC)
        self.source_vals = source_vals or []  # (eval dataset, labels) per source of a multi-source search

    def declare(self, hp: kt.HyperParameters) -> dict[str, Any]:
        c = self.cfg
        return {
            "width": hp.Choice("width", list(c.widths)),
            "depth": hp.Choice("depth", list(c.depths)),
            "dropout": hp.Float("dropout", c.dropout[0], c.dropout[1], step=0.05) if c.dropout[0] < c.dropout[1]
            else hp.Fixed("dropout", c.dropout[0]),
            "lr": hp.Float("lr", c.lr[0], c.lr[1], sampling="log") if c.lr[0] < c.lr[1] else hp.Fixed("lr", c.lr[0]),
            "augment": hp.Choice("augment", list(c.augment_strengths)),
        }

    def build(self, hp):
        tcfg = trial_train_config(self.cfg, self.declare(hp))
        model = build_model(tcfg.preset, DEFAULT_SPEC, **tcfg.preset_options)
        budget = model_budget(model)
        try:
            check_fits(budget, f"{tcfg.preset} {tcfg.preset_options}", self.cfg.max_flash, self.cfg.max_ram)
        except UserError as e:  # over budget: a failed trial, never trained
            raise kt.errors.FailedTrialError(str(e)) from None
        compile_model(model, tcfg, tcfg.lr)
        return model

    def fit(self, hp, model, *args, epochs: int | None = None, initial_epoch: int = 0, callbacks=None, **kwargs):
        tcfg = trial_train_config(self.cfg, self.declare(hp)).with_epochs(epochs or self.cfg.epochs_per_trial)
        train_ds = training_dataset(self.train_split, DEFAULT_SPEC, tcfg, start_epoch=initial_epoch)
        # first, so that the tuner's own callbacks (objective, best epoch) see val_source_accuracy
        callbacks = [_SourceAccuracy(self.source_vals), *(callbacks or [])]
        return model.fit(train_ds, epochs=tcfg.epochs, initial_epoch=initial_epoch,
                         steps_per_epoch=steps_per_epoch(len(self.train_split), tcfg.batch_size),
                         validation_data=self.val_ds, callbacks=callbacks, verbose=kwargs.get("verbose", 2))


def make_tuner(cfg: TuneConfig, hypermodel: PresetHyperModel, directory: Path):
    monitor = cfg.train.monitor  # the metric `fer-edge train --monitor` would choose the best epoch by
    objective = kt.Objective(monitor, "min" if monitor == "val_loss" else "max")
    common = dict(hypermodel=hypermodel, objective=objective, seed=cfg.train.seed,
                  directory=str(directory), project_name="tuner", overwrite=False,
                  max_consecutive_failed_trials=max(3, cfg.max_trials))
    if cfg.algorithm == "hyperband":
        return kt.Hyperband(max_epochs=cfg.epochs_per_trial, factor=3, **common)
    cls = kt.RandomSearch if cfg.algorithm == "random" else kt.BayesianOptimization
    return cls(max_trials=cfg.max_trials, **common)


def subset(split: Split, fraction: float, seed: int) -> Split:
    if fraction >= 1:
        return split
    _, keep = stratified_split(split.labels, fraction, seed)
    return split.take(keep)  # keeps each face's source, so --source-weight still applies


def trial_rows(tuner, cfg: TuneConfig) -> list[dict[str, Any]]:
    """Every trial, best first: status, hyperparameters, its score (the best value of the objective,
    ``cfg.train.monitor``), best val accuracy (merged sources) and the budget of its model."""
    rows = []
    for trial in tuner.oracle.trials.values():
        values = dict(trial.hyperparameters.values)
        acc = trial.metrics.get_best_value("val_accuracy") if trial.metrics.exists("val_accuracy") else None
        row = {"trial": trial.trial_id, "status": str(trial.status), "score": trial.score,
               "val_accuracy": None if acc is None else float(acc), **values}
        if {"width", "depth", "dropout"} <= set(values):
            tcfg = trial_train_config(cfg, values)
            b = model_budget(build_model(tcfg.preset, DEFAULT_SPEC, **tcfg.preset_options))
            row.update(params=b.params, macs=b.macs, int8_weight_bytes=b.int8_weight_bytes,
                       peak_activation_bytes=b.peak_activation_bytes)
        if trial.message:
            row["message"] = str(trial.message).strip().splitlines()[-1]
        rows.append(row)
    sign = 1.0 if cfg.train.monitor == "val_loss" else -1.0  # best first
    rows.sort(key=lambda r: (not _scored(r), sign * r["score"] if _scored(r) else 0.0))
    return rows


def _scored(row: dict[str, Any]) -> bool:
    return row.get("score") is not None and math.isfinite(row["score"])


def format_rows(rows: list[dict[str, Any]], objective: str = "val_accuracy") -> str:
    head = (f"| trial | status | {objective} | val acc | width | depth | dropout | lr | augment | params | MMAC "
            "| int8 KiB | act KiB |")
    lines = [head, "|" + "---|" * 13]
    for r in rows:
        score = f"{r['score']:.4f}" if _scored(r) else "-"
        acc = f"{r['val_accuracy']:.4f}" if r.get("val_accuracy") is not None else "-"
        kib = (lambda k, r=r: f"{r[k] / 1024:.1f}" if k in r else "-")
        lines.append(f"| {r['trial']} | {r['status']} | {score} | {acc} | {r.get('width', '-')} | {r.get('depth', '-')} | "
                     f"{r.get('dropout', 0):.2f} | {r.get('lr', 0):.2g} | {r.get('augment', '-')} | "
                     f"{r.get('params', '-'):,} | {r.get('macs', 0) / 1e6:.1f} | {kib('int8_weight_bytes')} | "
                     f"{kib('peak_activation_bytes')} |")
    return "\n".join(lines)


def search(cfg: TuneConfig, run_dir: Path, dataset) -> dict[str, Any]:
    """Run (or continue) the search in ``run_dir``; write tune_results.json/.md and the best TrainConfig."""
    keras.utils.set_random_seed(cfg.train.seed)
    train_split = subset(dataset.splits["train"], cfg.train_fraction, cfg.train.seed)
    hypermodel = PresetHyperModel(cfg, train_split, dataset.splits["val"], source_vals_of(dataset, DEFAULT_SPEC))
    tuner = make_tuner(cfg, hypermodel, run_dir)
    log.info("searching %s: %s, %d trial(s) of up to %d epochs on %d training faces from %d source(s), by %s",
             cfg.train.preset, cfg.algorithm, cfg.max_trials, cfg.epochs_per_trial, len(train_split),
             len(cfg.train.sources), cfg.train.monitor)
    tuner.search(verbose=2)
    rows = trial_rows(tuner, cfg)
    done = [r for r in rows if _scored(r)]
    if not done:
        raise UserError(f"{run_dir}: no trial completed (every model was over budget or failed); "
                        "widen --widths/--depths or relax --max-flash/--max-ram")
    best = trial_train_config(cfg, done[0])
    keys = ("trial", "score", "val_accuracy", "width", "depth", "dropout", "lr", "augment")
    result = {"objective": cfg.train.monitor, "best": {k: done[0][k] for k in keys},
              "best_train_config": best.to_dict(), "trials": rows}
    atomic.write_json(run_dir / RESULTS_NAME, result)
    atomic.write_text(run_dir / "tune_results.md", f"# Tuning {cfg.train.preset} ({cfg.algorithm}, by "
                      f"{cfg.train.monitor})\n\n{format_rows(rows, cfg.train.monitor)}\n")
    best.save(run_dir / "best")  # best/train_config.json: what `fer-edge train` should use
    return result
