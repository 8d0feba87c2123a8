"""``--measure-m4 TFLM_DIR``: instructions per inference on an emulated Cortex-M4, reference vs CMSIS-NN.

With a tflite-micro checkout whose third-party code is in ``tensorflow/lite/micro/tools/make/downloads/``
(where TFLM's download scripts put CMSIS, CMSIS-NN, flatbuffers, gemmlowp, ruy, kissfft and pigweed on
the first build of a Cortex-M target while online), arm-none-eabi-gcc and qemu-system-arm:

1. TFLM's Makefile builds ``libtensorflow-microlite.a`` for ``TARGET=cortex_m_generic
   TARGET_ARCH=cortex-m4`` (no FPU, ``BUILD_TYPE=release_with_logs``, the type TFLM recommends for
   profiling) twice, with the reference kernels and with ``OPTIMIZED_KERNEL_DIR=cmsis_nn``, into the
   fer-edge cache (one folder per tree commit and kernel set; make rebuilds only what changed):
   ``firmware_export.tflm``.
2. The exported ``<name>_data.cc`` links with a small firmware that times ``Invoke()`` on a few built-in
   inputs with the board's 25 MHz timer 0 (``firmware_export.m4.firmware``).
3. Each firmware runs under ``qemu-system-arm -M mps2-an386 -icount shift=0`` (``firmware_export.m4.qemu``).
   Instructions are exact up to one tick; cycles on a real core are not modelled, hence the stated
   cycles-per-instruction assumption when they are turned into ms (``firmware_export.render``).

The reference build's outputs must be bit-identical to tflite-micro's Python interpreter (same kernels);
the CMSIS-NN build's are compared to them (largest LSB difference, top-1 agreement).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edge.core.errors import UserError
from firmware_export import verify_tflm
from firmware_export.m4 import OPTION
from firmware_export.m4.firmware import build_firmware, code_bytes, with_library
from firmware_export.m4.qemu import MACHINE, parse_run, run_firmware
from firmware_export.render import CPI_ASSUMED, kernel_title
from firmware_export.tflite_model import read_model
from firmware_export.tflm import tree
from firmware_export.tflm.library import cortex_m4
from firmware_export.tflm.make import fail

log = logging.getLogger(__name__)

KERNELS = ("reference", "cmsis_nn")
#: downloads the cortex_m_generic build reads (TFLM's Makefile fetches them while it parses, when online)
NEEDED_DOWNLOADS = {
    "cmsis": "CMSIS/Core/Include/cmsis_compiler.h",
    "cmsis/Cortex_DFP": "Device/ARMCM4/Include/ARMCM4.h",
    "cmsis_nn": "Include/arm_nnfunctions.h",
    "flatbuffers": "include/flatbuffers/flatbuffers.h",
    "gemmlowp": "fixedpoint/fixedpoint.h",
    "ruy": "ruy",
    "kissfft": "kiss_fft.h",
    "pigweed": "pw_preprocessor",
}


@dataclass(frozen=True)
class KernelRun:
    kernels: str
    instructions: list[int]  # per input: timer ticks x calibrated instructions per tick
    outputs: list[list[int]]  # int8 outputs per input
    arena_used: int
    code_bytes: int  # .text of the firmware (TFLM runtime + kernels + model + harness)
    library: str

    @property
    def per_inference(self) -> int:
        return int(np.median(self.instructions))


@dataclass(frozen=True)
class M4Measurement:
    tflm_dir: str
    tflm_commit: str | None
    toolchain: str
    qemu: str
    machine: str
    instructions_per_tick: float
    inputs: int
    runs: dict[str, KernelRun]
    python_identical: int  # reference-build outputs equal to tflite-micro Python's
    agreement: dict = field(default_factory=dict)  # CMSIS-NN vs reference: identical, max_lsb_diff, top1_agree

    def instructions(self, kernels: str) -> int:
        return self.runs[kernels].per_inference

    def to_record(self) -> dict:
        record = asdict(self)
        record["instructions_per_inference"] = {k: r.per_inference for k, r in self.runs.items()}
        record["cycles_per_instruction_assumed"] = list(CPI_ASSUMED)
        return record

    def summary(self) -> str:
        counts = ", ".join(f"{kernel_title(k)} {self.instructions(k) / 1e6:.2f} M" for k in self.runs)
        a = self.agreement
        agree = (f"CMSIS-NN outputs identical to the reference kernels' on {a['identical']}/{self.inputs} inputs "
                 f"(max {a['max_lsb_diff']} LSB, top-1 agrees on {a['top1_agree']}/{self.inputs})" if a else "")
        return (f"instructions per inference on an emulated Cortex-M4 (QEMU {self.machine}, -icount): {counts}; "
                f"arena_used_bytes {' / '.join(f'{r.arena_used:,}' for r in self.runs.values())}; reference outputs "
                f"bit-identical to tflite-micro Python on {self.python_identical}/{self.inputs} inputs; {agree}")


def measure_inputs(model_path: Path, spec, settings, synthetic: int = 2) -> np.ndarray:
    """main.cc's test frame and the first parity crops, as int8 input tensors (deterministic)."""
    from firmware_export import parity

    crops = parity.parity_inputs(model_path, spec, parity.synthetic_crops(synthetic))
    frame = verify_tflm.example_frame(settings)
    return np.concatenate([frame, crops.reshape(len(crops), -1)]).astype(np.int8)


