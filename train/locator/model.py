"""The ``locator`` preset: a tiny fully convolutional net from a gray frame to a grid of face centres and sizes.

Input: the downscaled frame (``edge.locator.downscale``), float pixel / 255, (H, W, 1) with H and W multiples of
8. Output: (H/8, W/8, 5) linear values per cell: the face-centre logit, the centre's offset inside the cell
(x, y, in cells) and the box size (width, height, in cells); ``edge.locator`` decodes them.

Layers: a stride-2 3x3 stem (w channels), then depthwise + pointwise blocks (BN-ReLU after each) at strides 4
(3w, entered by a stride-2 depthwise) and 8 (6w, likewise, then ``depth`` more); the stride-8 blocks use 5x5 depthwise kernels, so the last cells see about the
whole input (a 70%-of-the-frame face), and a 1x1 convolution makes the five outputs. Every layer is an int8
builtin of TFLite Micro with a CMSIS-NN kernel (Conv2D, DepthwiseConv2D, ReLU folded).
"""

from __future__ import annotations

import tf_keras as keras

from edge.core.errors import UserError

L = keras.layers
BN_MOMENTUM = 0.9
#: the score bias starts at a 2% face prior (a few face cells among a hundred), sizes at 2 cells
HEAD_BIAS = (-4.0, 0.5, 0.5, 2.0, 2.0)


def _bn_relu(x, name):
    x = L.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return L.ReLU(name=f"{name}_relu")(x)


def _block(x, filters: int, name: str, kernel: int = 3, strides: int = 1):
    x = L.DepthwiseConv2D(kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = _bn_relu(x, f"{name}_dw")
    x = L.Conv2D(filters, 1, use_bias=False, name=f"{name}_pw")(x)
    return _bn_relu(x, f"{name}_pw")


def build_locator(spec=None, *, width: int = 8, depth: int = 2, input_width: int = 128,
                  input_height: int = 96) -> keras.Model:
    """~2.2 M MACs and ~10 K parameters at 128x96 and the defaults (``train.budget`` counts them); ``depth``
    blocks at stride 8. At 96x72 (1.2 M MACs) faces at 15% of the frame are 11 pixels high: too few."""
    for name, value in (("width", width), ("depth", depth), ("input_width", input_width),
                        ("input_height", input_height)):
        if not isinstance(value, int) or value < 1:
            raise UserError(f"preset locator: {name} must be a positive integer, got {value!r}")
    if input_width % 8 or input_height % 8 or not (32 <= input_width <= 320 and 24 <= input_height <= 320):
        raise UserError(f"preset locator: input {input_width}x{input_height} must be multiples of 8 within "
                        "32x24..320x320")
    inputs = keras.Input((input_height, input_width, 1), name="frame")
    x = L.Conv2D(width, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = _bn_relu(x, "stem")
    x = _block(x, 3 * width, "s2", strides=2)
    x = _block(x, 6 * width, "s3", kernel=5, strides=2)
    for i in range(depth):
        x = _block(x, 6 * width, f"s3b{i}", kernel=5)
    outputs = L.Conv2D(5, 1, name="grid", bias_initializer=keras.initializers.Constant(HEAD_BIAS))(x)
    return keras.Model(inputs, outputs, name="locator")
