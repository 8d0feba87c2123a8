"""Models an app runtime loads as is: RGB in, the grey conversion inside the model. Pure functions -> bytes.

MediaPipe Tasks' ``ImageClassifier`` (and LiteRT's support library) hand a model a 1xHxWx3 image of
uint8 or float32; our models take one grey channel. Both builders put OpenCV's ``COLOR_BGR2GRAY``
weights (0.299 R + 0.587 G + 0.114 B, as its 15-bit integers) in front of the model as a 1x1 convolution:

- ``int8_for_apps`` grafts it onto the plain full-int8 ``.tflite`` with LiteRT's flatbuffer schema:
  uint8 RGB -> float grey, rounded as cv2 rounds it (CAST, CONV_2D, FLOOR, MUL) -> QUANTIZE into the
  model's own int8 input tensor -> the untouched int8 model -> QUANTIZE -> uint8 scores. The model's weights and
  quantization are kept bit for bit, so it needs no float model and no re-calibration.
- ``float16_for_apps`` wraps the float Keras model with the same grey conversion (in int32 ops) and
  converts it with float16 weights and float32 I/O.

Both keep the spec's pixel scaling: the app-side normalisation (recorded in the metadata) is
``(pixel - mean) / std`` with ``std = 1 / pixel_scale``, ``mean = -pixel_offset / pixel_scale``.
"""

from __future__ import annotations

import logging

import numpy as np

from edge.errors import UserError
from edge.spec import ModelSpec

log = logging.getLogger(__name__)

#: cv2.COLOR_BGR2GRAY's weights, in the RGB channel order app runtimes use.
GREY_WEIGHTS_RGB = (0.299, 0.587, 0.114)
#: ... and the 15-bit fixed-point integers OpenCV computes them with for uint8 images (sum 2**15).
CV2_GREY_FIXED_POINT_RGB = (9798, 19235, 3735)


def normalization(spec: ModelSpec) -> tuple[float, float]:
    """(mean, std) such that ``(pixel - mean) / std == pixel * pixel_scale + pixel_offset``."""
    std = 1.0 / spec.pixel_scale
    return -spec.pixel_offset * std + 0.0, std  # + 0.0: no -0.0 in the metadata


def grey_weights() -> np.ndarray:
    """OpenCV's own fixed-point ``COLOR_BGR2GRAY`` weights (RGB order) as float: every weighted sum of uint8
    pixels is exact in float32, so ``floor(sum + 0.5)`` is cv2's grey bit for bit."""
    return np.asarray(CV2_GREY_FIXED_POINT_RGB, dtype=np.float64) / 2**15


def _schema():
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def _opcode_index(model, schema, builtin: int, version: int) -> int:
    for i, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            code.version = max(code.version, version)
            return i
    code = schema.OperatorCodeT()
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, schema.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
    code.version = version
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def _quant(schema, scale: list[float], zero_point: list[int], axis: int = 0):
    q = schema.QuantizationParametersT()
    q.scale, q.zeroPoint, q.quantizedDimension = list(scale), list(zero_point), axis
    return q


def _tensor(model, sg, schema, name: str, shape, dtype: int, quant, data: bytes | None = None) -> int:
    t = schema.TensorT()
    t.name, t.shape, t.type, t.quantization = name.encode(), list(shape), dtype, quant
    buf = schema.BufferT()
    if data is not None:
        buf.data = list(data)
    model.buffers.append(buf)
    t.buffer = len(model.buffers) - 1
    sg.tensors.append(t)
    return len(sg.tensors) - 1


def _op(schema, opcode: int, inputs: list[int], outputs: list[int], options_type: int = 0, options=None):
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = opcode, inputs, outputs
    op.builtinOptionsType, op.builtinOptions = options_type, options
    return op


