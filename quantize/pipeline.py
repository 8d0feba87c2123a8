"""RUN_DIR -> int8 model(s), evaluated against the float model, gated, written atomically into the run.

Everything is built in a staging folder inside the run dir; only when every model is converted,
checked and evaluated are the files moved into place (the report last). A bad input or a failed
conversion leaves the run dir as it was; a failed gate keeps the artifacts and marks the report.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edge.core import atomic
from edge.core.errors import UserError
from edge.core.lock import folder_locked
from edge.core.spec import ModelSpec, spec_path_for
from edge.runtime import TFLiteClassifier
from quantize import files
from quantize import report as rpt
from quantize.config import QuantizeConfig
from quantize.gate import GateResult, choose, gate, verify_full_integer

log = logging.getLogger(__name__)


def artifact_names() -> list[str]:
    """Every file this stage may write into a run dir (models with their specs, config, reports)."""
    models = [files.INT8_MODEL, *files.CANDIDATE_MODELS.values(), files.FLOAT16_MODEL]
    return [*models, *(spec_path_for(m).name for m in models), files.QAT_MODEL, files.QUANTIZE_CONFIG,
            files.QUANT_REPORT, files.QUANT_REPORT_MD]


@dataclass(frozen=True)
class QuantizeResult:
    run_dir: Path
    report: dict
    gate: GateResult

    @property
    def passed(self) -> bool:
        return self.gate.passed


def quantize_run(run_dir: str | Path, cfg: QuantizeConfig, *, force: bool = False, verbose: int = 1) -> QuantizeResult:
    """Quantize the run in ``run_dir``, holding a lock on the folder throughout: a second quantize of the same run
    is refused at once and never touches the first one's staging folder."""
    from train.run_artifacts import load_run

    run_dir = Path(run_dir)
    train_cfg, spec, model_path = load_run(run_dir)
    with folder_locked(run_dir, f"{run_dir}: another fer-edge quantize is working on this run; wait for it to end "
                                "(or stop it) and try again"):
        return _quantize_locked(run_dir, cfg, train_cfg, spec, model_path, force, verbose)


def _refuse_existing(run_dir: Path, force: bool) -> None:
    existing = [n for n in artifact_names() if (run_dir / n).exists()]
    if existing and not force:
        raise UserError(f"{run_dir}: already quantized ({existing[0]} exists); pass --force to replace it")


def _quantize_locked(run_dir, cfg, train_cfg, spec, model_path, force, verbose) -> QuantizeResult:
    from train.run_artifacts import load_run_dataset

    _refuse_existing(run_dir, force)

    from quantize.float_model import load_float_model
    from quantize.qat import make_qat_model

    float_model = load_float_model(model_path)
    qat_model = make_qat_model(float_model) if cfg.method in ("auto", "qat") else None  # fail before the slow part
    dataset = load_run_dataset(run_dir)
    splits = {}
    for name in ("train", cfg.eval_split):
        if name not in dataset.splits or len(dataset.splits[name]) == 0:
            raise UserError(f"{run_dir}: the run's dataset ({dataset.source}) has no {name!r} split with images "
                            f"(it has: {', '.join(f'{k} {len(v)}' for k, v in dataset.splits.items())})")
        splits[name] = dataset.splits[name]

    from quantize.representative import representative_inputs

    rep = representative_inputs(splits["train"], cfg.rep_samples, spec, seed=cfg.seed,
                                source=f"{run_dir} train split")
    for stale in run_dir.glob(".quantize.*.tmp"):  # left by a quantize that was killed part-way (we hold the lock)
        log.info("removing %s, left by an interrupted quantize", stale)
        shutil.rmtree(stale, ignore_errors=True)
    stage = Path(tempfile.mkdtemp(prefix=".quantize.", suffix=".tmp", dir=run_dir))
    try:
        sources = [m.source for m in dataset.members]  # a run on several sources: each is scored too
        result = _build(run_dir, stage, cfg, train_cfg, spec, model_path, float_model, qat_model,
                        rep, splits, verbose, sources)
        _commit(stage, run_dir, force)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return result


