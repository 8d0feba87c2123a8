"""What the firmware needs to know about a ``.tflite`` file, read with LiteRT's flatbuffer schema.

``read_model(data, source)`` parses the bytes with ``ai_edge_litert.schema_py_generated`` (the
reader generated from TensorFlow Lite's own ``schema.fbs``) and returns a ``ModelInfo``: the
builtin ops in order of first use, input/output shape, dtype and quantization, the MAC count of
the multiply-accumulate ops and the activation bytes. It refuses anything the firmware cannot run
as a full-int8 model: a file that is not a TFLite flatbuffer, a truncated one, a float or
dynamic-range model, custom ops, several subgraphs or several inputs/outputs.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass

from edge.core.errors import UserError
from edge.core.spec import Quant

log = logging.getLogger(__name__)

_FLOAT_TYPES = ("FLOAT32", "FLOAT16", "FLOAT64", "BFLOAT16")
_ITEMSIZE = {"INT8": 1, "UINT8": 1, "BOOL": 1, "INT16": 2, "UINT16": 2, "FLOAT16": 2, "BFLOAT16": 2,
             "INT32": 4, "UINT32": 4, "FLOAT32": 4, "INT64": 8, "UINT64": 8, "FLOAT64": 8}


def _schema():
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def _enum_names(enum_class) -> dict[int, str]:
    return {v: k for k, v in vars(enum_class).items() if not k.startswith("_")}


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str  # TFLite TensorType name: "INT8", "FLOAT32", ...
    quant: Quant | None


@dataclass(frozen=True)
class Layer:
    op: str
    input_shapes: tuple[tuple[int, ...], ...]  # () for an omitted optional input
    output_shape: tuple[int, ...]


@dataclass(frozen=True)
class ModelInfo:
    size: int
    sha256: str
    ops: tuple[str, ...]  # builtin operator names, each once, in order of first use
    op_counts: dict[str, int]
    input: TensorInfo
    output: TensorInfo
    macs: int  # multiply-accumulates of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, TRANSPOSE_CONV
    activation_bytes: int  # all non-constant tensors together (an upper bound for the arena's head)
    layers: tuple[Layer, ...]


def _tensor_info(tensor, type_names: dict[int, str]) -> TensorInfo:
    q = tensor.quantization
    quant = None
    if q is not None and q.scale is not None and len(q.scale) == 1 and q.scale[0] > 0:
        zero_point = int(q.zeroPoint[0]) if q.zeroPoint is not None and len(q.zeroPoint) else 0
        quant = Quant(float(q.scale[0]), zero_point)
    name = tensor.name.decode("utf-8", "replace") if isinstance(tensor.name, bytes) else str(tensor.name)
    shape = tuple(int(d) for d in tensor.shape) if tensor.shape is not None else ()
    return TensorInfo(name, shape, type_names.get(tensor.type, f"type#{tensor.type}"), quant)


def layer_macs(layer: Layer) -> int:
    """Multiply-accumulates of one op from its shapes (0 for ops without a weight tensor)."""
    shapes, out = layer.input_shapes, layer.output_shape
    if layer.op == "CONV_2D":  # weights (out_c, kh, kw, in_c)
        return math.prod(out) * math.prod(shapes[1][1:])
    if layer.op == "DEPTHWISE_CONV_2D":  # weights (1, kh, kw, out_c)
        return math.prod(out) * math.prod(shapes[1][1:3])
    if layer.op == "FULLY_CONNECTED":  # weights (units, in_features)
        return math.prod(out) * shapes[1][-1]
    if layer.op == "TRANSPOSE_CONV":  # inputs: output_shape, weights (out_c, kh, kw, in_c), input
        return math.prod(shapes[2]) * math.prod(shapes[1][:3])
    return 0


def _unpack(data: bytes, source: str):
    schema = _schema()
    if len(data) < 8 or not schema.Model.ModelBufferHasIdentifier(data, 0):
        raise UserError(f"{source}: not a TensorFlow Lite model (no 'TFL3' flatbuffer identifier); "
                        "expected the model_int8.tflite written by 'fer-edge quantize'")
    try:
        return schema.ModelT.InitFromObj(schema.Model.GetRootAs(data, 0))
    except Exception as e:  # any failure while walking the flatbuffer means the bytes are damaged
        raise UserError(f"{source}: damaged or truncated .tflite file ({type(e).__name__}: {e}); "
                        "re-export the model") from None


def _check_full_int8(source: str, op_names: list[str], subgraph, tensors: list[TensorInfo]) -> None:
    inp, out = tensors[subgraph.inputs[0]], tensors[subgraph.outputs[0]]
    if inp.dtype in _FLOAT_TYPES or out.dtype in _FLOAT_TYPES:
        int8_weights = any(t.dtype == "INT8" for t in tensors)
        kind = "a dynamic-range quantized model (int8 weights, float activations)" if int8_weights else "a float model"
        raise UserError(f"{source}: {kind} with {inp.dtype} input and {out.dtype} output; firmware export needs "
                        "a full-int8 model (int8 input and output): use the model_int8.tflite from 'fer-edge quantize'")
    if inp.dtype != "INT8" or out.dtype != "INT8" or inp.quant is None or out.quant is None:
        raise UserError(f"{source}: input is {inp.dtype} and output {out.dtype}; expected per-tensor quantized "
                        "INT8 for both (a full-int8 model from 'fer-edge quantize')")
    for op, name in zip(subgraph.operators, op_names):
        for i in list(op.inputs) + list(op.outputs):
            if i >= 0 and tensors[i].dtype in _FLOAT_TYPES:
                raise UserError(f"{source}: op {name} computes in {tensors[i].dtype} (tensor '{tensors[i].name}'); "
                                "expected a full-int8 model with no float ops")


def read_model(data: bytes, source: str = "model") -> ModelInfo:
    """Parse and validate a full-int8 single-input, single-output TFLite classifier."""
    schema = _schema()
    model = _unpack(data, source)
    op_enum, type_enum = _enum_names(schema.BuiltinOperator), _enum_names(schema.TensorType)
    if not model.subgraphs or len(model.subgraphs) != 1:
        raise UserError(f"{source}: has {len(model.subgraphs or [])} subgraphs; expected exactly one "
                        "(control-flow ops are not supported)")
    subgraph = model.subgraphs[0]
    if subgraph.inputs is None or subgraph.outputs is None or len(subgraph.inputs) != 1 or len(subgraph.outputs) != 1:
        raise UserError(f"{source}: expected one input and one output tensor, got "
                        f"{0 if subgraph.inputs is None else len(subgraph.inputs)} and "
                        f"{0 if subgraph.outputs is None else len(subgraph.outputs)}")
    raw_tensors = subgraph.tensors or []
    tensors = [_tensor_info(t, type_enum) for t in raw_tensors]
    op_names: list[str] = []
    for op in subgraph.operators or []:
        code = model.operatorCodes[op.opcodeIndex]
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)  # the schema's rule for codes > 127
        name = op_enum.get(builtin, f"builtin#{builtin}")
        if name == "CUSTOM":
            custom = code.customCode.decode("utf-8", "replace") if code.customCode else "?"
            raise UserError(f"{source}: uses the custom op '{custom}', which TensorFlow Lite Micro cannot resolve "
                            "from the model; expected builtin ops only")
        op_names.append(name)
    if not op_names:
        raise UserError(f"{source}: the model has no operators")
    _check_full_int8(source, op_names, subgraph, tensors)

    constant = {i for i, t in enumerate(raw_tensors)
                if model.buffers and t.buffer < len(model.buffers) and model.buffers[t.buffer].data is not None}
    activation_bytes = sum(math.prod(t.shape) * _ITEMSIZE.get(t.dtype, 4)
                           for i, t in enumerate(tensors) if i not in constant)
    counts: dict[str, int] = {}
    for name in op_names:
        counts[name] = counts.get(name, 0) + 1
    layers = tuple(Layer(name, tuple(tensors[i].shape if i >= 0 else () for i in op.inputs),
                         tensors[op.outputs[0]].shape) for name, op in zip(op_names, subgraph.operators))
    info = ModelInfo(size=len(data), sha256=hashlib.sha256(data).hexdigest(), ops=tuple(counts), op_counts=counts,
                     input=tensors[subgraph.inputs[0]], output=tensors[subgraph.outputs[0]],
                     macs=sum(layer_macs(layer) for layer in layers), activation_bytes=int(activation_bytes),
                     layers=layers)
    log.debug("%s: %d bytes, ops %s, %d MACs", source, info.size, counts, info.macs)
    return info