def int8_for_apps(data: bytes, spec: ModelSpec, *, what: str = "model") -> bytes:
    """Plain full-int8 model (int8 1xHxWx1 in, int8 scores out) -> uint8 RGB in, uint8 scores out."""
    import flatbuffers

    s = _schema()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise UserError(f"{what}: not a TFLite flatbuffer (no TFL3 identifier)")
    try:
        model = s.ModelT.InitFromPackedBuf(bytearray(data), 0)
    except Exception as e:  # a truncated or corrupt flatbuffer fails anywhere inside the generated reader
        raise UserError(f"{what}: not a readable TFLite model ({type(e).__name__}); is the file complete?") from None
    if len(model.subgraphs) != 1:
        raise UserError(f"{what}: expected one subgraph, got {len(model.subgraphs)}")
    sg = model.subgraphs[0]
    if len(sg.inputs) != 1 or len(sg.outputs) != 1:
        raise UserError(f"{what}: expected one input and one output tensor")
    t_in, t_out = sg.tensors[sg.inputs[0]], sg.tensors[sg.outputs[0]]
    h, w, c = spec.input_shape
    if t_in.type != s.TensorType.INT8 or t_out.type != s.TensorType.INT8 or list(t_in.shape) != [1, h, w, c] or c != 1:
        raise UserError(f"{what}: expected a full-int8 model with an int8 1x{h}x{w}x1 input and int8 output "
                        "(what 'fer-edge quantize' writes)")
    if t_in.quantization is None or not t_in.quantization.scale or t_out.quantization is None or not t_out.quantization.scale:
        raise UserError(f"{what}: the int8 input/output tensors carry no quantization parameters")

    out_scale, out_zp = float(t_out.quantization.scale[0]), int(t_out.quantization.zeroPoint[0])
    if not 0 <= out_zp + 128 <= 255:
        raise UserError(f"{what}: output zero point {out_zp} cannot be shifted to uint8")
    # uint8 RGB -> float pixels (CAST, exact) -> cv2's fixed-point grey + 0.5 (a 1x1 conv whose sums are exact in
    # float32) -> FLOOR: cv2's rounded grey, bit for bit -> * pixel_scale (+ pixel_offset) -> QUANTIZE into the
    # model's own int8 input tensor (far from any rounding tie, so exact). The model itself is untouched.
    pix = float(spec.pixel_scale)
    f32 = s.TensorType.FLOAT32
    image = _tensor(model, sg, s, "image", [1, h, w, 3], s.TensorType.UINT8, _quant(s, [pix], [0]))
    pixels = _tensor(model, sg, s, "image_float", [1, h, w, 3], f32, None)
    kernel = _tensor(model, sg, s, "grey_weights", [1, 1, 1, 3], f32, None,
                     grey_weights().astype("<f4").reshape(1, 1, 1, 3).tobytes())
    half = _tensor(model, sg, s, "grey_round", [1], f32, None, np.asarray([0.5], "<f4").tobytes())
    grey_sum = _tensor(model, sg, s, "grey_sum", [1, h, w, 1], f32, None)
    grey = _tensor(model, sg, s, "grey", [1, h, w, 1], f32, None)
    scale = _tensor(model, sg, s, "pixel_scale", [1], f32, None, np.asarray([pix], "<f4").tobytes())
    scaled = _tensor(model, sg, s, "grey_scaled", [1, h, w, 1], f32, None)
    scores = _tensor(model, sg, s, "scores", list(t_out.shape), s.TensorType.UINT8,
                     _quant(s, [out_scale], [out_zp + 128]))
    conv_opts = s.Conv2DOptionsT()
    conv_opts.padding, conv_opts.strideH, conv_opts.strideW = s.Padding.VALID, 1, 1
    conv_opts.dilationHFactor = conv_opts.dilationWFactor = 1
    conv_opts.fusedActivationFunction = s.ActivationFunctionType.NONE
    front = [
        _op(s, _opcode_index(model, s, s.BuiltinOperator.CAST, 1), [image], [pixels]),
        _op(s, _opcode_index(model, s, s.BuiltinOperator.CONV_2D, 1), [pixels, kernel, half], [grey_sum],
            s.BuiltinOptions.Conv2DOptions, conv_opts),
        _op(s, _opcode_index(model, s, s.BuiltinOperator.FLOOR, 1), [grey_sum], [grey]),
        _op(s, _opcode_index(model, s, s.BuiltinOperator.MUL, 1), [grey, scale], [scaled],
            s.BuiltinOptions.MulOptions, s.MulOptionsT()),
    ]
    if spec.pixel_offset:
        offset = _tensor(model, sg, s, "pixel_offset", [1], f32, None,
                         np.asarray([spec.pixel_offset], "<f4").tobytes())
        shifted = _tensor(model, sg, s, "grey_shifted", [1, h, w, 1], f32, None)
        front.append(_op(s, _opcode_index(model, s, s.BuiltinOperator.ADD, 1), [scaled, offset], [shifted],
                         s.BuiltinOptions.AddOptions, s.AddOptionsT()))
        scaled = shifted
    quantize = _opcode_index(model, s, s.BuiltinOperator.QUANTIZE, 2)
    front.append(_op(s, quantize, [scaled], [sg.inputs[0]]))
    old_out = sg.outputs[0]
    sg.operators = [
        *front,
        *sg.operators,
        _op(s, quantize, [old_out], [scores]),
    ]
    sg.inputs, sg.outputs = [image], [scores]
    for sig in model.signatureDefs or []:
        for tmap, new in ((sig.inputs, image), (sig.outputs, scores)):
            for m in tmap or []:
                m.tensorIndex = new
    log.info("%s: grafted a uint8 RGB input (grey conversion inside) and a uint8 scores output", what)
    builder = flatbuffers.Builder(len(data) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def grey_model(float_model, spec: ModelSpec):
    """The float Keras model behind cv2's grey conversion (float32 1xHxWx3 in, normalised as the metadata says).

    The normalised RGB input is turned back into uint8 pixels (rounded), converted to grey with cv2's
    fixed-point weights and rounding in int32 arithmetic (untouched by float16 weight conversion), and
    scaled as the spec says: the float model sees exactly what fer-edge's preprocessing gives it.
    """
    import tensorflow as tf
    import tf_keras as keras

    mean, std = normalization(spec)
    fixed = tf.constant(CV2_GREY_FIXED_POINT_RGB, dtype=tf.int32)

    def to_grey(x):
        pixels = tf.cast(tf.clip_by_value(tf.round(x * std + mean), 0.0, 255.0), tf.int32)
        grey = tf.math.floordiv(tf.reduce_sum(pixels * fixed, axis=-1, keepdims=True) + 2**14, 2**15)
        return tf.cast(grey, tf.float32) * spec.pixel_scale + spec.pixel_offset

    h, w, _ = spec.input_shape
    inp = keras.Input((h, w, 3), name="image")
    grey = keras.layers.Lambda(to_grey, name="rgb_to_grey")(inp)  # built in memory for conversion, never saved
    return keras.Model(inp, float_model(grey), name=f"{float_model.name}_rgb")


def float16_for_apps(float_model, spec: ModelSpec, *, what: str = "model") -> bytes:
    """float32 RGB in (normalised as the spec says), float16 weights, float32 scores out."""
    from quantize.convert import convert_float16

    if tuple(float_model.input_shape[1:]) != spec.input_shape or spec.input_channels != 1:
        raise UserError(f"{what}: float model input is {float_model.input_shape[1:]}, expected "
                        f"{spec.input_shape} (one grey channel) as in its spec")
    return convert_float16(grey_model(float_model, spec), what=what)