def _build(run_dir, stage, cfg, train_cfg, spec, model_path, float_model, qat_model, rep, splits, verbose,
           sources=()):
    from quantize.convert import convert_float16, convert_int8
    from train.scoring import metrics_from_predictions, predict_fn_for, predict_split

    eval_split = splits[cfg.eval_split]
    seconds: dict[str, float] = {}

    def evaluate(path: Path, model_spec: ModelSpec, key: str):
        t = time.monotonic()
        log.info("evaluating %s on the %s split (%d images)", path.name, cfg.eval_split, len(eval_split))
        probs = predict_split(predict_fn_for(path, model_spec), eval_split.images, model_spec)
        seconds[f"evaluate_{key}"] = time.monotonic() - t
        metrics = metrics_from_predictions(eval_split.labels, probs, model_spec.labels)
        if sources and eval_split.sources is not None:
            metrics["sources"] = [
                {"source": name, **metrics_from_predictions(eval_split.labels[eval_split.sources == i],
                                                            probs[eval_split.sources == i], model_spec.labels)}
                for i, name in enumerate(sources) if np.any(eval_split.sources == i)]
        return probs, metrics

    float_probs, float_metrics = evaluate(model_path, spec, "float")
    models = {"float": rpt.model_entry(model_path.name, model_path.stat().st_size, float_metrics, None)}

    def add_tflite(key: str, name: str, data: bytes, int8: bool) -> ModelSpec:
        path = stage / name
        path.write_bytes(data)
        if int8:
            verify_full_integer(path, what=f"{name} ({key.upper()} of {model_path})")
            clf = TFLiteClassifier(path, spec)
            model_spec = replace(spec.with_quant(clf.input_quant, clf.output_quant),
                                 meta={**spec.meta, "quantization": key, "float_model": model_path.name})
        else:
            model_spec = replace(spec, meta={**spec.meta, "quantization": key, "float_model": model_path.name})
        model_spec.save(spec_path_for(path))
        probs, metrics = evaluate(path, model_spec, key)
        agreement = float(np.mean(probs.argmax(1) == float_probs.argmax(1)))
        models[key] = rpt.model_entry(name, len(data), metrics, agreement)
        return model_spec

    int8_specs = {}
    if cfg.method in ("auto", "ptq"):
        t = time.monotonic()
        data = convert_int8(float_model, rep, what=f"{model_path} (PTQ)")
        seconds["ptq"] = time.monotonic() - t
        int8_specs["ptq"] = add_tflite("ptq", files.CANDIDATE_MODELS["ptq"], data, int8=True)
    if qat_model is not None:
        from quantize.qat import save_qat_model

        t = time.monotonic()
        _fine_tune(qat_model, splits, spec, train_cfg, cfg, verbose)
        save_qat_model(qat_model, stage / files.QAT_MODEL)
        data = convert_int8(qat_model, rep, what=f"{model_path} (QAT)")
        seconds["qat"] = time.monotonic() - t
        int8_specs["qat"] = add_tflite("qat", files.CANDIDATE_MODELS["qat"], data, int8=True)
    if cfg.float16:
        add_tflite("float16", files.FLOAT16_MODEL, convert_float16(float_model, what=str(model_path)), int8=False)

    chosen = choose({k: models[k] for k in int8_specs})
    shutil.copyfile(stage / files.CANDIDATE_MODELS[chosen], stage / files.INT8_MODEL)
    int8_specs[chosen].save(spec_path_for(stage / files.INT8_MODEL))
    per_source = [(f["source"], f["accuracy"], q["accuracy"]) for f, q in
                  zip(models["float"]["metrics"].get("sources", []), models[chosen]["metrics"].get("sources", []))]
    result = gate(models["float"]["accuracy"], models[chosen]["accuracy"], cfg.max_drop, chosen, per_source)
    atomic.write_json(stage / files.QUANTIZE_CONFIG, cfg.to_dict())
    report = rpt.build_report(run_dir=str(run_dir), eval_split=cfg.eval_split, eval_images=len(eval_split),
                              labels=spec.labels, models=models, chosen=chosen, gate=result.to_dict(),
                              int8_spec=int8_specs[chosen].to_dict(), config=cfg.to_dict(), seconds=seconds)
    atomic.write_json(stage / files.QUANT_REPORT, report)
    atomic.write_text(stage / files.QUANT_REPORT_MD, rpt.to_markdown(report))
    return QuantizeResult(run_dir, report, result)


def _fine_tune(qat_model, splits, spec, train_cfg, cfg: QuantizeConfig, verbose: int) -> None:
    """QAT fine-tuning on the train split with the train stage's own pipeline (augmentation, weights)."""
    import tf_keras as keras

    from quantize.qat import fine_tune
    from train.pipeline import eval_dataset, steps_per_epoch, training_dataset

    tune_cfg = replace(train_cfg, epochs=cfg.qat_epochs, batch_size=cfg.qat_batch_size or train_cfg.batch_size,
                       seed=train_cfg.seed + cfg.seed + 1)
    train_ds = training_dataset(splits["train"], spec, tune_cfg)
    val_ds = eval_dataset(splits[cfg.eval_split], spec) if cfg.eval_split != "train" else None
    fine_tune(qat_model, train_ds, epochs=cfg.qat_epochs, lr=cfg.qat_lr,
              steps_per_epoch=steps_per_epoch(len(splits["train"]), tune_cfg.batch_size), val_data=val_ds,
              loss=keras.losses.CategoricalCrossentropy(label_smoothing=train_cfg.label_smoothing), verbose=verbose)


def _commit(stage: Path, run_dir: Path, force: bool) -> None:
    """Move the staged files into the run dir, the report last; with --force drop stale ones first."""
    _refuse_existing(run_dir, force)  # again after the slow part: never replace results without --force
    staged = {p.name for p in stage.iterdir()}
    if force:
        for name in artifact_names():
            if name not in staged:
                with contextlib.suppress(FileNotFoundError):
                    (run_dir / name).unlink()
    last = [files.QUANT_REPORT_MD, files.QUANT_REPORT]
    for name in sorted(staged - set(last)) + [n for n in last if n in staged]:
        os.replace(stage / name, run_dir / name)
