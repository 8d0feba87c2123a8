"""The tensor arena, measured in the real TensorFlow Lite Micro interpreter.

tflite-micro's Python interpreter (``tflite_micro.python.tflite_micro.runtime``) allocates with a
``RecordingMicroAllocator`` and exposes what it used only through ``print_allocations()``, which
prints from C++ (``vfprintf`` to stderr) a report whose first line is
``[RecordingMicroAllocator] Arena allocation total N bytes`` (head: the planned tensor buffers;
tail: persistent structures). ``capture_fd_output`` captures that at the file-descriptor level and
``measure_arena`` parses it. The measured figure is head + tail, each rounded up to 16 bytes (the raw
total moves by a few bytes of alignment padding with the address malloc returned).

The recommended ``kTensorArenaSize`` adds a documented margin to it, rounded up to 16 bytes:

- ``optimized_scratch``: optimized kernels (CMSIS-NN on Cortex-M, ESP-NN on ESP32) request scratch
  buffers in Prepare that the reference kernels measured here do not. Their size follows from the
  model (CMSIS-NN with DSP: conv 2*Cin*kh*kw int16, depthwise Cin*kh*kw int16, average pool Cin int32);
  a scratch buffer lives only during its op, so the largest one bounds what they add to the peak.
- ``10 %`` of the total (at least 1 KiB) for allocations made in Prepare that the recorder does not
  attribute and for differences between TFLM versions.

The host is 64-bit, so the persistent tail (pointers, TfLiteEvalTensor, node structs) measured here
is larger than on a 32-bit MCU: one more reason the figure errs on the safe side.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from edge.core.errors import UserError
from firmware_export.tflite_model import Layer

log = logging.getLogger(__name__)

_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")
_HEAD = re.compile(r"Arena allocation head (\d+) bytes")
_TAIL = re.compile(r"Arena allocation tail (\d+) bytes")
MARGIN_FRACTION = 0.10
MIN_MARGIN = 1024
ALIGN = 16


def round_up(n: int, align: int = ALIGN) -> int:
    return -(-int(n) // align) * align


@dataclass(frozen=True)
class ArenaMeasurement:
    head: int  # bytes of the arena's head (planned tensor buffers) the RecordingMicroAllocator reported
    tail: int  # bytes of its tail (persistent structures)
    scratch: int  # largest scratch buffer an optimized kernel would add
    recommended: int  # used + scratch + max(10 %, 1 KiB), rounded up to 16
    tflm_version: str

    @property
    def used(self) -> int:
        """Head + tail, each rounded up to 16 (the raw total moves by a few bytes with the buffer's address)."""
        return round_up(self.head) + round_up(self.tail)

    @property
    def note(self) -> str:
        return (f"{self.used} measured in tflite-micro {self.tflm_version} (head {round_up(self.head)} + tail "
                f"{round_up(self.tail)}) + {self.scratch} optimized-kernel scratch + max(10%, 1 KiB) margin, "
                f"rounded up to {ALIGN}")


def _libc_flush() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).fflush(None)


@contextlib.contextmanager
def capture_fd_output(fds: tuple[int, ...] = (1, 2)) -> Iterator[list[str]]:
    """Capture what native code writes to ``fds`` (stdout, stderr); the text is in the yielded list after."""
    result: list[str] = []
    sys.stdout.flush()
    sys.stderr.flush()
    _libc_flush()
    with tempfile.TemporaryFile(mode="w+b") as sink:
        saved = [os.dup(fd) for fd in fds]
        try:
            for fd in fds:
                os.dup2(sink.fileno(), fd)
            yield result
        finally:
            _libc_flush()
            for fd, copy in zip(fds, saved):
                os.dup2(copy, fd)
                os.close(copy)
            sink.seek(0)
            result.append(sink.read().decode("utf-8", "replace"))


def tflm_version() -> str:
    from tflite_micro.python.tflite_micro import _version

    return _version.__version__


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines[:2]) if lines else "no message"


def tflm_interpreter(data: bytes, arena_size: int, source: str = "model"):
    """A TFLM Python interpreter for ``data``; its C++ error text becomes a one-line UserError."""
    from tflite_micro.python.tflite_micro import runtime

    with capture_fd_output() as out:
        try:
            interpreter = runtime.Interpreter.from_bytes(bytes(data), arena_size=int(arena_size))
            error = None
        except (RuntimeError, ValueError) as e:
            interpreter, error = None, e
    if interpreter is None:
        raise UserError(f"{source}: TensorFlow Lite Micro cannot prepare the model with a {arena_size}-byte arena "
                        f"({error}: {_first_line(out[0])})")
    return interpreter


def optimized_scratch_bytes(layers: tuple[Layer, ...]) -> int:
    """Largest scratch buffer CMSIS-NN-style kernels request for these layers (0 if none)."""
    sizes = [0]
    for layer in layers:
        cin = layer.input_shapes[0][-1] if layer.input_shapes and layer.input_shapes[0] else 0
        if layer.op == "CONV_2D":  # weights (out_c, kh, kw, in_c); 1x1 convs need no im2col buffer
            kh, kw = layer.input_shapes[1][1:3]
            sizes.append(0 if (kh, kw) == (1, 1) else 2 * cin * kh * kw * 2)
        elif layer.op == "DEPTHWISE_CONV_2D":  # weights (1, kh, kw, out_c)
            kh, kw = layer.input_shapes[1][1:3]
            sizes.append(cin * kh * kw * 2)
        elif layer.op == "AVERAGE_POOL_2D":
            sizes.append(cin * 4)
    return max(sizes)


def parse_allocations(text: str) -> tuple[int, int, int]:
    found = [p.search(text) for p in (_TOTAL, _HEAD, _TAIL)]
    if not all(found):
        raise UserError("could not read the arena usage from tflite-micro's print_allocations() "
                        f"(tflite-micro {tflm_version()} printed: {_first_line(text)!r})")
    return tuple(int(m.group(1)) for m in found)  # type: ignore[return-value]


def recommend(used: int, scratch: int) -> int:
    return round_up(used + scratch + max(MIN_MARGIN, int(np.ceil(used * MARGIN_FRACTION))))


def measure_arena(data: bytes, probe_size: int, scratch: int, input_shape: tuple[int, ...],
                  source: str = "model") -> ArenaMeasurement:
    """Run the model once in TFLM with a ``probe_size``-byte arena and read what it really allocated."""
    interpreter = tflm_interpreter(data, probe_size, source)
    interpreter.set_input(np.zeros(input_shape, np.int8), 0)
    with capture_fd_output() as out:
        interpreter.invoke()
        interpreter.print_allocations()
    total, head, tail = parse_allocations(out[0])
    log.debug("TFLM RecordingMicroAllocator: total %d = head %d + tail %d", total, head, tail)
    used = round_up(head) + round_up(tail)
    m = ArenaMeasurement(head, tail, scratch, recommend(used, scratch), tflm_version())
    log.info("arena: %s -> %d bytes", m.note, m.recommended)
    return m
