"""Models an app runtime loads as is: RGB in, the grey conversion inside the model. Pure functions -> bytes.

MediaPipe Tasks' ``ImageClassifier`` (and LiteRT's support library) hand a model a 1xHxWx3 image of
uint8 or float32; our models take one grey channel. ``for_apps`` grafts a front onto the plain
``.tflite`` with LiteRT's flatbuffer schema, leaving the model's own tensors, weights and quantization
untouched, so its outputs are the plain model's bit for bit given the same grey image:

- int8 model: uint8 RGB -> CAST to float pixels;  float model: float32 RGB normalised as the metadata
  says -> ``* std + mean`` and ROUND back to the pixels;
- then OpenCV's ``COLOR_BGR2GRAY`` (its 15-bit fixed-point weights as a float 1x1 CONV_2D, + 0.5, FLOOR:
  every sum is exact in float32, so the grey image is cv2's bit for bit) -> ``* pixel_scale (+ offset)``
  -> with ``factor`` 2 or 3 (input 2-3x the model's size), the block mean rounded, as cv2's INTER_AREA
  shrinks by an integer factor -> the model's own input tensor (through QUANTIZE for int8, far from any
  rounding tie);
- int8 scores are shifted to uint8 (QUANTIZE, same scale), the only score types MediaPipe accepts.

The float16 file is the float Keras model converted as ``fer-edge quantize --float16`` does, with the same
front. The app-side normalisation (in the metadata) is ``(pixel - mean) / std`` with
``std = 1 / pixel_scale`` and ``mean = -pixel_offset / pixel_scale``.
"""

from __future__ import annotations

import logging

import numpy as np

from edge.core.errors import UserError
from edge.core.spec import ModelSpec

log = logging.getLogger(__name__)

#: cv2.COLOR_BGR2GRAY's weights (0.299, 0.587, 0.114) in the RGB channel order app runtimes use, as the
#: 15-bit fixed-point integers OpenCV computes them with for uint8 images (sum 2**15).
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


