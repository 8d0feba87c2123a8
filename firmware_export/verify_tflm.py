"""``--verify-tflm TFLM_DIR``: the exported sources, compiled as shipped against the user's TFLM tree.

With a tflite-micro checkout (its Makefile fetches its third-party code into
``tensorflow/lite/micro/tools/make/downloads/`` when online; offline it must already be there):

1. TFLM's own Makefile builds ``libtensorflow-microlite.a`` for the host with the reference kernels
   (``firmware_export.tflm``), into ``tflm-build/<commit>-<path hash>/`` in the fer-edge cache folder; make
   rebuilds only what changed, so later calls take seconds.
2. The exported ``main.cc`` and ``<name>_data.cc``, untouched, link into the example program, which
   must run and print the arena line and a label matching tflite-micro Python on its test frame.
3. A small generated harness (``harness.cc``, using the export's headers as a firmware would) runs
   the parity inputs through the C++ interpreter with the exported ``kTensorArenaSize`` arena; every
   int8 output must be bit-identical to tflite-micro's Python interpreter, and the C++
   ``arena_used_bytes()`` must fit the exported size.

A wrong TFLM_DIR is a UserError (exit 2); a failed build, a mismatch or an arena that does not fit
is exit 1, naming the build log.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from string import Template

import numpy as np

from edge.core.pixels import quantize_pixel
from firmware_export.settings import Settings
from firmware_export.tflm import tree
from firmware_export.tflm.library import HOST, build_library
from firmware_export.tflm.make import fail, run_logged

log = logging.getLogger(__name__)

OPTION = "--verify-tflm"
_EXAMPLE_ARENA = re.compile(r"arena: (\d+) of (\d+) bytes used")
_EXAMPLE_RESULT = re.compile(r"^(\S+) (-?\d+)%\s*$", re.M)


@dataclass(frozen=True)
class TflmVerification:
    tflm_dir: str
    tflm_commit: str | None
    inputs: int
    bit_identical: int
    arena_used: int  # the C++ interpreter's arena_used_bytes() after the inputs ran
    arena_size: int  # the exported kTensorArenaSize
    example_output: str  # what the unmodified main.cc printed
    build_dir: str

    def summary(self) -> str:
        return (f"{self.bit_identical}/{self.inputs} outputs bit-identical to tflite-micro Python; C++ "
                f"arena_used_bytes() {self.arena_used:,} of the exported {self.arena_size:,} bytes")

    def to_record(self) -> dict:
        return asdict(self)


def check_tree(tflm_dir: str | os.PathLike) -> Path:
    """The checkout, checked before any slow step (a one-line UserError, exit 2)."""
    return tree.check_tree(tflm_dir, OPTION)


def compile_for_host(root: Path, source: Path, include: Path, log_path: Path) -> Path:
    """``source`` -> an object file beside the log, with the defines TFLM's host library was built with."""
    downloads = root / tree.DOWNLOADS
    flags = ["-std=c++17", "-O2", "-DTF_LITE_STATIC_MEMORY", "-fno-rtti", "-fno-exceptions"]
    incs = [f"-I{p}" for p in (include, root, downloads / "flatbuffers" / "include", downloads / "gemmlowp")]
    obj = log_path.parent / f"{source.name}.o"
    if run_logged([os.environ.get("CXX", "g++"), *flags, *incs, "-c", str(source), "-o", str(obj)], log_path) != 0:
        raise fail(f"compiling {source.name} against TFLM failed", log_path, OPTION)
    return obj


def link_for_host(objects: list[Path], lib: Path, out: Path, log_path: Path) -> None:
    """``objects`` and TFLM's host library -> the program ``out``."""
    if run_logged([os.environ.get("CXX", "g++"), *map(str, objects), str(lib), "-lm", "-o", str(out)], log_path):
        raise fail(f"linking {out.name} with {lib} failed", log_path, OPTION)


def _harness_source(name: str) -> str:
    text = resources.files("firmware_export").joinpath("templates", "verify_harness.cc").read_text(encoding="utf-8")
    return Template(text).substitute(name=name, NAME=name.upper())