def find_tools() -> tuple[str, str]:
    """(arm-none-eabi-gcc, qemu-system-arm) paths, or a one-line UserError with the fix."""
    gcc, qemu = shutil.which("arm-none-eabi-gcc"), shutil.which("qemu-system-arm")
    if not gcc:
        raise UserError(f"{OPTION}: arm-none-eabi-gcc not found on PATH (Debian/Ubuntu: apt install "
                        "gcc-arm-none-eabi libstdc++-arm-none-eabi-newlib)")
    if not qemu:
        raise UserError(f"{OPTION}: qemu-system-arm not found on PATH (Debian/Ubuntu: apt install qemu-system-arm)")
    if not shutil.which("make"):
        raise UserError(f"{OPTION}: make not found on PATH (Debian/Ubuntu: apt install make)")
    return gcc, qemu


def check_tree(tflm_dir: str) -> Path:
    """The tree, its third-party downloads and the tools, checked before any slow step."""
    root = tree.check_tree(tflm_dir, OPTION)
    tree.check_downloads(root, NEEDED_DOWNLOADS, OPTION, tflm_dir,
                         "TARGET=cortex_m_generic TARGET_ARCH=cortex-m4 OPTIMIZED_KERNEL_DIR=cmsis_nn")
    find_tools()
    return root


def tool_version(tool: str) -> str:
    """The first line of ``tool --version``."""
    done = subprocess.run([tool, "--version"], capture_output=True, text=True)
    return (done.stdout.splitlines() or [tool])[0].strip()


def compare(reference: np.ndarray, other: np.ndarray) -> dict:
    diff = np.abs(reference.astype(np.int32) - other.astype(np.int32))
    return {"identical": int((diff == 0).all(axis=1).sum()), "max_lsb_diff": int(diff.max(initial=0)),
            "top1_agree": int((reference.argmax(axis=1) == other.argmax(axis=1)).sum())}


def measure_export(export_dir: Path, name: str, data: bytes, settings, inputs: np.ndarray, tflm_dir: str,
                   kernels: tuple[str, ...] = KERNELS) -> M4Measurement:
    """Build the export for a Cortex-M4 with each kernel set, run it under QEMU and count instructions."""
    root = check_tree(tflm_dir)
    gcc, qemu = find_tools()
    commit = tree.tree_commit(root)
    cache = tree.build_root(root, commit)
    inputs = np.ascontiguousarray(inputs, np.int8).reshape(len(inputs), -1)
    (cache / "apps").mkdir(parents=True, exist_ok=True)
    work_root = Path(tempfile.mkdtemp(prefix=f"{name}-m4-", dir=cache / "apps"))
    runs, per_ticks = {}, []
    ops = list(read_model(data, name).ops)
    for k in kernels:
        work = work_root / k
        work.mkdir()
        lib, elf = with_library(root, cache / f"m4-{k}", cortex_m4(gcc, k), ops, work,
                                lambda library, work=work: build_firmware(root, export_dir, name, library, gcc, work,
                                                                          inputs))
        log.info("%s: running the %s firmware under QEMU %s", OPTION, kernel_title(k), MACHINE)
        printed = run_firmware(qemu, elf, work / "build.log")
        per_tick, arena, instructions, outputs = parse_run(printed, k, len(inputs), work / "build.log")
        per_ticks.append(per_tick)
        runs[k] = KernelRun(k, instructions, outputs, arena, code_bytes(gcc, elf), str(lib.path))
    py = verify_tflm.python_outputs(data, settings, inputs)
    ref = np.asarray(runs[kernels[0]].outputs, np.int8)[:, :py.shape[1]]
    log_path = work_root / kernels[0] / "build.log"
    if ref.shape != py.shape:
        raise fail(f"the firmware printed {ref.shape[1]} output values per input, expected {py.shape[1]}", log_path,
                   OPTION)
    python_identical = int((ref == py).all(axis=1).sum())
    if kernels[0] == "reference" and python_identical != len(py):
        raise fail(f"the reference-kernel build's outputs differ from tflite-micro Python on "
                   f"{len(py) - python_identical} of {len(py)} inputs", log_path, OPTION)
    agreement = (compare(ref, np.asarray(runs[kernels[1]].outputs, np.int8)[:, :py.shape[1]])
                 if len(kernels) > 1 else {})
    shutil.rmtree(work_root, ignore_errors=True)
    return M4Measurement(str(root), commit, tool_version(gcc), tool_version(qemu), MACHINE,
                         round(float(np.mean(per_ticks)), 3), len(inputs), runs, python_identical, agreement)
