"""firmware_export's reading of .tflite files: ops, shapes, quantization, MACs, and what it refuses."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import require_tool

from edge.core.errors import UserError
from firmware_export import arena, ops
from firmware_export.tflite_model import read_model


def litert_ops(path: Path) -> list[str]:
    """The model's ops as LiteRT's interpreter lists them (without the default XNNPACK delegate)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_path=str(path),
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    return [op["op_name"] for op in interpreter._get_ops_details()]


def test_reads_ops_shapes_quantization_and_macs(tiny_models):
    import tf_keras as keras

    from edge.runtime import TFLiteClassifier
    from train.budget import model_budget

    path = tiny_models["int8"]
    info = read_model(path.read_bytes(), str(path))
    assert list(info.ops) == list(dict.fromkeys(litert_ops(path)))
    assert sum(info.op_counts.values()) == len(litert_ops(path))
    clf = TFLiteClassifier(path)
    assert info.input.shape == (1, 48, 48, 1) and info.input.dtype == "INT8"
    assert info.output.shape == (1, 7) and info.output.dtype == "INT8"
    assert info.input.quant == clf.input_quant and info.output.quant == clf.output_quant
    assert info.macs == model_budget(keras.models.load_model(tiny_models["keras"])).macs
    assert info.size == path.stat().st_size


@pytest.mark.slow
@pytest.mark.requires("tensorflow", "tf_keras")
@pytest.mark.parametrize("preset", ["seed", "micro", "micro_ds", "pi"])
def test_the_budget_and_the_tflite_reader_count_the_same_macs(preset):
    """train's budget counts MACs on the Keras graph before conversion, firmware_export on the .tflite after it:
    on every preset (narrowed to convert in seconds), converted to full int8, they agree."""
    import numpy as np

    from quantize.convert import convert_int8
    from train.budget import model_budget
    from train.models import build_model

    model = build_model(preset, width=8)
    x = np.random.default_rng(0).random((4, *model.input_shape[1:]), dtype=np.float32)
    info = read_model(convert_int8(model, x, what=preset), preset)
    assert info.macs == model_budget(model).macs > 0


def test_resolver_methods_map_and_refuse_ops():
    assert ops.resolver_methods(["CONV_2D", "DEPTHWISE_CONV_2D", "MEAN", "CONV_2D"]) == [
        "AddConv2D", "AddDepthwiseConv2D", "AddMean"]
    with pytest.raises(UserError, match="TILE, which TensorFlow Lite Micro does not implement"):
        ops.resolver_methods(["CONV_2D", "TILE"])


@pytest.mark.requires("tflite_micro")
def test_op_table_matches_schema_and_installed_tflm_kernels():
    """Every table entry is a real builtin op with a kernel in the tflite-micro build we test against."""
    from ai_edge_litert import schema_py_generated as schema
    from tflite_micro.python.tflite_micro import _runtime

    builtins = {k for k in vars(schema.BuiltinOperator) if not k.startswith("_")}
    assert set(ops.TFLM_OPS) <= builtins
    symbols = subprocess.run([require_tool("nm"), "-C", _runtime.__file__], capture_output=True, text=True,
                             check=True).stdout
    kernels = set(re.findall(r"Register_([A-Z0-9_]+)\(\)", symbols))
    assert set(ops.TFLM_OPS) <= kernels, sorted(set(ops.TFLM_OPS) - kernels)
    assert "TILE" not in kernels and "TILE" not in ops.TFLM_OPS


def test_refuses_float_and_non_tflite_and_truncated(tiny_models, tmp_path):
    with pytest.raises(UserError, match="a float model with FLOAT32 input"):
        read_model(tiny_models["float"].read_bytes(), "float.tflite")
    with pytest.raises(UserError, match="not a TensorFlow Lite model"):
        read_model(b"\x89PNG\r\n\x1a\n" + bytes(200), "x.png")
    with pytest.raises(UserError, match="not a TensorFlow Lite model"):
        read_model(b"", "empty.tflite")
    data = tiny_models["int8"].read_bytes()
    for cut in (64, len(data) // 2, len(data) - 8):
        with pytest.raises(UserError, match="damaged or truncated"):
            read_model(data[:cut], "cut.tflite")


def test_arena_measurement_is_what_tflm_needs(tiny_models):
    """The recommended arena works in TFLM, and an arena just under the measured head does not."""
    data = tiny_models["int8"].read_bytes()
    info = read_model(data)
    m = arena.measure_arena(data, 1 << 20, arena.optimized_scratch_bytes(info.layers), info.input.shape)
    assert 0 < m.head <= info.activation_bytes and m.tail > 0
    assert m.recommended % 16 == 0 and m.recommended >= m.used + m.scratch + 1024
    assert m.scratch == 2 * 8 * 3 * 3 * 2  # the 3x3 conv on 8 channels needs the largest CMSIS-NN buffer
    arena.tflm_interpreter(data, m.recommended)
    with pytest.raises(UserError, match="cannot prepare the model with a"):
        arena.tflm_interpreter(data, m.head - 64)


def test_capture_fd_output_gets_native_writes():
    import ctypes

    with arena.capture_fd_output() as out:
        ctypes.CDLL(None).write(2, b"from C on stderr\n", 17)
        ctypes.CDLL(None).printf(b"from C on stdout\n")
    assert "from C on stderr" in out[0] and "from C on stdout" in out[0]


@pytest.mark.requires("tflite_micro")
def test_parse_allocations_reports_unexpected_output():
    assert arena.parse_allocations("[R] Arena allocation total 30 bytes\n[R] Arena allocation head 20 bytes\n"
                                   "[R] Arena allocation tail 10 bytes") == (30, 20, 10)
    with pytest.raises(UserError, match="could not read the arena usage"):
        arena.parse_allocations("something else")


def test_optimized_scratch_ignores_pointwise_convs():
    from firmware_export.tflite_model import Layer

    layers = (Layer("CONV_2D", ((1, 8, 8, 32), (16, 1, 1, 32), (16,)), (1, 8, 8, 16)),
              Layer("AVERAGE_POOL_2D", ((1, 8, 8, 16),), (1, 1, 1, 16)))
    assert arena.optimized_scratch_bytes(layers) == 16 * 4


def test_margin_is_ten_percent_or_one_kib_rounded_to_16():
    assert arena.recommend(10000, 0) == 10000 + 1024
    assert arena.recommend(20000, 100) == 22112  # 20000 + 100 + 2000 = 22100, rounded up to 16
