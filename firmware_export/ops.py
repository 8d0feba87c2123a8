"""The generated op resolver: builtin ops of the model -> ``tflite::MicroMutableOpResolver`` calls.

``TFLM_OPS`` maps a TFLite builtin operator name (``schema.fbs``'s ``BuiltinOperator``) to the
``MicroMutableOpResolver`` method that registers its TensorFlow Lite Micro kernel. It lists the
builtin kernels of the tflite-micro build this project tests against (the ``Register_*`` symbols
of its Python interpreter); an op missing here has no TFLM kernel, and the export refuses it.
"""

from __future__ import annotations

from edge.core.errors import UserError

TFLM_OPS: dict[str, str] = {
    "ABS": "AddAbs", "ADD": "AddAdd", "ADD_N": "AddAddN", "ARG_MAX": "AddArgMax", "ARG_MIN": "AddArgMin",
    "ASSIGN_VARIABLE": "AddAssignVariable", "AVERAGE_POOL_2D": "AddAveragePool2D",
    "BATCH_MATMUL": "AddBatchMatMul", "BATCH_TO_SPACE_ND": "AddBatchToSpaceNd",
    "BROADCAST_ARGS": "AddBroadcastArgs", "BROADCAST_TO": "AddBroadcastTo", "CALL_ONCE": "AddCallOnce",
    "CAST": "AddCast", "CEIL": "AddCeil", "CONCATENATION": "AddConcatenation", "CONV_2D": "AddConv2D",
    "COS": "AddCos", "CUMSUM": "AddCumSum", "DEPTH_TO_SPACE": "AddDepthToSpace",
    "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D", "DEQUANTIZE": "AddDequantize", "DIV": "AddDiv",
    "DYNAMIC_UPDATE_SLICE": "AddDynamicUpdateSlice", "ELU": "AddElu", "EMBEDDING_LOOKUP": "AddEmbeddingLookup",
    "EQUAL": "AddEqual", "EXP": "AddExp", "EXPAND_DIMS": "AddExpandDims", "FILL": "AddFill",
    "FLOOR": "AddFloor", "FLOOR_DIV": "AddFloorDiv", "FLOOR_MOD": "AddFloorMod",
    "FULLY_CONNECTED": "AddFullyConnected", "GATHER": "AddGather", "GATHER_ND": "AddGatherNd",
    "GREATER": "AddGreater", "GREATER_EQUAL": "AddGreaterEqual", "HARD_SWISH": "AddHardSwish", "IF": "AddIf",
    "L2_NORMALIZATION": "AddL2Normalization", "L2_POOL_2D": "AddL2Pool2D", "LEAKY_RELU": "AddLeakyRelu",
    "LESS": "AddLess", "LESS_EQUAL": "AddLessEqual", "LOG": "AddLog", "LOG_SOFTMAX": "AddLogSoftmax",
    "LOGICAL_AND": "AddLogicalAnd", "LOGICAL_NOT": "AddLogicalNot", "LOGICAL_OR": "AddLogicalOr",
    "LOGISTIC": "AddLogistic", "MAX_POOL_2D": "AddMaxPool2D", "MAXIMUM": "AddMaximum", "MEAN": "AddMean",
    "MINIMUM": "AddMinimum", "MIRROR_PAD": "AddMirrorPad", "MUL": "AddMul", "NEG": "AddNeg",
    "NOT_EQUAL": "AddNotEqual", "PACK": "AddPack", "PAD": "AddPad", "PADV2": "AddPadV2", "PRELU": "AddPrelu",
    "QUANTIZE": "AddQuantize", "READ_VARIABLE": "AddReadVariable", "REDUCE_ALL": "AddReduceAll",
    "REDUCE_MAX": "AddReduceMax", "REDUCE_MIN": "AddReduceMin", "RELU": "AddRelu", "RELU6": "AddRelu6",
    "RESHAPE": "AddReshape", "RESIZE_BILINEAR": "AddResizeBilinear",
    "RESIZE_NEAREST_NEIGHBOR": "AddResizeNearestNeighbor", "REVERSE_V2": "AddReverseV2", "ROUND": "AddRound",
    "RSQRT": "AddRsqrt", "SELECT_V2": "AddSelectV2", "SHAPE": "AddShape", "SIN": "AddSin", "SLICE": "AddSlice",
    "SOFTMAX": "AddSoftmax", "SPACE_TO_BATCH_ND": "AddSpaceToBatchNd", "SPACE_TO_DEPTH": "AddSpaceToDepth",
    "SPLIT": "AddSplit", "SPLIT_V": "AddSplitV", "SQRT": "AddSqrt", "SQUARE": "AddSquare",
    "SQUARED_DIFFERENCE": "AddSquaredDifference", "SQUEEZE": "AddSqueeze", "STRIDED_SLICE": "AddStridedSlice",
    "SUB": "AddSub", "SUM": "AddSum", "SVDF": "AddSvdf", "TANH": "AddTanh", "TRANSPOSE": "AddTranspose",
    "TRANSPOSE_CONV": "AddTransposeConv", "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM",
    "UNPACK": "AddUnpack", "VAR_HANDLE": "AddVarHandle", "WHILE": "AddWhile", "ZEROS_LIKE": "AddZerosLike",
}


def resolver_methods(ops: tuple[str, ...] | list[str], source: str = "model") -> list[str]:
    """The ``Add*`` methods registering ``ops`` (each once, in the given order); refuses ops TFLM lacks."""
    missing = [op for op in ops if op not in TFLM_OPS]
    if missing:
        raise UserError(f"{source}: uses {', '.join(missing)}, which TensorFlow Lite Micro does not implement; "
                        "rebuild the model without this op (see TFLM's micro_mutable_op_resolver.h for what exists)")
    return list(dict.fromkeys(TFLM_OPS[op] for op in ops))


def emit_ops_header(name: str, ops: tuple[str, ...] | list[str], banner: str) -> str:
    """``<name>_ops.h``: ``<name>::OpResolver`` sized exactly and ``<name>::RegisterOps(resolver)``."""
    ops = list(dict.fromkeys(ops))
    methods = resolver_methods(ops)
    guard = f"{name.upper()}_OPS_H_"
    calls = "\n".join(f"  status = resolver.{m}();  // {op}\n  if (status != kTfLiteOk) return status;"
                      for m, op in zip(methods, ops))
    return f"""{banner}
// The TensorFlow Lite Micro kernels this model needs, and nothing else.
#ifndef {guard}
#define {guard}

#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"

namespace {name} {{

// Number of distinct builtin ops in the model: the resolver holds exactly these.
constexpr unsigned int kNumOps = {len(methods)};
using OpResolver = tflite::MicroMutableOpResolver<kNumOps>;

// Registers the model's ops; returns the first error (a duplicate or a full resolver).
inline TfLiteStatus RegisterOps(OpResolver& resolver) {{
  TfLiteStatus status = kTfLiteOk;
{calls}
  return status;
}}

}}  // namespace {name}

#endif  // {guard}
"""
