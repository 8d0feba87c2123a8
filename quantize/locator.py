"""``fer-edge quantize RUN_DIR`` for a face locator run: full int8 by post-training quantization, gated on boxes.

The float model is converted with the converter the expression models use (int8 builtins, int8 input and
output), calibrated on ``rep_samples`` training frames. Quantization-aware training is not offered for the
locator: its PTQ boxes agree with the float model's (the gate says by how much).

**The gate** compares boxes, not classes: on the run's validation frames, the int8 model's decoded boxes
(``edge.locator``, the integer path the device runs) against the float model's boxes decoded by the same
integer path (its outputs quantized with the int8 model's output scale and zero point): **recall** (the share
of the float model's faces at 15-70% of the frame height that an int8 box matches at IoU >= 0.5) and
**precision** (the share of int8 boxes matching a float box at IoU >= 0.5) must both be at least
``min_agreement`` percent. The report also gives both models' recall and precision against YuNet's labels.
Files are staged and moved into the run only when everything is written, like the expression models'.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edge.core import atomic
from edge.core.errors import UserError
from edge.core.locator_spec import LocatorSpec
from edge.core.spec import spec_path_for
from edge.locator_eval import Counts
from quantize import files
from quantize.config import QuantizeConfig

log = logging.getLogger(__name__)
REPORT_FORMAT = "fer-edge-locator-quant-report/1"
ARTIFACTS = (files.INT8_MODEL, spec_path_for(files.INT8_MODEL).name, files.QUANTIZE_CONFIG, files.QUANT_REPORT,
             files.QUANT_REPORT_MD)


@dataclass(frozen=True)
class LocatorGate:
    passed: bool
    recall: float
    precision: float
    min_agreement: float

    @property
    def message(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return (f"box gate {verdict}: int8 boxes against the float model's at IoU >= 0.5: recall "
                f"{100 * self.recall:.2f}%, precision {100 * self.precision:.2f}% (each must be >= "
                f"--min-agreement {self.min_agreement:g}%)")

    def to_dict(self) -> dict:
        return {"passed": self.passed, "recall": self.recall, "precision": self.precision,
                "min_agreement": self.min_agreement, "against": "the float model's boxes", "message": self.message}


def box_gate(agreement: Counts, min_agreement: float) -> LocatorGate:
    recall = agreement.recall if agreement.faces_in_band else 1.0
    precision = agreement.precision if agreement.boxes else 1.0
    passed = 100 * recall >= min_agreement and 100 * precision >= min_agreement
    return LocatorGate(passed, float(recall), float(precision), min_agreement)


@dataclass(frozen=True)
class LocatorQuantizeResult:
    run_dir: Path
    report: dict
    gate: LocatorGate

    @property
    def passed(self) -> bool:
        return self.gate.passed


def int8_outputs(path: Path, images: np.ndarray, spec: LocatorSpec) -> np.ndarray:
    """Raw int8 outputs of the .tflite for uint8 (N, H, W) locator inputs (LiteRT's builtin kernels)."""
    from edge.locator import input_table, quantize_input
    from edge.runtime import TFLiteClassifier

    runner, table = TFLiteClassifier(path, None, delegates=False), input_table(spec)
    return np.stack([runner.invoke_raw(quantize_input(im, table))[0] for im in images])


def quantize_locator_run(run_dir: str | Path, cfg: QuantizeConfig, *, force: bool = False) -> LocatorQuantizeResult:
    import tf_keras as keras

    from edge.locator import quantize_output
    from quantize.convert import convert_int8
    from quantize.gate import verify_full_integer
    from quantize.pipeline import _commit
    from train.config import TrainConfig
    from train.locator.session import evaluate_outputs, frame_inputs, load_data

    run_dir = Path(run_dir)
    if cfg.method == "qat":
        raise UserError(f"{run_dir}: a face locator is quantized after training (--method ptq or auto); "
                        "quantization-aware training is offered for the expression models only")
    existing = [n for n in ARTIFACTS if (run_dir / n).exists()]
    if existing and not force:
        raise UserError(f"{run_dir}: already quantized ({existing[0]} exists); pass --force to replace it")
    train_cfg = TrainConfig.load(run_dir)
    model_path = run_dir / files.FLOAT_MODEL
    spec = LocatorSpec.load(spec_path_for(model_path))
    float_model = keras.models.load_model(model_path, compile=False)
    dataset, folder = load_data(train_cfg, spec)
    train, val = dataset.splits["train"], dataset.splits["val"]
    rng = np.random.default_rng(cfg.seed)
    rep = frame_inputs(train.images[np.sort(rng.permutation(len(train))[:cfg.rep_samples])])
    stage = Path(tempfile.mkdtemp(prefix=".quantize.", suffix=".tmp", dir=run_dir))
    seconds = {}
    try:
        t = time.monotonic()
        data = convert_int8(float_model, rep, what=f"{model_path} (PTQ)")
        seconds["ptq"] = time.monotonic() - t
        path = stage / files.INT8_MODEL
        path.write_bytes(data)
        verify_full_integer(path, what=f"{files.INT8_MODEL} (PTQ of {model_path})")
        from edge.runtime import TFLiteClassifier

        runner = TFLiteClassifier(path, None)
        int8_spec = replace(spec.with_quant(runner.input_quant, runner.output_quant),
                            meta={**spec.meta, "quantization": "ptq", "float_model": model_path.name})
        int8_spec.save(spec_path_for(path))
        t = time.monotonic()
        q_int8 = int8_outputs(path, val.images, int8_spec)
        q_float = quantize_output(float_model.predict(frame_inputs(val.images), batch_size=256, verbose=0), int8_spec)
        seconds["evaluate"] = time.monotonic() - t
        counts = {"int8": evaluate_outputs(q_int8, val.frames, int8_spec),
                  "float": evaluate_outputs(q_float, val.frames, int8_spec)}
        agreement = _agreement(q_int8, q_float, val.frames, int8_spec)
        gate = box_gate(agreement, cfg.min_agreement)
        report = {"format": REPORT_FORMAT, "status": "passed" if gate.passed else "failed", "run_dir": str(run_dir),
                  "eval_split": "val", "eval_frames": len(val), "frames": str(folder), "chosen": "ptq",
                  "int8_model": files.INT8_MODEL, "bytes": len(data), "gate": gate.to_dict(),
                  "agreement": agreement.to_dict(), "against_yunet": {k: c.to_dict() for k, c in counts.items()},
                  "input_quant": int8_spec.to_dict()["input_quant"], "output_quant": int8_spec.to_dict()["output_quant"],
                  "config": cfg.to_dict(), "seconds": {k: round(v, 2) for k, v in seconds.items()}}
        atomic.write_json(stage / files.QUANTIZE_CONFIG, cfg.to_dict())
        atomic.write_json(stage / files.QUANT_REPORT, report)
        atomic.write_text(stage / files.QUANT_REPORT_MD, to_markdown(report))
        _commit(stage, run_dir, force)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return LocatorQuantizeResult(run_dir, report, gate)


def _agreement(q_int8: np.ndarray, q_float: np.ndarray, frames, spec: LocatorSpec) -> Counts:
    from edge.locator import DecodeParams, decode

    params, counts = DecodeParams.from_spec(spec), Counts()
    for a, b, f in zip(q_int8, q_float, frames):
        counts.add(decode(a, params, *f.size).boxes, decode(b, params, *f.size).boxes, f.size[1])
    return counts


def to_markdown(report: dict) -> str:
    y = report["against_yunet"]
    rows = [f"| {name} | {100 * c['recall']:.2f}% | {100 * c['precision']:.2f}% | {100 * c['invented']:.2f}% | {c['boxes']} |"
            for name, c in (("float (Keras)", y["float"]), ("int8 (PTQ)", y["int8"]))]
    return "\n".join([
        f"# Face locator quantization: {report['status']}", "",
        f"{report['gate']['message']}", "",
        f"On {report['eval_frames']} validation frames, against YuNet's faces (recall: faces at 15-70% of the frame "
        "height found at IoU >= 0.5; precision: boxes matching any YuNet face; invented: boxes touching none):", "",
        "| model | recall | precision | invented | boxes |", "|---|---:|---:|---:|---:|", *rows, "",
        f"int8 model: {report['int8_model']} ({report['bytes']:,} bytes), input quantization {report['input_quant']}, "
        f"output quantization {report['output_quant']}.", ""])
