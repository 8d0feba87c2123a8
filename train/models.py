"""A light registry of CNN presets: ``PRESETS[name](spec=..., **knobs) -> tf_keras.Model`` (the expression
classifiers) and ``DETECTOR_PRESETS`` (the face locator).

Every preset uses only layers that tensorflow-model-optimization can wrap for quantization-aware
training (default 8-bit scheme) and that TensorFlow Lite Micro runs: Conv2D, DepthwiseConv2D,
BatchNormalization (folded into the convolution on conversion), ReLU, MaxPooling2D,
GlobalAveragePooling2D, Flatten, Dropout, Dense and Softmax. No preprocessing or augmentation layers:
the model's input is exactly ``edge.core.preprocess.preprocess``'s output.

- ``seed``: the seed project's network (Conv -> MaxPool -> Conv -> MaxPool -> Dense -> Dropout ->
  Softmax), ~0.8M parameters, most of them in the dense layer.
- ``micro``: for microcontrollers. A full-resolution stem small enough that its input and output
  int8 tensors fit well under 64 KB, then BN-ReLU conv stages that halve the resolution and double
  the width; the last stage is depthwise + pointwise so its weights stay small; global pooling.
- ``micro_ds``: ``micro`` with every stage after the stem depthwise-separable (depthwise 3x3 +
  pointwise 1x1): a fifth of ``micro``'s MACs, 14.5 M instead of 37 M Cortex-M4 instructions (CMSIS-NN).
- ``pi``: for the Raspberry Pi, accuracy first: a VGG-style stack with BatchNorm, a few MB of int8.
- ``locator``: not a classifier: the face locator (``train.locator.model``), a gray frame in, a grid of face
  centres and sizes out; ``fer-edge train --preset locator`` trains it on generated frames (``train.locator``).

The knobs (``width``, ``depth``, ``dropout``) let a tuner vary a preset without editing it.
"""

from __future__ import annotations

from collections.abc import Callable

import tf_keras as keras

from edge.core.errors import UserError
from edge.core.spec import DEFAULT_SPEC, ModelSpec
from train.locator.model import build_locator  # the face locator: frames in, a grid of faces out

L = keras.layers
#: BatchNorm moving-average momentum: 0.9 (PyTorch's default) settles the inference statistics in
#: tens of steps rather than hundreds (Keras' 0.99), which short runs and small datasets need.
BN_MOMENTUM = 0.9


def _conv_bn_relu(x, filters: int, name: str, kernel: int = 3, strides: int = 1):
    x = L.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = L.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return L.ReLU(name=f"{name}_relu")(x)


def _dw_pw(x, filters: int, name: str):
    """Depthwise 3x3 then pointwise 1x1, each BN-ReLU (a separable conv that tfmot can wrap)."""
    x = L.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = L.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_dw_bn")(x)
    x = L.ReLU(name=f"{name}_dw_relu")(x)
    return _conv_bn_relu(x, filters, f"{name}_pw", kernel=1)


def _head(x, num_classes: int, dropout: float, hidden: int = 0):
    if hidden:
        x = L.Dense(hidden, use_bias=False, name="fc")(x)
        x = L.BatchNormalization(momentum=BN_MOMENTUM, name="fc_bn")(x)
        x = L.ReLU(name="fc_relu")(x)
    if dropout:
        x = L.Dropout(dropout, name="dropout")(x)
    x = L.Dense(num_classes, name="logits")(x)
    return L.Softmax(name="probs")(x)


def _check(name: str, **knobs) -> None:
    for key, value in knobs.items():
        if key == "dropout":
            if not 0.0 <= value < 1.0:
                raise UserError(f"preset {name}: dropout must be in [0, 1), got {value!r}")
        elif not isinstance(value, int) or value < 1:
            raise UserError(f"preset {name}: {key} must be a positive integer, got {value!r}")


def build_seed(spec: ModelSpec = DEFAULT_SPEC, *, width: int = 32, hidden: int = 128, dropout: float = 0.5) -> keras.Model:
    """The seed project's CNN: 48x48x1 -> Conv(w) -> Pool -> Conv(2w) -> Pool -> Dense -> Dropout -> Softmax."""
    _check("seed", width=width, hidden=hidden, dropout=dropout)
    inputs = keras.Input(spec.input_shape, name="image")
    x = L.Conv2D(width, 3, activation="relu", name="conv1")(inputs)
    x = L.MaxPooling2D(name="pool1")(x)
    x = L.Conv2D(2 * width, 3, activation="relu", name="conv2")(x)
    x = L.MaxPooling2D(name="pool2")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(hidden, activation="relu", name="fc")(x)
    return keras.Model(inputs, _head(x, spec.num_classes, dropout), name="seed")


