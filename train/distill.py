"""Knowledge distillation: a teacher's soft predictions, computed once per training image, and the loss.

The student learns from ``(1 - a) * CE(labels) + a * T^2 * KL(teacher_T || student_T)`` where ``_T``
is a softmax at temperature T (Hinton et al. 2015). Teacher outputs are taken on the unaugmented
training faces once, stored as log-probabilities in the fer-edge cache folder keyed by the teacher
file's and spec's hashes and the faces' bytes, and fed to the tf.data pipeline beside the labels:
no teacher runs during training. A ``.keras`` teacher gives exact log-softmax logits; a ``.tflite``
teacher (float or int8, through ``edge.runtime``) gives probabilities, whose logarithms are the
logits up to a constant, which the temperature softmax ignores. An int8 probability of 0 is read as
half an output step, so the log stays finite.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras as keras

from edge.core.cache import cache_dir
from edge.core.rundir import resolve_model
from edge.core.spec import ModelSpec, load_spec_for
from train.datasets.cache import load_array, save_array
from train.scoring import metrics_from_predictions, predict_fn_for, predict_split

log = logging.getLogger(__name__)

CACHE_VERSION = 1


def _keras_log_probs(path: Path, spec: ModelSpec):
    model = keras.models.load_model(path, compile=False, safe_mode=True)
    last = model.layers[-1]
    if isinstance(last, keras.layers.Softmax):  # the presets end in Softmax: read the logits before it
        model = keras.Model(model.inputs, last.input)
        return lambda x: tf.nn.log_softmax(model.predict(x, batch_size=256, verbose=0)).numpy()
    return lambda x: np.log(np.clip(model.predict(x, batch_size=256, verbose=0), 1e-7, 1.0))


def _tflite_log_probs(path: Path, spec: ModelSpec):
    predict = predict_fn_for(path, spec)
    floor = spec.output_quant.scale / 2 if spec.output_quant is not None else 1e-7

    def f(x):
        logp = np.log(np.maximum(predict(x), floor))
        return logp - np.log(np.exp(logp).sum(axis=1, keepdims=True))  # renormalised after the floor
    return f


def _digest(*chunks: bytes) -> str:
    h = hashlib.sha256()
    for c in chunks:
        h.update(hashlib.sha256(c).digest())
    return h.hexdigest()


def check_teacher(teacher: str | Path, student: ModelSpec) -> tuple[Path, ModelSpec]:
    """(teacher model file, its spec), after checking it shares the student's input contract."""
    path = resolve_model(teacher, "teacher model", kinds=(".keras", ".tflite"))
    spec = load_spec_for(path)
    spec.check_contract(student, f"{path}: teacher", "the model being trained")
    return path, spec


def teacher_log_probs(teacher: str | Path, images: np.ndarray, student: ModelSpec, use_cache: bool = True) -> np.ndarray:
    """float32 (N, classes) teacher log-probabilities for uint8 (N, H, W) prepared faces, cached."""
    path, spec = check_teacher(teacher, student)
    key = _digest(str(CACHE_VERSION).encode(), path.read_bytes(), spec_bytes(spec), np.ascontiguousarray(images).tobytes(),
                  str(images.shape).encode())
    cached = cache_dir() / f"teacher-{path.stem}-{key[:24]}.npy"
    out = load_array(cached, (len(images), spec.num_classes)) if use_cache else None
    if out is not None:
        log.info("teacher %s: %d soft targets from cache %s", path, len(out), cached)
        return out
    log.info("teacher %s: computing soft targets for %d training faces (once; cached after)", path, len(images))
    fn = _keras_log_probs(path, spec) if path.suffix == ".keras" else _tflite_log_probs(path, spec)
    out = predict_split(fn, images, spec).astype(np.float32)
    if use_cache:
        save_array(cached, out, "the teacher's outputs")
    return out


def spec_bytes(spec: ModelSpec) -> bytes:
    d = spec.to_dict()
    d.pop("meta", None)
    return repr(sorted(d.items())).encode()


def teacher_report(log_probs: np.ndarray, labels: np.ndarray, spec: ModelSpec) -> dict:
    """How well the teacher itself does on the faces it teaches (its training-set accuracy)."""
    return metrics_from_predictions(labels, np.exp(log_probs), spec.labels)


@keras.saving.register_keras_serializable(package="fer_edge")
class DistillationLoss(keras.losses.Loss):
    """``y_true`` = one-hot labels, then (distillation batches only) the teacher's log-probabilities;
    ``y_pred`` = the student's probabilities. Plain (label-smoothed) cross-entropy without a teacher."""

    def __init__(self, num_classes: int, temperature: float = 4.0, weight: float = 0.5, label_smoothing: float = 0.0,
                 name: str = "distillation", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes, self.temperature, self.weight, self.label_smoothing = num_classes, temperature, weight, label_smoothing

    def call(self, y_true, y_pred):
        k = self.num_classes
        onehot = y_true[:, :k]
        if self.label_smoothing:
            onehot = onehot * (1.0 - self.label_smoothing) + self.label_smoothing / k
        log_student = tf.math.log(tf.clip_by_value(y_pred, 1e-7, 1.0))
        ce = -tf.reduce_sum(onehot * log_student, axis=-1)
        if y_true.shape[-1] != 2 * k:  # validation batches carry labels only
            return ce
        t = self.temperature
        soft_teacher = tf.nn.softmax(y_true[:, k:] / t)
        kl = tf.reduce_sum(soft_teacher * (tf.math.log(soft_teacher + 1e-12) - tf.nn.log_softmax(log_student / t)), axis=-1)
        return (1.0 - self.weight) * ce + self.weight * t * t * kl

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "temperature": self.temperature,
                "weight": self.weight, "label_smoothing": self.label_smoothing}


@keras.saving.register_keras_serializable(package="fer_edge")
class LabelAccuracy(keras.metrics.Mean):
    """Accuracy on the one-hot part of the targets (named ``accuracy``, so history columns stay the same)."""

    def __init__(self, num_classes: int, name: str = "accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = num_classes

    def update_state(self, y_true, y_pred, sample_weight=None):
        hits = keras.metrics.categorical_accuracy(y_true[:, :self.num_classes], y_pred)
        return super().update_state(hits, sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}