def example_frame(settings: Settings) -> np.ndarray:
    """main.cc's test frame, quantized as ``<name>_quantize_pixel`` does it."""
    rows, cols = settings.rows, settings.cols
    y, x = np.mgrid[0:rows, 0:cols]
    frame = ((x + y) * 255 // (rows + cols - 2)).astype(np.uint8)
    return quantize_pixel(frame, settings.pixel_scale, settings.pixel_offset, settings.input_quant).reshape(1, -1)


def python_outputs(data: bytes, settings: Settings, inputs: np.ndarray) -> np.ndarray:
    """tflite-micro Python's int8 outputs for (N, pixels) int8 inputs, with the exported arena size."""
    from firmware_export.arena import tflm_interpreter

    interpreter = tflm_interpreter(data, settings.arena_size)
    outputs = []
    for x in inputs:
        interpreter.set_input(x.reshape(1, settings.rows, settings.cols, settings.channels), 0)
        interpreter.invoke()
        outputs.append(np.asarray(interpreter.get_output(0)).reshape(-1).copy())
    return np.stack(outputs).astype(np.int8)


def _check_example(binary: Path, log_path: Path, data: bytes, settings: Settings) -> tuple[str, int]:
    done = subprocess.run([str(binary)], capture_output=True, text=True, timeout=120)
    printed = (done.stdout + done.stderr).strip()
    with open(log_path, "a", encoding="utf-8") as out:
        out.write(f"$ {binary}\n{printed}\n(exit {done.returncode})\n")
    arena, result = _EXAMPLE_ARENA.search(printed), _EXAMPLE_RESULT.search(printed)
    if done.returncode != 0 or not arena or not result:
        raise fail(f"the example main.cc exited {done.returncode} and printed {printed[:200]!r}", log_path, OPTION)
    scores = python_outputs(data, settings, example_frame(settings))[0].astype(np.int32)
    best = int(scores.argmax())
    score = np.float32(scores[best] - settings.output_quant.zero_point) * np.float32(settings.output_quant.scale)
    expected = f"{settings.labels[best]} {int(score * np.float32(100) + np.float32(0.5))}%"
    if f"{result.group(1)} {result.group(2)}%" != expected:
        raise fail(f"the example main.cc printed {result.group(0).strip()!r}, tflite-micro Python gives "
                    f"{expected!r} on its test frame", log_path, OPTION)
    return printed, int(arena.group(1))


def verify_export(export_dir: Path, name: str, data: bytes, settings: Settings, inputs: np.ndarray,
                  tflm_dir: str) -> TflmVerification:
    """Build the export in ``export_dir`` against ``tflm_dir`` and check it bit for bit (see the module doc)."""
    root = check_tree(tflm_dir)
    commit = tree.tree_commit(root)
    build = tree.build_root(root, commit)
    lib = build_library(root, build, HOST, OPTION).path
    (build / "apps").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=build / "apps"))
    log_path = work / "build.log"
    harness_cc = work / "verify_harness.cc"
    harness_cc.write_text(_harness_source(name), encoding="utf-8")
    log.info("--verify-tflm: compiling main.cc and the harness against %s", lib)
    main_o, model_o, harness_o = (compile_for_host(root, src, export_dir, log_path)
                                  for src in (export_dir / "main.cc", export_dir / f"{name}_data.cc", harness_cc))
    link_for_host([main_o, model_o], lib, work / "example", log_path)
    link_for_host([harness_o, model_o], lib, work / "harness", log_path)
    example_output, example_arena = _check_example(work / "example", log_path, data, settings)

    inputs = np.ascontiguousarray(inputs, np.int8).reshape(len(inputs), -1)
    (work / "inputs.bin").write_bytes(inputs.tobytes())
    done = subprocess.run([str(work / "harness"), str(work / "inputs.bin"), str(work / "outputs.bin")],
                          capture_output=True, text=True, timeout=1800)
    with open(log_path, "a", encoding="utf-8") as out:
        out.write(f"$ harness on {len(inputs)} inputs\n{done.stdout}{done.stderr}(exit {done.returncode})\n")
    if done.returncode == 3:
        raise fail(f"the exported arena of {settings.arena_size:,} bytes is too small for TFLM's C++ interpreter "
                    f"({done.stderr.strip()[:200]})", log_path, OPTION)
    used = re.search(r"arena_used_bytes (\d+)", done.stdout)
    if done.returncode != 0 or not used:
        raise fail(f"the harness exited {done.returncode}: {(done.stderr or done.stdout).strip()[:200]!r}", log_path,
                   OPTION)
    arena_used = int(used.group(1))
    cpp = np.frombuffer((work / "outputs.bin").read_bytes(), np.int8)
    py = python_outputs(data, settings, inputs)
    if cpp.size != py.size:
        raise fail(f"the harness wrote {cpp.size} output values, expected {py.size}", log_path, OPTION)
    cpp = cpp.reshape(py.shape)
    same = (cpp == py).all(axis=1)
    if not same.all():
        i = int(np.flatnonzero(~same)[0])
        raise fail(f"{int((~same).sum())} of {len(py)} outputs differ from tflite-micro Python; first, input {i}: "
                    f"C++ {cpp[i].tolist()} vs Python {py[i].tolist()}", log_path, OPTION)
    if arena_used > settings.arena_size or example_arena != arena_used:
        raise fail(f"arena_used_bytes() {arena_used:,} (example: {example_arena:,}) against the exported "
                    f"{settings.arena_size:,}", log_path, OPTION)
    shutil.rmtree(work, ignore_errors=True)
    return TflmVerification(str(root), commit, len(py), int(same.sum()), arena_used, settings.arena_size,
                            example_output, str(build))
