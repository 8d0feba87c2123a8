"""The files ``fer-edge quantize`` writes into a run directory, and the int8 naming the published models and
the exports follow (``NAME.keras`` -> ``NAME_int8.tflite``; a run's ``model.keras`` -> ``model_int8.tflite``,
the name edge reads a run's int8 model by)."""

from __future__ import annotations

from pathlib import Path

from edge.core.rundir import FLOAT_MODEL, INT8_MODEL  # noqa: F401 (the run's models, as edge's resolver reads them)

QUANTIZE_CONFIG = "quantize_config.json"
CANDIDATE_MODELS = {"ptq": "model_ptq_int8.tflite", "qat": "model_qat_int8.tflite"}
FLOAT16_MODEL = "model_float16.tflite"
QAT_MODEL = "model_qat.h5"
QUANT_REPORT, QUANT_REPORT_MD = "quant_report.json", "quant_report.md"
INT8_SUFFIX = "_int8"


def int8_name(stem: str) -> str:
    """The int8 model published beside ``stem.keras``."""
    return f"{stem}{INT8_SUFFIX}.tflite"


def float_model_for(model_or_run: str | Path, int8: Path, float_name: str | None = None) -> Path | None:
    """The float ``.keras`` an int8 model was converted from, if it is still there: a run's model.keras, or
    beside a published ``NAME_int8.tflite`` its ``NAME.keras`` (else ``float_name``, as its spec records)."""
    if Path(model_or_run).is_dir():
        candidates = [Path(model_or_run) / FLOAT_MODEL]
    else:
        candidates = [int8.with_name(int8.stem.removesuffix(INT8_SUFFIX) + ".keras")]
        if float_name:
            candidates.append(int8.with_name(Path(float_name).name))
    return next((c for c in candidates if c.is_file()), None)
