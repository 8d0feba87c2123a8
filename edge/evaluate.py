"""Scoring a model on labelled faces with NumPy alone, so a Raspberry Pi (the edge extra: no TensorFlow, no
scikit-learn) can evaluate a .tflite on faces it collected.

``metrics_from_predictions`` turns labels and probabilities into accuracy, balanced accuracy, macro-F1,
per-class precision/recall/F1/support and the confusion matrix, with scikit-learn's definitions (a class
never predicted has precision 0; macro-F1 averages over the classes present in the labels or predictions).
``predict_split`` feeds prepared faces to any ``probs = f(float32 (N,H,W,1))``, such as
``edge.runtime.TFLiteClassifier.predict``; ``train.scoring`` adds .keras models on top.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from edge.core.errors import UserError
from edge.core.preprocess import normalize
from edge.core.spec import ModelSpec

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


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 0 where den is 0 (scikit-learn's zero_division=0)."""
    return np.divide(num, den, out=np.zeros(len(num)), where=den > 0)


def metrics_from_predictions(y_true: np.ndarray, probs: np.ndarray, labels: Sequence[str]) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix (rows: true)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs)
    k = len(labels)
    if probs.ndim != 2 or probs.shape != (len(y_true), k):
        raise ValueError(f"expected probabilities of shape ({len(y_true)}, {k}), got {probs.shape}")
    if len(y_true) == 0:
        raise UserError("cannot evaluate on an empty split")
    if y_true.min() < 0 or y_true.max() >= k:
        raise ValueError(f"labels must be class ids 0..{k - 1}, got {y_true.min()}..{y_true.max()}")
    y_pred = probs.argmax(axis=1)
    confusion = np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)
    tp, support, predicted = np.diag(confusion), confusion.sum(axis=1), confusion.sum(axis=0)
    precision, recall = _ratio(tp, predicted), _ratio(tp, support)
    f1 = _ratio(2 * tp, support + predicted)  # = 2PR / (P + R), 0 when the class is neither true nor predicted
    present = (support + predicted) > 0  # scikit-learn's macro average: the classes in the labels or predictions
    prior = natural_prior_accuracy(dict(zip(labels, map(float, recall))), dict(zip(labels, map(int, support))))
    return {
        "n": int(len(y_true)),
        "accuracy": float(tp.sum() / len(y_true)),
        # mean recall over the classes present: accuracy as if every class were equally common
        "balanced_accuracy": float(recall[support > 0].mean()),
        # over the classes present in the labels or predictions, so a small evaluation set is not marked
        # down for classes it does not contain
        "macro_f1": float(f1[present].mean()),
        **({} if prior is None else {"natural_prior_accuracy": prior}),
        "labels": list(labels),
        "per_class": {name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                             "support": int(support[i])} for i, name in enumerate(labels)},
        "confusion": confusion.tolist(),
    }


def require_gray_input(model: str, spec: ModelSpec) -> None:
    """Evaluation feeds the gray (H, W, 1) faces the datasets prepare: refuse, in one line, a model whose spec asks
    for another input (the RGB app models 'fer-edge export-mobile' writes)."""
    if spec.input_channels != 1:
        h, w, c = spec.input_shape
        raise UserError(f"{model}: its spec asks for a {h}x{w} input with {c} channels, but evaluation feeds gray "
                        "faces (1 channel; an app model from 'fer-edge export-mobile' takes RGB): evaluate the int8 "
                        "model it was exported from instead")


def predict_split(predict: PredictFn, images: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """Probabilities for uint8 (N, H, W) prepared faces, normalized chunk by chunk."""
    out = [predict(normalize(images[i:i + CHUNK], spec)) for i in range(0, len(images), CHUNK)]
    return np.concatenate(out) if out else np.zeros((0, spec.num_classes), np.float32)


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
