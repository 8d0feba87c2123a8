"""What a built model will cost on a device once it is full-int8: weights, activations, MACs.

Everything is computed from the built Keras graph (layer types and tensor shapes), batch size 1,
as the TFLite converter will lay the model out:

- **MACs**: multiply-accumulates of Conv2D (``oh*ow*oc*kh*kw*ic/groups``), DepthwiseConv2D
  (``oh*ow*c*mult*kh*kw``) and Dense (``in*out`` per position). Pooling, activations, softmax and
  additions are not multiply-accumulates and are not counted.
- **int8 weight bytes**: one byte per kernel weight of every Conv2D/DepthwiseConv2D/Dense plus an
  int32 bias (4 bytes) per output channel (the converter folds a following BatchNormalization into
  that bias, or adds a zero one). Folded BatchNormalization costs nothing; a BatchNormalization
  that cannot be folded costs two int8 constants per channel; any other layer with weights costs
  one byte per weight. The ``.tflite`` adds a few KB on top (graph, per-channel scales).
- **peak activation bytes**: one byte per activation element. Layers the converter fuses into the
  producing op (BatchNormalization, Dropout, and ReLU/ReLU6 after a conv, dense or add) share
  their input's buffer. Walking the layers in graph order, a tensor is alive from the op that
  writes it to the last op that reads it (model outputs to the end); the peak is the largest sum
  of live tensor bytes at any op, i.e. input + output of the widest layer for a sequential graph.
  This is a lower bound on TFLite Micro's arena, which adds scratch buffers and alignment
  (firmware_export measures the real arena).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

from edge.core.errors import UserError

_MAC_LAYERS = ("Conv2D", "DepthwiseConv2D", "Dense")
_ALWAYS_FUSED = ("BatchNormalization", "Dropout")
_FUSABLE_ACTIVATIONS = {"ReLU": None, "Activation": ("relu", "relu6", "linear")}


@dataclass(frozen=True)
class Budget:
    params: int
    macs: int
    int8_weight_bytes: int
    peak_activation_bytes: int
    peak_layer: str
    float32_weight_bytes: int

    def to_dict(self) -> dict:
        return asdict(self)

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("parameters", f"{self.params:,}"),
            ("MACs per face", f"{self.macs:,} ({self.macs / 1e6:.1f} M)"),
            ("int8 weights (est.)", f"{self.int8_weight_bytes:,} B ({self.int8_weight_bytes / 1024:.1f} KiB)"),
            ("peak int8 activations", f"{self.peak_activation_bytes:,} B ({self.peak_activation_bytes / 1024:.1f} KiB) at {self.peak_layer}"),
            ("float32 weights", f"{self.float32_weight_bytes:,} B ({self.float32_weight_bytes / 1024:.1f} KiB)"),
        ]


def _as_list(t) -> list:
    return list(t) if isinstance(t, (list, tuple)) else [t]


def _elements(tensor) -> int:
    dims = tensor.shape[1:]
    if any(d is None for d in dims):
        raise UserError(f"tensor {tensor.name} has an unknown dimension {tuple(tensor.shape)}; "
                        "budgets need a model with a fixed input shape")
    return math.prod(int(d) for d in dims)


def _kind(layer) -> str:
    return type(layer).__name__


def _layer_macs(layer) -> int:
    kind = _kind(layer)
    out = layer.output
    if kind == "Conv2D":
        kh, kw = layer.kernel_size
        in_c = int(layer.input.shape[-1])
        return _elements(out) * kh * kw * in_c // layer.groups
    if kind == "DepthwiseConv2D":
        kh, kw = layer.kernel_size
        return _elements(out) * kh * kw
    if kind == "Dense":
        return _elements(out) * int(layer.input.shape[-1])
    return 0


def _layer_weight_bytes(layer, folded: bool) -> int:
    kind = _kind(layer)
    if kind in _MAC_LAYERS:
        kernel = layer.depthwise_kernel if kind == "DepthwiseConv2D" else layer.kernel
        return math.prod(kernel.shape) + 4 * int(layer.output.shape[-1])
    if kind == "BatchNormalization":
        return 0 if folded else 2 * int(layer.output.shape[-1])
    return sum(math.prod(w.shape) for w in layer.weights)


def _fuses_into_producer(layer, producer_kind: str | None) -> bool:
    kind = _kind(layer)
    if kind in _ALWAYS_FUSED:
        return True
    if kind in _FUSABLE_ACTIVATIONS and producer_kind in (*_MAC_LAYERS, "Add"):
        allowed = _FUSABLE_ACTIVATIONS[kind]
        if allowed is None:
            return layer.negative_slope == 0 and layer.threshold == 0
        return getattr(layer.activation, "__name__", "") in allowed
    return False


def model_budget(model) -> Budget:
    """Parameters, MACs, int8 weight bytes and peak int8 activation bytes of a built Keras model."""
    layers = [layer for layer in model.layers if _kind(layer) != "InputLayer"]
    storage: dict[int, int] = {}  # id(tensor) -> id of the buffer it lives in
    size: dict[int, int] = {}  # buffer id -> bytes
    born: dict[int, int] = {}  # buffer id -> index of the op writing it (-1: model input)
    last_use: dict[int, int] = {}  # buffer id -> index of the last op reading it
    producer_kind: dict[int, str] = {}  # buffer id -> kind of op that wrote it
    ops: list[tuple[int, str, list[int], int]] = []  # (index, layer name, input buffers, output buffer)
    for t in _as_list(model.inputs):
        storage[id(t)] = id(t)
        size[id(t)], born[id(t)] = _elements(t), -1

    macs = weight_bytes = 0
    for i, layer in enumerate(layers):
        if len(layer.inbound_nodes) > 1:
            raise UserError(f"layer {layer.name} is shared by several calls; budgets need each layer used once")
        inputs = [storage[id(t)] for t in _as_list(layer.input)]
        out = layer.output
        fused = len(inputs) == 1 and _fuses_into_producer(layer, producer_kind.get(inputs[0]))
        macs += _layer_macs(layer)
        weight_bytes += _layer_weight_bytes(layer, folded=fused)
        if fused:  # same buffer, no new op
            storage[id(out)] = inputs[0]
            continue
        buf = id(out)
        storage[buf], size[buf], born[buf], producer_kind[buf] = buf, _elements(out), i, _kind(layer)
        for b in inputs:
            last_use[b] = i
        ops.append((i, layer.name, inputs, buf))

    end = len(layers)
    for t in _as_list(model.outputs):
        last_use[storage[id(t)]] = end
    peak, peak_layer = 0, "input"
    for i, name, inputs, out in ops:
        live = {b for b in size if born[b] <= i and last_use.get(b, born[b]) >= i} | set(inputs) | {out}
        total = sum(size[b] for b in live)
        if total > peak:
            peak, peak_layer = total, name
    return Budget(params=int(model.count_params()), macs=int(macs), int8_weight_bytes=int(weight_bytes),
                  peak_activation_bytes=int(peak), peak_layer=peak_layer,
                  float32_weight_bytes=4 * int(model.count_params()))


_UNITS = {"": 1, "b": 1, "kb": 1000, "k": 1000, "kib": 1024, "mb": 1000**2, "m": 1000**2, "mib": 1024**2}


def parse_bytes(text: str | int) -> int:
    """'150KB' -> 150000, '64KiB' -> 65536, '2MB', '2MiB', '4096' -> bytes (KB/MB are SI, KiB/MiB binary)."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    if not m or m.group(2).lower() not in _UNITS:
        raise UserError(f"{text!r} is not a byte size (expected e.g. 150000, 150KB, 64KiB, 2MB)")
    value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if value <= 0:
        raise UserError(f"{text!r}: a byte limit must be positive")
    return int(value)


def check_fits(budget: Budget, name: str, max_flash: int | None = None, max_ram: int | None = None) -> None:
    """Raise a UserError with the numbers when the model exceeds a limit."""
    problems = []
    if max_flash is not None and budget.int8_weight_bytes > max_flash:
        problems.append(f"int8 weights need {budget.int8_weight_bytes:,} B but --max-flash is {max_flash:,} B")
    if max_ram is not None and budget.peak_activation_bytes > max_ram:
        problems.append(f"peak int8 activations need {budget.peak_activation_bytes:,} B (at {budget.peak_layer}) "
                        f"but --max-ram is {max_ram:,} B")
    if problems:
        raise UserError(f"{name} does not fit: " + "; ".join(problems)
                        + " (choose a smaller preset or --width/--depth)")
