"""The one module that imports a TFLite interpreter.

Order: ``ai_edge_litert`` (the successor of tflite-runtime, works with NumPy 2), then
``tflite_runtime``, then ``tensorflow.lite``. ``TFLiteClassifier`` wraps one interpreter for one
model for the whole run: float inputs in, probabilities out, int8 quantization handled with the
model's own scale and zero point (``edge.core.pixels``: the microcontroller's rounding).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge.core import pixels
from edge.core.errors import UserError
from edge.core.spec import ModelSpec, Quant

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install ai-edge-litert  (or: pip install 'fer-edge[edge]')"


def interpreter_class() -> tuple[Callable, str]:
    """Return (Interpreter class, backend name) from the first runtime that imports."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "ai-edge-litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter  # type: ignore[import-not-found]

        return Interpreter, "tflite-runtime"
    except ImportError:
        pass
    try:
        import tensorflow as tf  # type: ignore[import-not-found]

        return tf.lite.Interpreter, "tensorflow"
    except ImportError:
        pass
    raise UserError(f"no TFLite interpreter is installed: {INSTALL_HINT}")


def _quant(detail: dict) -> Quant | None:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    if detail["dtype"] in (np.int8, np.uint8) and scale > 0:
        return Quant(float(scale), int(zero_point))
    return None


#: what LiteRT's native code prints to stderr when it creates the default delegate (an INFO line)
DELEGATE_INFO = "Created TensorFlow Lite XNNPACK delegate"


@contextlib.contextmanager
def _native_info_hidden():
    """Unless INFO is logged, drop the INFO line LiteRT's C++ code writes straight to file descriptor 2 (no
    setting turns it off: TF_CPP_MIN_LOG_LEVEL does not reach it); anything else written there is passed on."""
    if log.isEnabledFor(logging.INFO):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            text = caught.read().decode(errors="replace")
            kept = "".join(line for line in text.splitlines(keepends=True) if DELEGATE_INFO not in line)
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def _no_delegates_option(Interpreter) -> dict:
    """Interpreter kwargs selecting the builtin kernels without the default (XNNPACK) delegate."""
    import sys

    module = sys.modules[Interpreter.__module__]
    resolver = getattr(module, "OpResolverType", None)
    if resolver is None:  # tensorflow.lite keeps it under experimental
        resolver = module.experimental.OpResolverType if hasattr(module, "experimental") else None
    if resolver is None:
        raise UserError(f"{Interpreter.__module__} cannot run without its default delegates")
    return {"experimental_op_resolver_type": resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES}


class TFLiteClassifier:
    """One interpreter for one classification model, created once per run.

    ``delegates=False`` runs LiteRT's builtin int8 kernels without the XNNPACK delegate: the
    kernels whose requantization TensorFlow Lite Micro's reference kernels follow (to 1-2 LSB), so
    firmware parity checks compare against them. The live loop keeps the faster default.
    """

    def __init__(self, model_path: str | Path, spec: ModelSpec | None = None, num_threads: int | None = None,
                 delegates: bool = True):
        self.path = Path(model_path)
        try:
            content = self.path.read_bytes()
        except OSError as e:
            raise UserError(f"{self.path}: cannot read model ({e.strerror or e})") from None
        if not content:  # LiteRT would say "model_path or model_content must be specified"
            raise UserError(f"{self.path}: an empty file (0 bytes; expected a .tflite model: copied or written "
                            "only in part?)")
        Interpreter, self.backend = interpreter_class()
        try:
            extra = {} if delegates else _no_delegates_option(Interpreter)
            with _native_info_hidden():
                self.interpreter = Interpreter(model_content=content, num_threads=num_threads, **extra)
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserError(f"{self.path}: not a loadable .tflite model ({first})") from None
        inputs = self.interpreter.get_input_details()
        outputs = self.interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise UserError(f"{self.path}: expected one input and one output tensor, "
                            f"got {len(inputs)} and {len(outputs)}")
        self._in, self._out = inputs[0], outputs[0]
        self.input_dtype = np.dtype(self._in["dtype"])
        self.output_dtype = np.dtype(self._out["dtype"])
        self.input_quant = _quant(self._in)
        self.output_quant = _quant(self._out)
        in_shape = tuple(int(d) for d in self._in["shape"])
        out_shape = tuple(int(d) for d in self._out["shape"])
        self.spec = spec
        if spec is not None:
            if in_shape[1:] != spec.input_shape:
                raise UserError(f"{self.path}: model input is {'x'.join(map(str, in_shape[1:]))}, "
                                f"expected {'x'.join(map(str, spec.input_shape))} as in its spec")
            if out_shape[-1] != spec.num_classes:
                raise UserError(f"{self.path}: model outputs {out_shape[-1]} classes, "
                                f"expected {spec.num_classes} ({', '.join(spec.labels)})")
        self.input_shape = in_shape
        self.num_classes = out_shape[-1]
        log.debug("loaded %s with %s: input %s %s, output %s %s", self.path, self.backend,
                  self.input_dtype, in_shape, self.output_dtype, out_shape)

    @property
    def is_quantized(self) -> bool:
        return self.input_quant is not None

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        """Float model input -> the dtype the model expects (int8/uint8 with its scale/zero point)."""
        if self.input_quant is None:
            return np.asarray(x, dtype=self.input_dtype)
        return pixels.quantize(x, self.input_quant, self.input_dtype)

    def dequantize_output(self, raw: np.ndarray) -> np.ndarray:
        if self.output_quant is None:
            return np.asarray(raw, dtype=np.float32)
        return (raw.astype(np.float32) - self.output_quant.zero_point) * np.float32(self.output_quant.scale)

    def invoke_raw(self, x: np.ndarray) -> np.ndarray:
        """Run one already-typed input of the model's input shape; return a copy of the raw output."""
        self.interpreter.set_tensor(self._in["index"], x.reshape(self.input_shape))
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._out["index"]).copy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        """float32 (N, H, W, C) model inputs -> float32 (N, classes) probabilities."""
        x = np.asarray(x)
        if x.ndim == len(self.input_shape) - 1:
            x = x[None]
        q = self.quantize_input(x)
        out = np.empty((len(q), self.num_classes), dtype=np.float32)
        for i in range(len(q)):
            out[i] = self.dequantize_output(self.invoke_raw(q[i])).reshape(-1)
        return out
