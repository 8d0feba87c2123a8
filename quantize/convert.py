"""Keras model -> TFLite bytes: full-int8 (int8 I/O, int8 builtins only) and float16. Pure functions."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import tensorflow as tf

from edge.core.errors import UserError
from quantize.representative import as_generator

log = logging.getLogger(__name__)


def convert_int8(model, representative: np.ndarray, *, what: str = "model") -> bytes:
    """A full-integer model: every op an int8 builtin, int8 input and output (runs on TFLite Micro).

    ``representative`` is float32 (k, H, W, C) model inputs that calibrate the activation ranges;
    a QAT model carries its own ranges, but the converter still reads the input range from them.
    """
    if len(representative) == 0:
        raise UserError(f"{what}: the representative set is empty; int8 ranges cannot be calibrated")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = as_generator(np.asarray(representative, dtype=np.float32))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return _convert(converter, what, "full-int8")


def convert_float16(model, *, what: str = "model") -> bytes:
    """float16 weights, float32 I/O: for mobile GPU delegates."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    return _convert(converter, what, "float16")


def _convert(converter, what: str, kind: str) -> bytes:
    log.info("converting %s to %s TFLite", what, kind)
    try:
        with warnings.catch_warnings():  # the converter reads the input range from the model itself
            warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
            return converter.convert()
    except Exception as e:  # ConverterError and friends: an op without an int8 kernel, mostly
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        detail = next((ln for ln in lines if "error" in ln.lower()), lines[0] if lines else type(e).__name__)
        raise UserError(f"{what}: {kind} TFLite conversion failed ({detail}); use only layers with int8 "
                        "TFLite builtin kernels (see the train presets)") from None
