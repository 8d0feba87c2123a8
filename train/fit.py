"""The training loop: Keras ``fit`` plus the state that makes a run resumable and its result reproducible.

After every completed epoch the run directory gets, in this order: a TensorFlow checkpoint of the
model and optimizer (``checkpoints/ckpt-<epoch>``), the model as ``checkpoints/best-<epoch>.keras`` if validation
improved, then ``checkpoints/state.json`` (epoch, best score, early-stopping and LR-schedule
counters, history; the commit point: it names the checkpoint it belongs to) and ``history.csv``,
and finally the new best model is moved onto ``model.keras``. A run killed at any
moment therefore resumes from its last completed epoch with the optimizer state, LR and counters it
had; the data order and augmentation of each epoch come from stateless seeds, so the resumed epochs
see the same batches. SIGINT/SIGTERM stop after the current batch and leave the run resumable.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras as keras

from edge.core import atomic
from edge.core.errors import UserError
from edge.core.jsonio import is_integer, is_number, read_json
from edge.core.spec import ModelSpec, spec_path_for
from edge.core.stop import StopRequest, stop_on_signals
from train import run_artifacts as layout
from train.config import TrainConfig
from train.pipeline import eval_dataset, steps_per_epoch, training_dataset

log = logging.getLogger(__name__)

STATE_NAME = "state.json"
HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds",
                   "val_source_accuracy", "val_accuracy_per_source")


class TrainingInterrupted(Exception):
    """Raised inside fit when SIGINT/SIGTERM asked training to stop."""


@dataclass
class TrainState:
    epoch: int = 0  # completed epochs
    lr: float = 1e-3
    best: float | None = None
    best_epoch: int = 0
    wait: int = 0  # epochs since the monitored metric last improved (early stopping)
    plateau_wait: int = 0  # the same, reset when the LR is reduced
    finished: bool = False
    stop_reason: str = ""
    checkpoint: str = ""  # checkpoint prefix (relative to checkpoints/) holding epoch `epoch`
    seconds: float = 0.0  # training wall time so far, over all sessions
    history: list[dict] = field(default_factory=list)

    @classmethod
    def load(cls, run_dir: Path, cfg: TrainConfig) -> TrainState:
        path = run_dir / layout.CHECKPOINTS / STATE_NAME
        if not path.exists():
            return cls(lr=cfg.lr)
        data = read_json(path, "training state")
        try:
            state = cls(**data) if isinstance(data, dict) else None
        except TypeError as e:
            raise UserError(f"{path}: unreadable training state ({e}); the run cannot be resumed") from None
        problem = "expected a JSON object" if state is None else state.problem()
        if problem:
            raise UserError(f"{path}: {problem}; the run cannot be resumed (start it again with --force)")
        return state

    def problem(self) -> str:
        """What is wrong with a state read back from a file ('' if nothing): every field of its exact type, the
        numbers finite and in range, the checkpoint a plain name inside this run's checkpoints/ folder."""
        for name in ("epoch", "best_epoch", "wait", "plateau_wait"):
            if not is_integer(getattr(self, name)) or getattr(self, name) < 0:
                return f"{name} {getattr(self, name)!r}: expected an integer >= 0"
        if self.best_epoch > self.epoch:
            return f"best_epoch {self.best_epoch} is after the last completed epoch {self.epoch}"
        if not (is_number(self.lr) and 0 < self.lr < 1e3):
            return f"lr {self.lr!r}: expected a finite learning rate > 0"
        if self.best is not None and not is_number(self.best):
            return f"best {self.best!r}: expected a finite number or null"
        if not (is_number(self.seconds) and self.seconds >= 0):
            return f"seconds {self.seconds!r}: expected a number >= 0"
        if not isinstance(self.finished, bool) or not isinstance(self.stop_reason, str):
            return "finished must be true or false and stop_reason a string"
        if not isinstance(self.history, list) or not all(isinstance(row, dict) for row in self.history):
            return "history: expected a list of objects, one per epoch"
        if not isinstance(self.checkpoint, str):
            return f"checkpoint {self.checkpoint!r}: expected the name of a checkpoint in checkpoints/"
        if self.checkpoint and (self.checkpoint in (".", "..") or not self.checkpoint.isprintable()
                                or any(c in self.checkpoint for c in "/\\")):
            return (f"checkpoint {self.checkpoint!r}: expected the name of a checkpoint in this run's checkpoints/ "
                    "(never another folder or run)")
        return ""

    def save(self, run_dir: Path) -> None:
        atomic.write_json(run_dir / layout.CHECKPOINTS / STATE_NAME, asdict(self))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=HISTORY_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.history)
        atomic.write_text(run_dir / layout.HISTORY, buf.getvalue())