def for_apps(data: bytes, spec: ModelSpec, *, factor: int = 1, what: str = "model") -> bytes:
    """Plain grey model (int8 or float32 1xHxWx1 in) -> RGB in (uint8 for int8, float32 for float models).

    ``factor`` > 1 makes the input ``factor`` times the model's size and shrinks the grey image inside the
    model the way cv2's INTER_AREA does for an integer factor (block mean, rounded): app runtimes resize
    a face crop bilinearly, which aliases badly when shrinking 2-3x, so they should shrink it less.
    """
    import flatbuffers

    s = _schema()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise UserError(f"{what}: not a TFLite flatbuffer (no TFL3 identifier)")
    try:
        model = s.ModelT.InitFromPackedBuf(bytearray(data), 0)
    except Exception:  # a truncated or corrupt flatbuffer fails anywhere inside the generated reader
        raise UserError(f"{what}: not a readable TFLite model: its flatbuffer ends or points outside the "
                        f"{len(data):,} bytes of the file (truncated or corrupt; copy or export it again)") from None
    if len(model.subgraphs) != 1 or len(model.subgraphs[0].inputs) != 1 or len(model.subgraphs[0].outputs) != 1:
        raise UserError(f"{what}: expected one subgraph with one input and one output tensor")
    sg = model.subgraphs[0]
    t_in, t_out = sg.tensors[sg.inputs[0]], sg.tensors[sg.outputs[0]]
    h, w, c = spec.input_shape
    if factor not in (1, 2, 3):  # checked bit-exact against cv2's INTER_AREA for these
        raise UserError(f"--input-factor must be 1, 2 or 3, got {factor}")
    int8 = t_in.type == s.TensorType.INT8
    types_ok = (t_in.type, t_out.type) in ((s.TensorType.INT8,) * 2, (s.TensorType.FLOAT32,) * 2)
    if not types_ok or list(t_in.shape) != [1, h, w, c] or c != 1:
        raise UserError(f"{what}: expected a full-int8 or float model with a 1x{h}x{w}x1 input of the same "
                        "type as its output (what 'fer-edge quantize' writes)")
    if int8 and not (t_in.quantization and t_in.quantization.scale and t_out.quantization and t_out.quantization.scale):
        raise UserError(f"{what}: the int8 input/output tensors carry no quantization parameters")

    f32, pix = s.TensorType.FLOAT32, float(spec.pixel_scale)
    mean, std = normalization(spec)
    ops: list = []

    def const(name: str, value) -> int:
        array = np.asarray(value, dtype="<f4")
        return _tensor(model, sg, s, name, list(array.shape), f32, None, array.tobytes())

    def op(builtin: int, version: int, inputs: list[int], output: int, options_type: int = 0, options=None) -> int:
        ops.append(_op(s, _opcode_index(model, s, builtin, version), inputs, [output], options_type, options))
        return output

    def float_tensor(name: str, channels: int, scale: int = 1) -> int:
        return _tensor(model, sg, s, name, [1, h * scale, w * scale, channels], f32, None)

    def binary(builtin: int, options_type: int, options_class, x: int, constant: int, name: str, channels: int,
               out: int | None = None) -> int:
        return op(builtin, 1, [x, constant], float_tensor(name, channels) if out is None else out,
                  options_type, options_class())

    mul = (s.BuiltinOperator.MUL, s.BuiltinOptions.MulOptions, s.MulOptionsT)
    add = (s.BuiltinOperator.ADD, s.BuiltinOptions.AddOptions, s.AddOptionsT)
    if int8:
        image = _tensor(model, sg, s, "image", [1, h * factor, w * factor, 3], s.TensorType.UINT8,
                        _quant(s, [pix], [0]))
        pixels = op(s.BuiltinOperator.CAST, 1, [image], float_tensor("pixels", 3, factor))
    else:
        image = float_tensor("image", 3, factor)
        pixels = op(mul[0], 1, [image, const("std", [std])], float_tensor("denormalised", 3, factor), mul[1], mul[2]())
        if mean:
            pixels = op(add[0], 1, [pixels, const("mean", [mean])], float_tensor("denormalised_mean", 3, factor),
                        add[1], add[2]())
        pixels = op(s.BuiltinOperator.ROUND, 1, [pixels], float_tensor("pixels", 3, factor))
    conv = s.Conv2DOptionsT()
    conv.padding, conv.strideH, conv.strideW, conv.dilationHFactor, conv.dilationWFactor = s.Padding.VALID, 1, 1, 1, 1
    grey = op(s.BuiltinOperator.CONV_2D, 1, [pixels, const("grey_weights", grey_weights().reshape(1, 1, 1, 3)),
                                             const("grey_round", [0.5])],
              float_tensor("grey_sum", 1, factor), s.BuiltinOptions.Conv2DOptions, conv)
    grey = op(s.BuiltinOperator.FLOOR, 1, [grey], float_tensor("grey_full", 1, factor))
    if factor > 1:  # cv2's INTER_AREA for an integer factor: the block mean, rounded half up
        pool = s.Pool2DOptionsT()
        pool.padding, pool.strideH, pool.strideW, pool.filterHeight, pool.filterWidth = s.Padding.VALID, *(factor,) * 4
        grey = op(s.BuiltinOperator.AVERAGE_POOL_2D, 1, [grey], float_tensor("grey_mean", 1),
                  s.BuiltinOptions.Pool2DOptions, pool)
        grey = op(add[0], 1, [grey, const("area_round", [0.5])], float_tensor("grey_mean_half", 1), add[1], add[2]())
        grey = op(s.BuiltinOperator.FLOOR, 1, [grey], float_tensor("grey", 1))
    last = None if (int8 or spec.pixel_offset) else sg.inputs[0]  # a float model's input is written directly
    scaled = binary(*mul, grey, const("pixel_scale", [pix]), "grey_scaled", 1, out=last)
    if spec.pixel_offset:
        scaled = binary(*add, scaled, const("pixel_offset", [spec.pixel_offset]), "grey_shifted", 1,
                        out=None if int8 else sg.inputs[0])
    tail = []
    if int8:
        op(s.BuiltinOperator.QUANTIZE, 2, [scaled], sg.inputs[0])
        out_zp = int(t_out.quantization.zeroPoint[0])
        scores = _tensor(model, sg, s, "scores", list(t_out.shape), s.TensorType.UINT8,
                         _quant(s, [float(t_out.quantization.scale[0])], [out_zp + 128]))
        tail = [_op(s, _opcode_index(model, s, s.BuiltinOperator.QUANTIZE, 2), [sg.outputs[0]], [scores])]
    else:
        scores = sg.outputs[0]
    sg.operators = [*ops, *sg.operators, *tail]
    sg.inputs, sg.outputs = [image], [scores]
    for sig in model.signatureDefs or []:
        for tmap, new in ((sig.inputs, image), (sig.outputs, scores)):
            for m in tmap or []:
                m.tensorIndex = new
    log.info("%s: grafted an RGB %s input (cv2's grey conversion inside)", what, "uint8" if int8 else "float32")
    builder = flatbuffers.Builder(len(data) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