def build_micro(spec: ModelSpec = DEFAULT_SPEC, *, width: int = 16, depth: int = 2, dropout: float = 0.3) -> keras.Model:
    """Microcontroller CNN: ~100 K int8 weights, ~17 M MACs, ~46 KB peak activations at the defaults.

    stem: one conv3x3(w) at 48x48 (the only full-resolution tensor: 36 KB int8 at w=16), max-pool;
    stages at 24x24 (2w) and 12x12 (4w) of ``depth`` conv3x3 each, each followed by max-pooling; a
    last stage at 6x6 (8w) of ``depth`` depthwise+pointwise blocks; global average pooling, dropout,
    dense softmax.
    """
    _check("micro", width=width, depth=depth, dropout=dropout)
    inputs = keras.Input(spec.input_shape, name="image")
    x = _conv_bn_relu(inputs, width, "stem")
    x = L.MaxPooling2D(name="stem_pool")(x)
    for stage, filters in ((1, 2 * width), (2, 4 * width)):
        for i in range(depth):
            x = _conv_bn_relu(x, filters, f"s{stage}b{i}")
        x = L.MaxPooling2D(name=f"s{stage}_pool")(x)
    for i in range(depth):
        x = _dw_pw(x, 8 * width, f"s3b{i}")
    x = L.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, _head(x, spec.num_classes, dropout), name="micro")


def build_micro_ds(spec: ModelSpec = DEFAULT_SPEC, *, width: int = 16, depth: int = 2,
                   dropout: float = 0.3) -> keras.Model:
    """``micro`` with depthwise-separable stages: ~3.4 M MACs and ~40 K parameters at the defaults.

    The same shape as ``micro`` (a conv3x3(w) stem at 48x48 and max-pooling; stages of ``depth`` blocks
    at 24x24 (2w), 12x12 (4w) and 6x6 (8w), pooling between them; global average pooling, dropout,
    dense softmax), but every block after the stem is depthwise 3x3 + pointwise 1x1 (each BN-ReLU), the
    block ``micro`` uses only in its last stage. On a Cortex-M4 with CMSIS-NN the 3x3 convolutions
    are ~96% of ``micro``'s instructions; measure candidates with ``python -m benchmarks.m4_candidates``.
    """
    _check("micro_ds", width=width, depth=depth, dropout=dropout)
    inputs = keras.Input(spec.input_shape, name="image")
    x = _conv_bn_relu(inputs, width, "stem")
    x = L.MaxPooling2D(name="stem_pool")(x)
    for stage, filters in ((1, 2 * width), (2, 4 * width), (3, 8 * width)):
        for i in range(depth):
            x = _dw_pw(x, filters, f"s{stage}b{i}")
        if stage < 3:
            x = L.MaxPooling2D(name=f"s{stage}_pool")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, _head(x, spec.num_classes, dropout), name="micro_ds")


def build_pi(spec: ModelSpec = DEFAULT_SPEC, *, width: int = 32, depth: int = 2, dropout: float = 0.4) -> keras.Model:
    """Raspberry Pi CNN, VGG-style: four stages of ``depth`` BN-ReLU conv3x3 (w, 2w, 4w, 8w), each
    followed by max-pooling, then global average pooling, a BN-ReLU dense layer of 4w and softmax.
    ~1.2 M parameters (~1.2 MB int8) and ~110 M MACs at the defaults.
    """
    _check("pi", width=width, depth=depth, dropout=dropout)
    inputs = keras.Input(spec.input_shape, name="image")
    x = inputs
    for stage, filters in enumerate((width, 2 * width, 4 * width, 8 * width)):
        for i in range(depth):
            x = _conv_bn_relu(x, filters, f"s{stage}b{i}")
        x = L.MaxPooling2D(name=f"s{stage}_pool")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, _head(x, spec.num_classes, dropout, hidden=4 * width), name="pi")


PRESETS: dict[str, Callable[..., keras.Model]] = {
    "seed": build_seed,
    "micro": build_micro,
    "micro_ds": build_micro_ds,
    "pi": build_pi,
}
#: presets that are not expression classifiers (another input and output): the face locator
DETECTOR_PRESETS: dict[str, Callable[..., keras.Model]] = {"locator": build_locator}


def build_model(preset: str, spec: ModelSpec = DEFAULT_SPEC, **knobs) -> keras.Model:
    """Build a preset by name (a classifier of ``PRESETS`` or the locator); unknown names or knobs are a
    UserError naming what exists."""
    every = {**PRESETS, **DETECTOR_PRESETS}
    if preset not in every:
        raise UserError(f"unknown preset {preset!r} (expected one of {', '.join(every)})")
    builder = every[preset]
    allowed = builder.__kwdefaults__ or {}
    unknown = sorted(set(knobs) - set(allowed))
    if unknown:
        raise UserError(f"preset {preset} has no option(s) {unknown} (it takes {sorted(allowed)})")
    return builder(spec, **knobs)