def source_vals_of(dataset, spec: ModelSpec) -> list:
    """(eval dataset, labels) of every source's own val split (empty for a single-source dataset)."""
    return [(eval_dataset(m.splits["val"], spec), m.splits["val"].labels) for m in dataset.members]


def source_accuracies(model, source_vals: list, logs: dict) -> list[float]:
    """The model's accuracy on each source's own val split (``source_vals_of``), in source order; with one
    source, the epoch's ``val_accuracy`` from ``logs`` (its val split is the merged one)."""
    if not source_vals:
        return [float(logs["val_accuracy"])] if "val_accuracy" in logs else []
    return [float(np.mean(model.predict(ds, verbose=0).argmax(axis=1) == labels)) for ds, labels in source_vals]


class _RunCallback(keras.callbacks.Callback):
    """Schedules the LR, keeps the best model, stops early and checkpoints every completed epoch."""

    def __init__(self, cfg: TrainConfig, state: TrainState, run_dir: Path, manager, spec: ModelSpec, stop: StopRequest,
                 source_vals: list | None = None):
        super().__init__()
        self.cfg, self.state, self.run_dir, self.manager, self.spec, self.stop = cfg, state, run_dir, manager, spec, stop
        self.source_vals = source_vals or []  # (eval dataset, labels) of every source's own val split
        self._start = 0.0

    def _set_lr(self, lr: float) -> None:
        self.model.optimizer.learning_rate.assign(lr)
        self.state.lr = float(lr)

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.monotonic()
        if self.cfg.schedule == "cosine":
            c = self.cfg
            self._set_lr(c.min_lr + 0.5 * (c.lr - c.min_lr) * (1 + math.cos(math.pi * epoch / c.epochs)))

    def on_train_batch_end(self, batch, logs=None):
        if self.stop.signal:
            raise TrainingInterrupted(self.stop.signal)

    def _improved(self, value: float) -> bool:
        if self.state.best is None:
            return True
        return value < self.state.best if self.cfg.monitor == "val_loss" else value > self.state.best

    def on_epoch_end(self, epoch, logs=None):
        logs, st, cfg = dict(logs or {}), self.state, self.cfg
        per_source = source_accuracies(self.model, self.source_vals, logs)
        if per_source:
            logs["val_source_accuracy"] = float(np.mean(per_source))
        seconds = time.monotonic() - self._start
        row = {"epoch": epoch + 1, **{k: float(logs[k]) for k in HISTORY_COLUMNS[1:5] if k in logs},
               "lr": st.lr, "seconds": round(seconds, 2)}
        if self.source_vals:
            row["val_source_accuracy"] = round(logs["val_source_accuracy"], 6)
            row["val_accuracy_per_source"] = " ".join(f"{a:.4f}" for a in per_source)
            log.info("epoch %d: val accuracy per source %s (mean %.4f)", epoch + 1, row["val_accuracy_per_source"],
                     logs["val_source_accuracy"])
        value = float(logs[cfg.monitor])
        st.epoch, st.seconds = epoch + 1, st.seconds + seconds
        st.history.append(row)
        if self._improved(value):
            st.best, st.best_epoch, st.wait, st.plateau_wait = value, epoch + 1, 0, 0
            improved = True
        else:
            st.wait, st.plateau_wait = st.wait + 1, st.plateau_wait + 1
            improved = False
        if cfg.schedule == "plateau" and st.plateau_wait >= cfg.plateau_patience and st.lr > cfg.min_lr:
            self._set_lr(max(st.lr * 0.5, cfg.min_lr))
            st.plateau_wait = 0
            log.info("%s has not improved for %d epochs: learning rate -> %.2g", cfg.monitor, cfg.plateau_patience, st.lr)
        if cfg.early_stopping_patience and st.wait >= cfg.early_stopping_patience:
            st.finished, st.stop_reason = True, f"early stopping: no {cfg.monitor} gain for {st.wait} epochs"
            self.model.stop_training = True
        elif st.epoch >= cfg.epochs:
            st.finished, st.stop_reason = True, f"reached {cfg.epochs} epochs"
        st.checkpoint = Path(self.manager.save(checkpoint_number=st.epoch)).name
        if improved:
            with atomic.atomic_path(_best_path(self.run_dir, st.epoch)) as tmp:
                self.model.save(tmp)
        st.save(self.run_dir)  # the commit point
        if improved:
            promote_best(self.run_dir, st)


