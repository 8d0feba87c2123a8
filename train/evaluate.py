"""Honest evaluation: one code path from a model file (.keras or .tflite) and a split to metrics.

``predict_fn_for`` turns a model file into ``probs = f(float32 (N,48,48,1))``: tf_keras for
``.keras`` (loaded with ``safe_mode``), ``edge.runtime.TFLiteClassifier`` for every ``.tflite``
(float or int8, the same interpreter the device runs). ``metrics_from_predictions`` scores
probabilities with scikit-learn. The quantize stage compares float, PTQ and QAT models through
exactly these functions.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from edge.errors import UserError
from edge.preprocess import normalize
from edge.spec import ModelSpec

log = logging.getLogger(__name__)

PredictFn = Callable[[np.ndarray], np.ndarray]
CHUNK = 1024
#: Class frequencies of the full ExpW (91,793 faces): what a camera pointed at people in everyday photos
#: sees far more often than FER2013's or a balanced set's mix. ``natural_prior_accuracy`` weights each
#: class's recall by them: the accuracy expected on faces met in real use.
NATURAL_PRIOR = {"angry": 0.04, "disgust": 0.04, "fear": 0.01, "happy": 0.33, "sad": 0.12, "surprise": 0.08,
                 "neutral": 0.38}


def natural_prior_accuracy(recall: dict[str, float], support: dict[str, int]) -> float | None:
    """Recall per class weighted by ``NATURAL_PRIOR`` (renormalised over the classes present); None when
    the labels are not the seven classes."""
    present = [name for name in NATURAL_PRIOR if support.get(name)]
    if set(recall) != set(NATURAL_PRIOR) or not present:
        return None
    total = sum(NATURAL_PRIOR[name] for name in present)
    return float(sum(NATURAL_PRIOR[name] * recall[name] for name in present) / total)


def metrics_from_predictions(y_true: np.ndarray, probs: np.ndarray, labels: Sequence[str]) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix (rows: true)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    y_true = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs)
    if probs.ndim != 2 or probs.shape != (len(y_true), len(labels)):
        raise ValueError(f"expected probabilities of shape ({len(y_true)}, {len(labels)}), got {probs.shape}")
    if len(y_true) == 0:
        raise UserError("cannot evaluate on an empty split")
    y_pred = probs.argmax(axis=1)
    ids = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=ids, zero_division=0)
    prior = natural_prior_accuracy(dict(zip(labels, map(float, recall))), dict(zip(labels, map(int, support))))
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        # mean recall over the classes present: accuracy as if every class were equally common
        "balanced_accuracy": float(np.mean([recall[i] for i in ids if support[i]])),
        # over the classes present in the labels or predictions (scikit-learn's default), so a small
        # evaluation set is not marked down for classes it does not contain
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        **({} if prior is None else {"natural_prior_accuracy": prior}),
        "labels": list(labels),
        "per_class": {name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                             "support": int(support[i])} for i, name in enumerate(labels)},
        "confusion": confusion_matrix(y_true, y_pred, labels=ids).tolist(),
    }


def _keras_predict_fn(path: Path, spec: ModelSpec) -> PredictFn:
    import tf_keras as keras

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


def predict_split(predict: PredictFn, images: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """Probabilities for uint8 (N, H, W) prepared faces, normalized chunk by chunk."""
    out = [predict(normalize(images[i:i + CHUNK], spec)) for i in range(0, len(images), CHUNK)]
    return np.concatenate(out) if out else np.zeros((0, spec.num_classes), np.float32)


def evaluate_predictions_on(predict: PredictFn, split, spec: ModelSpec) -> dict:
    """Metrics of a predict function on a dataset split (train.datasets.base.Split)."""
    return metrics_from_predictions(split.labels, predict_split(predict, split.images, spec), spec.labels)


def evaluate_model(model_path: str | Path, split, spec: ModelSpec, num_threads: int | None = None) -> dict:
    """Metrics of a model file on a dataset split (train.datasets.base.Split)."""
    return evaluate_predictions_on(predict_fn_for(model_path, spec, num_threads), split, spec)


def format_report(metrics: dict, title: str = "") -> str:
    """A readable table: headline numbers, per-class precision/recall/F1/support, confusion matrix."""
    labels = metrics["labels"]
    w = max(9, *(len(name) for name in labels))
    lines = [title] if title else []
    balanced = f"   balanced accuracy {metrics['balanced_accuracy']:.4f}" if "balanced_accuracy" in metrics else ""
    if "natural_prior_accuracy" in metrics:
        balanced += f"   natural-prior accuracy {metrics['natural_prior_accuracy']:.4f}"
    lines.append(f"accuracy {metrics['accuracy']:.4f}   macro-F1 {metrics['macro_f1']:.4f}{balanced}   (n={metrics['n']})")
    lines.append("")
    lines.append(f"{'class':<{w}} {'precision':>9} {'recall':>7} {'F1':>7} {'support':>8}")
    for name in labels:
        c = metrics["per_class"][name]
        lines.append(f"{name:<{w}} {c['precision']:>9.3f} {c['recall']:>7.3f} {c['f1']:>7.3f} {c['support']:>8d}")
    lines.append("")
    lines.append("confusion matrix (rows: true class, columns: predicted)")
    cw = max(7, *(len(name) for name in labels))
    lines.append(" " * w + "".join(f" {name[:cw]:>{cw}}" for name in labels))
    for name, row in zip(labels, metrics["confusion"]):
        lines.append(f"{name:<{w}}" + "".join(f" {v:>{cw}d}" for v in row))
    return "\n".join(lines)
