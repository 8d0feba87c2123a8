"""``fer-edge train --preset locator``: the face locator's run, through the same run directory, fit loop and
resume as the expression models (``train.fit``), with its own data, loss and final evaluation.

The --data sources are the material of the generated frames (``train.datasets.locator_frames``); YuNet labels
them (found as ``fer-edge run`` finds it: --detector-model is not a train option, so $FER_EDGE_DETECTOR_MODEL or
the fetch-models cache) and the frames and labels are cached (``train.datasets.locator_store``), so a resumed
run only reads them back. The spec beside model.keras is a ``LocatorSpec``; metrics.json holds the float
model's recall and precision on the validation frames (``edge.locator_eval``).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras as keras

from edge.core import atomic
from edge.core.errors import UserError
from edge.core.locator_spec import LocatorSpec
from edge.core.spec import spec_path_for
from train import run_artifacts as rundir
from train.budget import check_fits, model_budget
from train.config import TrainConfig
from train.distribute import deterministic, make_strategy
from train.fit import Task, fit
from train.locator.data import LocatorDataset, load_split
from train.locator.loss import LocatorLoss
from train.locator.model import build_locator
from train.locator.targets import REG

log = logging.getLogger(__name__)
EVAL_BATCH = 256


def frames_config(cfg: TrainConfig):
    from train.datasets.locator_frames import FramesConfig

    base = FramesConfig()
    return FramesConfig(frames=cfg.frames or base.frames, val_frames=cfg.val_frames or base.val_frames, seed=cfg.seed)


def labeler():
    """YuNet, found as the live loop finds it, as the frames' labeller (and its identity for the cache key)."""
    from edge.detector_model import ENV_MODEL, find_detector_model
    from train.datasets.locator_store import yunet_labeler

    path, where = find_detector_model(None)
    if path is None:
        raise UserError(f"the locator learns from YuNet's boxes, and no YuNet model was found ({where}): run "
                        f"'fer-edge fetch-models' or set {ENV_MODEL}")
    return yunet_labeler(path)


def frames_folder(cfg: TrainConfig) -> Path:
    from train.datasets.locator_store import generated_frames

    label, label_id = labeler()
    return generated_frames(cfg.sources, frames_config(cfg), label, label_id)


def source_names(cfg: TrainConfig) -> str:
    """The sources by name, a split folder with its dataset's (``fer2013/train``): never the trainer's paths."""
    names = [rundir.source_name(s) for s in cfg.sources]
    return " + ".join(f"{Path(str(s).rstrip('/')).parent.name}/{n}" if n in ("train", "val", "test") and s else n
                      for s, n in zip(cfg.sources, names))


def spec_for(cfg: TrainConfig, run_dir: Path | None = None) -> LocatorSpec:
    o = cfg.preset_options
    meta = {"run": run_dir.name if run_dir else None, "data": source_names(cfg),
            "preset_options": dict(o), "train_config": rundir.TRAIN_CONFIG, "teacher": "YuNet (face_detection_yunet_2023mar)"}
    default = LocatorSpec()
    return LocatorSpec(input_width=o.get("input_width", default.input_width),
                       input_height=o.get("input_height", default.input_height), preset="locator",
                       meta=meta)


def load_data(cfg: TrainConfig, spec: LocatorSpec) -> tuple[LocatorDataset, Path]:
    folder = frames_folder(cfg)
    splits = {s: load_split(folder / s, spec.input_width, spec.input_height, spec.stride, cfg.seed)
              for s in ("train", "val")}
    return LocatorDataset(source_names(cfg), splits), folder


def _compile(model, cfg, lr, optimizer=None):
    model.compile(optimizer=optimizer or keras.optimizers.Adam(learning_rate=lr), loss=LocatorLoss())


def frame_inputs(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) locator inputs -> the float model's (N, H, W, 1) pixel / 255."""
    return images[..., None].astype(np.float32) / np.float32(255.0)