def _best_path(run_dir: Path, epoch: int) -> Path:
    return run_dir / layout.CHECKPOINTS / f"best-{epoch}.keras"


def promote_best(run_dir: Path, state: TrainState) -> None:
    """Move the committed best epoch's model onto model.keras; drop models of epochs never committed.

    Called after each commit and on resume, so a kill at any point leaves model.keras equal to the
    best epoch that state.json records.
    """
    for path in (run_dir / layout.CHECKPOINTS).glob("best-*.keras"):
        if path == _best_path(run_dir, state.best_epoch):
            os.replace(path, run_dir / layout.FLOAT_MODEL)
        else:
            path.unlink()


def compile_model(model, cfg: TrainConfig, lr: float, jit_compile: bool = False, optimizer=None) -> None:
    """Adam + categorical cross-entropy (plus the distillation term with a teacher, train.distill).
    XLA (``jit_compile``) is off: on CPU it trained slower (benchmarks/train_throughput.py) and has
    no deterministic MaxPool gradient. ``optimizer``: keep this one (and its state) when recompiling."""
    optimizer = optimizer or keras.optimizers.Adam(learning_rate=lr)
    if cfg.teacher:
        from train.distill import DistillationLoss, LabelAccuracy

        k = model.output_shape[-1]
        model.compile(optimizer=optimizer, jit_compile=jit_compile, metrics=[LabelAccuracy(k)],
                      loss=DistillationLoss(k, cfg.distill_temperature, cfg.distill_weight, cfg.label_smoothing))
        return
    model.compile(optimizer=optimizer,
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
                  metrics=["accuracy"], jit_compile=jit_compile)


def head_start(model) -> int:
    """Index of the first classifier-head layer: the last global pooling / flatten layer."""
    pools = (keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D, keras.layers.Flatten)
    idx = [i for i, layer in enumerate(model.layers) if isinstance(layer, pools)]
    if not idx:
        raise UserError("--freeze-epochs: the model has no global pooling or flatten layer to tell its "
                        "convolutional part from its classifier head")
    return idx[-1]


def set_conv_trainable(model, trainable: bool) -> int:
    """Freeze (or unfreeze) every layer before the classifier head; returns the layers changed.
    Frozen BatchNormalization layers also run in inference mode (their statistics stay as loaded)."""
    layers = [layer for layer in model.layers[:head_start(model)] if layer.weights]
    for layer in layers:
        layer.trainable = trainable
    return len(layers)


@dataclass(frozen=True)
class Task:
    """What ``fit`` trains for: how the model is compiled, the training and validation data it sees, and the
    per-source validation sets (empty for none). The expression classifier is ``CLASSIFY``; the face locator
    has its own (``train.locator.session``)."""

    compile: Callable  # (model, cfg, lr, optimizer=None)
    train_data: Callable  # (split, spec, cfg, start_epoch=, teacher_log_probs=) -> tf.data.Dataset
    val_data: Callable  # (split, spec) -> tf.data.Dataset
    source_vals: Callable  # (dataset, spec) -> list


CLASSIFY = Task(compile_model, training_dataset, eval_dataset, source_vals_of)


