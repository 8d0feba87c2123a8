"""Honest evaluation: one code path from a model file (.keras or .tflite) and a split to metrics.

``predict_fn_for`` turns a model file into ``probs = f(float32 (N,48,48,1))``: tf_keras for
``.keras`` (loaded with ``safe_mode``), ``edge.runtime.TFLiteClassifier`` for every ``.tflite``
(float or int8, the same interpreter the device runs). The scoring itself (``metrics_from_predictions``,
``predict_split``, ``format_report``) is ``edge.evaluate``'s, NumPy only, re-exported here. The quantize
stage compares float, PTQ and QAT models through exactly these functions.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from edge.core.errors import UserError
from edge.core.spec import ModelSpec
from edge.evaluate import (  # noqa: F401  (re-exported: train, quantize and model_card score through these)
    NATURAL_PRIOR,
    PredictFn,
    format_report,
    metrics_from_predictions,
    natural_prior_accuracy,
    predict_split,
)

log = logging.getLogger(__name__)


def _keras_predict_fn(path: Path, spec: ModelSpec) -> PredictFn:
    try:
        import tf_keras as keras
    except ModuleNotFoundError:  # an edge-only install (a Pi) scores .tflite models; .keras needs the train extra
        raise UserError(f"{path}: a .keras model needs TensorFlow, which is not installed here: "
                        "pip install 'fer-edge[train]', or evaluate its int8 .tflite", exit_code=3) from None

    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # Keras raises many types for a bad file; one clear message for all of them
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"{path}: not a loadable .keras model ({first})") from None
    in_shape, out_shape = tuple(model.input_shape[1:]), model.output_shape[-1]
    if in_shape != spec.input_shape or out_shape != spec.num_classes:
        raise UserError(f"{path}: model maps {in_shape} -> {out_shape} classes, but its spec says "
                        f"{spec.input_shape} -> {spec.num_classes} ({', '.join(spec.labels)})")
    return lambda x: np.asarray(model.predict(x, batch_size=256, verbose=0), dtype=np.float32)


def predict_fn_for(model_path: str | Path, spec: ModelSpec, num_threads: int | None = None) -> PredictFn:
    """A function from float32 (N, H, W, 1) model inputs to (N, classes) probabilities.

    ``num_threads`` applies to .tflite models (TensorFlow's own thread pools serve .keras).
    """
    path = Path(model_path)
    if not path.is_file():
        raise UserError(f"{path}: model file not found")
    if path.suffix == ".keras":
        return _keras_predict_fn(path, spec)
    if path.suffix == ".tflite":
        from edge.runtime import TFLiteClassifier

        return TFLiteClassifier(path, spec, num_threads=num_threads).predict
    raise UserError(f"{path}: unknown model type (expected a .keras or .tflite file)")


def evaluate_predictions_on(predict: PredictFn, split, spec: ModelSpec) -> dict:
    """Metrics of a predict function on a dataset split (train.datasets.base.Split)."""
    return metrics_from_predictions(split.labels, predict_split(predict, split.images, spec), spec.labels)


def evaluate_model(model_path: str | Path, split, spec: ModelSpec, num_threads: int | None = None) -> dict:
    """Metrics of a model file on a dataset split (train.datasets.base.Split)."""
    return evaluate_predictions_on(predict_fn_for(model_path, spec, num_threads), split, spec)
