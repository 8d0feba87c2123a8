"""Quantization-aware fine-tuning with tensorflow-model-optimization (tfmot) on tf_keras models.

The QAT model is saved as HDF5 (``model_qat.h5``): tfmot 0.8's quantize layers do not reload from
the native ``.keras`` format (their variables are created twice on load; tensorflow/model-optimization
PR #1123), while HDF5 round-trips exactly inside ``quantize_scope``.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import tensorflow_model_optimization as tfmot
import tf_keras as keras

from edge.core import atomic
from edge.core.errors import UserError

log = logging.getLogger(__name__)

_UNSUPPORTED = re.compile(r"Layer (?P<name>\S+?):<class '(?:[\w.]+\.)?(?P<cls>\w+)'> is not supported")
_WHAT_TO_DO = ("replace it with a layer QAT supports (Conv2D, DepthwiseConv2D, Dense, BatchNormalization "
               "after a convolution, ReLU, pooling, Dropout, Flatten, Reshape, Add, Concatenate, Softmax) "
               "and retrain, or use --method ptq")


def make_qat_model(model):
    """Wrap every layer of a float Sequential/functional model for QAT, or say which layer cannot be."""
    if not isinstance(model, keras.Sequential) and not getattr(model, "_is_graph_network", False):
        raise UserError(f"model {model.name!r} ({type(model).__name__}) is a subclassed model; QAT needs a "
                        "Sequential or functional model: rebuild it with a train preset, or use --method ptq")
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            raise UserError(f"layer {layer.name!r} ({type(layer).__name__}) is a model nested inside the model, "
                            "which QAT cannot wrap; flatten it into one model, or use --method ptq")
        if isinstance(layer, keras.layers.Lambda):
            raise UserError(f"layer {layer.name!r} (Lambda) cannot be wrapped for QAT: {_WHAT_TO_DO}")
    try:
        return tfmot.quantization.keras.quantize_model(model)
    except (RuntimeError, ValueError) as e:
        m = _UNSUPPORTED.search(str(e))
        if m:
            raise UserError(f"layer {m['name']!r} ({m['cls']}) cannot be wrapped for QAT: {_WHAT_TO_DO}") from None
        raise UserError(f"model {model.name!r} cannot be wrapped for QAT ({str(e).splitlines()[0]}); "
                        "use --method ptq") from None


def fine_tune(qat_model, train_data, *, epochs: int, lr: float, steps_per_epoch: int | None = None,
              val_data=None, loss=None, verbose: int = 1):
    """Fine-tune a QAT model at a low learning rate; returns the Keras History.

    ``train_data``/``val_data`` are what ``Model.fit`` takes (a tf.data.Dataset of (x, one-hot y[, weight])
    batches, typically the train stage's own pipeline). ``loss`` defaults to categorical cross-entropy.
    """
    qat_model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr),
                      loss=loss or keras.losses.CategoricalCrossentropy(),
                      metrics=["accuracy"])
    log.info("QAT fine-tuning: %d epoch(s) at learning rate %g", epochs, lr)
    return qat_model.fit(train_data, validation_data=val_data, epochs=epochs, steps_per_epoch=steps_per_epoch,
                         verbose=verbose)


def save_qat_model(model, path: str | Path) -> Path:
    with atomic.atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*HDF5 file.*legacy", category=UserWarning)  # deliberate, see above
        model.save(tmp, save_format="h5")
    return Path(path)


def load_qat_model(path: str | Path):
    """Reload a saved QAT model; tfmot's wrappers are resolved inside ``quantize_scope``."""
    path = Path(path)
    try:
        with tfmot.quantization.keras.quantize_scope():
            return keras.models.load_model(path, compile=False)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"{path}: cannot load the QAT model ({first[:300]})") from None