@dataclass
class FitResult:
    state: TrainState
    interrupted: str | None  # the signal name when training was stopped by one
    trained: int = 0  # epochs completed in this session


def fit(model, dataset, spec: ModelSpec, cfg: TrainConfig, run_dir: Path, strategy,
        teacher_log_probs=None, task: Task = CLASSIFY) -> FitResult:
    """Train ``model`` (built in ``strategy.scope()``) in ``run_dir``, resuming from its state if any.

    ``teacher_log_probs``: (N, classes) soft targets of the train split for distillation. With
    ``cfg.freeze_epochs`` the first epochs train the classifier head only; the optimizer is built
    over every weight up front, so its state carries over when the convolutions are unfrozen.
    """
    train_split, val_split = dataset.splits["train"], dataset.splits["val"]
    state = TrainState.load(run_dir, cfg)
    if state.finished and state.epoch < cfg.epochs and state.stop_reason.startswith("reached"):
        state.finished, state.stop_reason = False, ""  # resumed with more epochs
    elif not state.finished and state.epoch >= cfg.epochs > 0:  # resumed with fewer epochs than were done
        state.finished, state.stop_reason = True, f"reached {state.epoch} epochs"
    freeze = state.epoch < cfg.freeze_epochs
    with strategy.scope():
        task.compile(model, cfg, state.lr)
        model.optimizer.build(model.trainable_variables)
        if freeze:
            n = set_conv_trainable(model, False)
            task.compile(model, cfg, state.lr, optimizer=model.optimizer)
            log.info("convolutional part frozen (%d layers) for the first %d epochs", n, cfg.freeze_epochs)
        ckpt = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    manager = tf.train.CheckpointManager(ckpt, str(run_dir / layout.CHECKPOINTS), max_to_keep=2)
    spec.save(spec_path_for(run_dir / layout.FLOAT_MODEL))  # beside the model before the model exists
    promote_best(run_dir, state)
    if state.checkpoint:
        ckpt.restore(str(run_dir / layout.CHECKPOINTS / state.checkpoint)).assert_existing_objects_matched()
        model.optimizer.learning_rate.assign(state.lr)
        log.info("resuming %s after epoch %d/%d (best %s %.4f at epoch %d)", run_dir, state.epoch, cfg.epochs,
                 cfg.monitor, state.best or 0.0, state.best_epoch)
    if state.finished:
        log.info("%s: training already finished (%s)", run_dir, state.stop_reason)
        return FitResult(state, None)
    val_ds = task.val_data(val_split, spec)
    verbose = 1 if sys.stderr.isatty() and sys.stdout.isatty() else 2
    first = state.epoch
    # (last epoch, whether the convolutions train) per phase: the frozen head-only epochs, then the rest
    phases = ([(cfg.freeze_epochs, False)] if freeze else []) + [(cfg.epochs, True)]
    with stop_on_signals(then="stopping after the current batch (Ctrl-C again aborts at once)",
                         abort_on=(signal.SIGINT,)) as stop:
        source_vals = task.source_vals(dataset, spec)
        callback = _RunCallback(cfg, state, run_dir, manager, spec, stop, source_vals)
        for last, conv_trains in phases:
            if state.finished or stop.signal:
                break
            if conv_trains and freeze:
                with strategy.scope():
                    set_conv_trainable(model, True)
                    task.compile(model, cfg, state.lr, optimizer=model.optimizer)
                log.info("epoch %d: convolutional part unfrozen", state.epoch + 1)
            train_ds = task.train_data(train_split, spec, cfg, start_epoch=state.epoch,
                                       teacher_log_probs=teacher_log_probs)
            try:
                model.fit(train_ds, epochs=min(last, cfg.epochs), initial_epoch=state.epoch,
                          steps_per_epoch=steps_per_epoch(len(train_split), cfg.batch_size),
                          validation_data=val_ds, callbacks=[callback], verbose=verbose)
            except TrainingInterrupted as e:
                return FitResult(state, str(e), state.epoch - first)
    return FitResult(state, None if state.finished else stop.signal, state.epoch - first)