def _train_data(split, spec, cfg, start_epoch=0, teacher_log_probs=None):
    """Every epoch the frames in a seeded order (the same after a resume), batches of float inputs and targets."""
    x, y, n = tf.constant(split.images[..., None]), tf.constant(split.targets), len(split)

    def epoch_batches(epoch):
        seed = tf.stack([tf.constant(cfg.seed, tf.int64), epoch])
        order = tf.argsort(tf.random.stateless_uniform([n], seed))
        return tf.data.Dataset.from_tensor_slices(order).batch(cfg.batch_size).enumerate().map(
            lambda step, idx: _mirror(tf.cast(tf.gather(x, idx), tf.float32) / 255.0, tf.gather(y, idx),
                                      tf.stack([seed[0], seed[1] * 100_003 + step])))

    return tf.data.Dataset.range(start_epoch, cfg.epochs).flat_map(epoch_batches).prefetch(tf.data.AUTOTUNE)


def _mirror(images, targets, seed):
    """Half the frames of a batch mirrored (seeded), their targets with them: the grid flips left to right and
    the centre's offset inside its cell x becomes 1 - x."""
    flip = tf.random.stateless_uniform([tf.shape(images)[0]], seed) < 0.5
    images = tf.where(flip[:, None, None, None], images[:, :, ::-1], images)
    mirrored = targets[:, :, ::-1]
    offset_x = tf.where(mirrored[..., REG] > 0, tf.minimum(1.0 - mirrored[..., 3], 0.999), mirrored[..., 3])
    mirrored = tf.concat([mirrored[..., :3], offset_x[..., None], mirrored[..., 4:]], axis=-1)
    return images, tf.where(flip[:, None, None, None], mirrored, targets)


def _val_data(split, spec):
    return tf.data.Dataset.from_tensor_slices((frame_inputs(split.images), split.targets)).batch(EVAL_BATCH).cache()


LOCATE = Task(_compile, _train_data, _val_data, lambda dataset, spec: [])


def float_output_quant(values: np.ndarray):
    """The int8 quantization a converter would give these float outputs (their range, with 0 in it)."""
    from edge.core.spec import Quant

    lo, hi = min(float(values.min()), 0.0), max(float(values.max()), 0.0)
    scale = (hi - lo) / 255.0 or 1.0
    return Quant(scale, int(round(-128 - lo / scale)))


def evaluate_outputs(raw: np.ndarray, frames, spec: LocatorSpec):
    """Counts of int8 outputs (N, rows, cols, 5) decoded into each frame against its labels."""
    from edge.locator import DecodeParams, decode
    from edge.locator_eval import Counts

    params, counts = DecodeParams.from_spec(spec), Counts()
    for out, f in zip(raw, frames):
        counts.add(decode(out, params, *f.size).boxes, f.faces, f.size[1])
    return counts


#: score thresholds tried on the validation frames when a run finishes (the best F1 is kept in the spec)
THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)


def evaluate_float(model, split, spec: LocatorSpec):
    """(the float model's counts at the spec's threshold, F1 per threshold of ``THRESHOLDS``)."""
    from dataclasses import replace

    from edge.locator import quantize_output

    values = model.predict(frame_inputs(split.images), batch_size=EVAL_BATCH, verbose=0)
    spec = spec.with_quant(None, float_output_quant(values))
    q = quantize_output(values, spec)
    f1 = {}
    for t in THRESHOLDS:
        c = evaluate_outputs(q, split.frames, replace(spec, score_threshold=t))
        p, r = (c.precision if c.boxes else 0.0), (c.recall if c.faces_in_band else 0.0)
        f1[t] = 2 * p * r / (p + r) if p + r else 0.0
    return evaluate_outputs(q, split.frames, spec), f1


def start_run(cfg: TrainConfig, *, runs_dir="runs", name=None, force=False, max_flash=None, max_ram=None):
    with deterministic(cfg.seed):
        strategy, model, budget = _build(cfg, max_flash, max_ram)
        spec = spec_for(cfg)
        dataset, folder = load_data(cfg, spec)
        runs_dir = Path(runs_dir)
        name = name or rundir.default_run_name(cfg, runs_dir)
        run_dir = rundir.create_run_dir(runs_dir, name, force=force)
        try:
            cfg.save(run_dir)
            return _train(cfg, run_dir, strategy, model, budget, dataset, folder)
        except BaseException:
            from train.training_run import _clean_failed

            _clean_failed(run_dir)
            raise


def resume_run(run_dir: Path, cfg: TrainConfig, *, max_flash=None, max_ram=None):
    with deterministic(cfg.seed):
        strategy, model, budget = _build(cfg, max_flash, max_ram)
        dataset, folder = load_data(cfg, spec_for(cfg, run_dir))
        return _train(cfg, run_dir, strategy, model, budget, dataset, folder)


def _build(cfg: TrainConfig, max_flash, max_ram):
    strategy = make_strategy(cfg.strategy)
    with strategy.scope():
        model = build_locator(**cfg.preset_options)
    budget = model_budget(model)
    for name, value in budget.rows():
        log.info("locator %s: %s", name, value)
    check_fits(budget, "preset locator", max_flash, max_ram)
    return strategy, model, budget


def _train(cfg, run_dir: Path, strategy, model, budget, dataset: LocatorDataset, folder: Path):
    from train.training_run import RunResult

    start = time.monotonic()
    spec = spec_for(cfg, run_dir)
    data = {"source": dataset.source, "format": dataset.name, "sizes": {k: len(v) for k, v in dataset.splits.items()},
            "frames": str(folder)}
    atomic.write_json(run_dir / rundir.DATA, data)
    result = fit(model, dataset, spec, cfg, run_dir, strategy, task=LOCATE)
    metrics, path = None, run_dir / rundir.METRICS
    if result.state.finished and not result.trained and path.is_file():
        metrics = json.loads(path.read_text(encoding="utf-8"))
    elif result.state.finished:
        metrics = finalize(run_dir, dataset, result, budget, data)
    return RunResult(run_dir, cfg, budget, result, strategy.num_replicas_in_sync, data, metrics,
                     time.monotonic() - start)


def finalize(run_dir: Path, dataset: LocatorDataset, result, budget, data: dict) -> dict:
    from dataclasses import replace

    from train.plots import plot_curves

    model = keras.models.load_model(run_dir / rundir.FLOAT_MODEL, compile=False)
    spec_path = spec_path_for(run_dir / rundir.FLOAT_MODEL)
    spec = LocatorSpec.load(spec_path)
    _, f1 = evaluate_float(model, dataset.splits["val"], spec)
    best = max(f1, key=lambda t: (round(f1[t], 6), -abs(t - 0.5)))  # the decoding threshold: best F1 on val
    spec = replace(spec, score_threshold=best)
    spec.save(spec_path)
    counts, _ = evaluate_float(model, dataset.splits["val"], spec)
    log.info("score threshold %.2f: the best F1 on the val frames (%s)", best,
             ", ".join(f"{t:g}: {v:.3f}" for t, v in f1.items()))
    state = result.state
    metrics = {"model": rundir.FLOAT_MODEL, "best_epoch": state.best_epoch, "epochs_completed": state.epoch,
               "stop_reason": state.stop_reason, "train_seconds": round(state.seconds, 1), "data": data,
               "budget": budget.to_dict(), "locator": {"val": counts.to_dict(), "summary": counts.summary(),
                                                       "score_threshold": best, "f1_by_threshold": f1}}
    plot_curves(state.history, run_dir / rundir.CURVES, state.best_epoch)
    atomic.write_json(run_dir / rundir.METRICS, metrics)
    log.info("float locator on the val frames: %s", counts.summary())
    return metrics
