"""``--measure-m4 TFLM_DIR``: instructions per inference on an emulated Cortex-M4, reference vs CMSIS-NN.

With a tflite-micro checkout whose third-party code is in ``tensorflow/lite/micro/tools/make/downloads/``
(where TFLM's download scripts put CMSIS, CMSIS-NN, flatbuffers, gemmlowp, ruy, kissfft and pigweed on
the first build of a Cortex-M target while online), arm-none-eabi-gcc and qemu-system-arm:

1. TFLM's Makefile builds ``libtensorflow-microlite.a`` for ``TARGET=cortex_m_generic
   TARGET_ARCH=cortex-m4`` (no FPU, ``BUILD_TYPE=release_with_logs``, the type TFLM recommends for
   profiling) twice, with the reference kernels and with ``OPTIMIZED_KERNEL_DIR=cmsis_nn``, into the
   fer-edge cache (one folder per tree commit and kernel set; make rebuilds only what changed).
2. The exported ``<name>_data.cc`` links with a small firmware (``templates/m4_*``: vector table, reset
   handler, linker script for QEMU's ``mps2-an386`` board, semihosting output and exit) that times
   ``Invoke()`` on a few built-in inputs with the board's 25 MHz timer 0.
3. Each firmware runs under ``qemu-system-arm -M mps2-an386 -icount shift=0``: every instruction
   advances the virtual clock by 1 ns, so a timer tick is 40 instructions (calibrated on each run by a
   spin loop of known length). Instructions are exact up to one tick; cycles on a real core are not
   modelled, hence the stated cycles-per-instruction assumption when they are turned into ms.

The reference build's outputs must be bit-identical to tflite-micro's Python interpreter (same kernels);
the CMSIS-NN build's are compared to them (largest LSB difference, top-1 agreement).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from string import Template

import numpy as np

from edge.core.errors import UserError
from firmware_export import verify_tflm as tflm
from firmware_export.tflite_model import read_model

log = logging.getLogger(__name__)

OPTION = "--measure-m4"
KERNELS = ("reference", "cmsis_nn")
MACHINE = "mps2-an386"
CPI_ASSUMED = (1.0, 1.4)  # cycles per instruction: ideal, and typical of a Cortex-M4 running CMSIS-NN code
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
_RUN_TIMEOUT_S = 1800
_CALIBRATION = re.compile(r"^calibration (\d+) (\d+)", re.M)
_ARENA = re.compile(r"^arena_used_bytes (\d+)", re.M)
_INPUT = re.compile(r"^input (\d+) ticks (\d+) output((?: -?\d+)*)", re.M)


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
        counts = ", ".join(f"{_kernel_title(k)} {self.instructions(k) / 1e6:.2f} M" for k in self.runs)
        a = self.agreement
        agree = (f"CMSIS-NN outputs identical to the reference kernels' on {a['identical']}/{self.inputs} inputs "
                 f"(max {a['max_lsb_diff']} LSB, top-1 agrees on {a['top1_agree']}/{self.inputs})" if a else "")
        return (f"instructions per inference on an emulated Cortex-M4 (QEMU {self.machine}, -icount): {counts}; "
                f"arena_used_bytes {' / '.join(f'{r.arena_used:,}' for r in self.runs.values())}; reference outputs "
                f"bit-identical to tflite-micro Python on {self.python_identical}/{self.inputs} inputs; {agree}")


def _kernel_title(kernels: str) -> str:
    return {"reference": "reference kernels", "cmsis_nn": "CMSIS-NN"}.get(kernels, kernels)


def implied_ms(instructions: int, clock_mhz: float, cpi: float) -> float:
    return instructions * cpi / (clock_mhz * 1e3)


def latency_lines(counts: dict[str, int], clocks: dict[str, float]) -> list[str]:
    """One line per clock: ms per inference of each kernel set's count at each assumed cycles per instruction."""
    cpis = " / ".join(f"{c:g}" for c in CPI_ASSUMED)
    lines = [f"implied ms per inference at {cpis} cycles per instruction (assumed; QEMU counts instructions, "
             "not cycles):"]
    for label, mhz in clocks.items():
        cells = "; ".join(f"{_kernel_title(k)} " + " / ".join(f"{implied_ms(n, mhz, c):.0f}" for c in CPI_ASSUMED)
                          for k, n in counts.items())
        lines.append(f"  {label} @ {mhz:g} MHz: {cells}")
    return lines


def measured_markdown(record: dict, clocks: dict[str, float]) -> str:
    """A paragraph for a README or model card from ``export.json``'s ``measure_m4`` record."""
    counts = record["instructions_per_inference"]
    nn, ref = counts.get("cmsis_nn"), counts.get("reference")
    lo, hi = CPI_ASSUMED[0], CPI_ASSUMED[-1]
    at = "; ".join(f"{implied_ms(nn, mhz, lo):.0f}-{implied_ms(nn, mhz, hi):.0f} ms at {mhz:g} MHz ({label})"
                   for label, mhz in clocks.items())
    a = record.get("agreement") or {}
    agree = (f" CMSIS-NN's outputs equal the reference kernels' on {a['identical']} of {record['inputs']} inputs "
             f"(max {a['max_lsb_diff']} LSB, same top-1 on {a['top1_agree']})." if a else "")
    return (f"Measured: **{nn / 1e6:.1f} M instructions per inference with CMSIS-NN** ({ref / 1e6:.1f} M with "
            f"TFLM's reference kernels) on an emulated Cortex-M4 (QEMU `{record['machine']}`, `-icount shift=0`; "
            f"`fer-edge export-firmware --measure-m4`), TFLM arena {record['runs']['cmsis_nn']['arena_used']:,} "
            f"bytes used.{agree} QEMU counts instructions, not cycles: at {lo:g}-{hi:g} cycles per instruction "
            f"that is {at}.")


def board_clocks(boards: dict) -> dict[str, float]:
    """The clocks the count is turned into ms at: the Cortex-M4 boards of ``boards.json`` and 168 MHz, the
    clock of the <= 100 ms target (a Cortex-M7 runs the same code at a lower, unmeasured CPI)."""
    clocks = {b.id: b.clock_mhz for b in boards.values() if b.core.startswith("Cortex-M4")}
    return {**clocks, "Cortex-M4 target": 168.0}


def measure_inputs(model_path: Path, spec, settings, synthetic: int = 2) -> np.ndarray:
    """main.cc's test frame and the first parity crops, as int8 input tensors (deterministic)."""
    from firmware_export import parity

    crops = parity.parity_inputs(model_path, spec, parity.synthetic_crops(synthetic))
    frame = tflm.example_frame(settings)
    return np.concatenate([frame, crops.reshape(len(crops), -1)]).astype(np.int8)


def _fail(message: str, log_path: Path) -> UserError:
    return UserError(f"{OPTION}: {message} (log: {log_path})", exit_code=1)


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
    root = tflm.check_tree(tflm_dir, OPTION)
    downloads = root / tflm.DOWNLOADS
    missing = [name for name, probe in NEEDED_DOWNLOADS.items() if not (downloads / name / probe).exists()]
    if missing:
        raise UserError(f"{OPTION} {tflm_dir}: TFLM's third-party code is missing from {downloads} "
                        f"({', '.join(missing)}); fetch it once while online with: make -C {root} -f {tflm.MAKEFILE} "
                        "TARGET=cortex_m_generic TARGET_ARCH=cortex-m4 OPTIMIZED_KERNEL_DIR=cmsis_nn "
                        "third_party_downloads")
    find_tools()
    return root


def _tool_version(tool: str) -> str:
    done = subprocess.run([tool, "--version"], capture_output=True, text=True)
    return (done.stdout.splitlines() or [tool])[0].strip()


def _make_args(gcc: str, kernels: str) -> list[str]:
    args = ["TARGET=cortex_m_generic", "TARGET_ARCH=cortex-m4", f"TARGET_TOOLCHAIN_ROOT={Path(gcc).parent}/",
            "BUILD_TYPE=release_with_logs"]
    return args + ([f"OPTIMIZED_KERNEL_DIR={kernels}"] if kernels != "reference" else [])


#: TFLM kernel source stems (tensorflow/lite/micro/kernels[/cmsis_nn]/<stem>[_common].cc) of ops whose
#: stem is not the op's name in lower case
OP_KERNELS = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "depthwise_conv", "MAX_POOL_2D": "pooling",
              "AVERAGE_POOL_2D": "pooling", "MEAN": "reduce", "SUM": "reduce", "REDUCE_MAX": "reduce",
              "REDUCE_MIN": "reduce", "RELU": "activations", "RELU6": "activations", "RELU_N1_TO_1": "activations",
              "TRANSPOSE_CONV": "transpose_conv", "HARD_SWISH": "hard_swish"}
KERNEL_HELPERS = ("kernel_util", "micro_tensor_utils")
_OBJECT_LISTS = ("MICROLITE_LIB_OBJS", "MICROLITE_KERNEL_OBJS", "MICROLITE_THIRD_PARTY_OBJS",
                 "MICROLITE_THIRD_PARTY_KERNEL_OBJS")
_FLAG_LISTS = ("CXXFLAGS", "CCFLAGS", "INCLUDES", "MICROLITE_LIBS")


def _print_variables(root: Path, build: Path, args: list[str], names: tuple[str, ...], log_path: Path) -> dict:
    """Variables of TFLM's Makefile for this build, as lists of shell words (quotes removed as a shell would)."""
    log_path.write_text("", encoding="utf-8")
    tflm.run_make(root, build, [*args, *(f"print-{n}" for n in names)], log_path, OPTION)
    text = log_path.read_text(encoding="utf-8")
    return {n: shlex.split(m.group(1)) if (m := re.search(rf"^{n}=(.*)$", text, re.M)) else [] for n in names}


def model_objects(objects: dict[str, list[str]], ops: list[str]) -> list[str] | None:
    """The library objects a model with ``ops`` links: TFLM's core, its ops' kernels and the kernel helpers,
    and the optimized kernels' own library; None when an op's kernel source is not recognised."""
    stems = {OP_KERNELS.get(op, op.lower()) for op in ops}
    kernels = {}
    for obj in objects["MICROLITE_KERNEL_OBJS"]:
        stem = Path(obj).stem.removesuffix("_common")
        kernels.setdefault(stem, []).append(obj)
    if not stems <= kernels.keys():
        return None
    core = [o for o in objects["MICROLITE_LIB_OBJS"] if "test_helper" not in Path(o).name]
    chosen = [o for stem in sorted(stems) + list(KERNEL_HELPERS) for o in kernels.get(stem, [])]
    return core + chosen + objects["MICROLITE_THIRD_PARTY_OBJS"] + objects["MICROLITE_THIRD_PARTY_KERNEL_OBJS"]


def build_library(root: Path, build: Path, gcc: str, kernels: str,
                  ops: list[str] | None = None) -> tuple[Path, dict[str, list[str]]]:
    """TFLM's Cortex-M4 library with ``kernels`` (cached in ``build``) and the flags it was compiled with.

    With ``ops``, TFLM's Makefile compiles only the objects the model links (see ``model_objects``) into
    its usual folders and they are archived as ``libfer-edge-<hash>.a``: a fraction of the full
    ``microlite`` build; without, or when an op is not recognised, the full library."""
    build.mkdir(parents=True, exist_ok=True)
    log_path = build / "microlite.log"
    log_path.write_text("", encoding="utf-8")
    args = _make_args(gcc, kernels)
    variables = _print_variables(root, build, args, _FLAG_LISTS + _OBJECT_LISTS + ("MICROLITE_LIB_PATH",),
                                 build / "variables.log")
    objects = model_objects(variables, ops) if ops else None
    log.info("%s: building TFLM for cortex-m4 with %s in %s (%s; minutes the first time)", OPTION,
             _kernel_title(kernels), build, f"{len(objects)} objects" if objects else "the whole library")
    if objects is None:
        tflm.run_make(root, build, [*args, "microlite"], log_path, OPTION)
        lib = Path(variables["MICROLITE_LIB_PATH"][0])
    else:
        tflm.run_make(root, build, [*args, *objects], log_path, OPTION)
        digest = hashlib.sha1("\n".join(objects).encode()).hexdigest()[:10]
        lib = Path(variables["MICROLITE_LIB_PATH"][0]).with_name(f"libfer-edge-{digest}.a")
        lib.parent.mkdir(parents=True, exist_ok=True)
        newest = max(Path(o).stat().st_mtime for o in objects)
        if not lib.is_file() or lib.stat().st_mtime < newest:  # archived beside, then moved: a concurrent link
            part = lib.with_name(f"{lib.name}.{os.getpid()}.part")  # never sees half an archive
            part.unlink(missing_ok=True)
            if tflm._run_logged([str(Path(gcc).with_name("arm-none-eabi-ar")), "rcs", str(part), *objects], log_path):
                raise _fail(f"archiving {len(objects)} TFLM objects into {lib.name} failed", log_path)
            os.replace(part, lib)
    if not lib.is_file():
        raise _fail(f"TFLM's Makefile built no {lib.name} under {build / 'gen'}", log_path)
    return lib, {n: variables[n] for n in _FLAG_LISTS}


def _template(name: str) -> str:
    return resources.files("firmware_export").joinpath("templates", name).read_text(encoding="utf-8")


def inputs_header(inputs: np.ndarray) -> str:
    rows = ",\n".join("  {" + ", ".join(str(int(v)) for v in row) + "}" for row in inputs)
    return (f"// fer-edge --measure-m4: the inputs the firmware times (int8 input tensors)\n#pragma once\n"
            f"#include <cstdint>\nconstexpr int kMeasureInputs = {len(inputs)};\n"
            f"alignas(16) const int8_t kMeasureInput[{len(inputs)}][{inputs.shape[1]}] = {{\n{rows}}};\n")


def build_firmware(root: Path, export_dir: Path, name: str, lib: Path, flags: dict[str, list[str]], gcc: str,
                   work: Path, inputs: np.ndarray) -> Path:
    """The export's model + the measuring harness + startup code, linked with ``lib`` into an ELF."""
    log_path = work / "build.log"
    (work / "m4_measure.cc").write_text(Template(_template("m4_measure.cc")).substitute(name=name), encoding="utf-8")
    (work / "measure_inputs.h").write_text(inputs_header(inputs), encoding="utf-8")
    for template in ("m4_startup.c", "m4_mps2_an386.ld"):
        (work / template).write_text(_template(template), encoding="utf-8")
    gxx = str(Path(gcc).with_name("arm-none-eabi-g++"))
    incs = [*flags.get("INCLUDES", []), f"-I{export_dir}", f"-I{work}"]
    objects = []
    for source, tool, kind in ((work / "m4_measure.cc", gxx, "CXXFLAGS"), (export_dir / f"{name}_data.cc", gxx, "CXXFLAGS"),
                               (work / "m4_startup.c", gcc, "CCFLAGS")):
        obj = work / f"{source.name}.o"
        cmd = [tool, *flags.get(kind, []), "-O2", *incs, "-c", str(source), "-o", str(obj)]
        if tflm._run_logged(cmd, log_path, cwd=root) != 0:
            raise _fail(f"compiling {source.name} for cortex-m4 failed", log_path)
        objects.append(str(obj))
    elf = work / "firmware.elf"
    cmd = [gxx, *flags.get("CXXFLAGS", []), "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs",
           f"-T{work / 'm4_mps2_an386.ld'}", "-Wl,--gc-sections", *objects, str(lib),
           *flags.get("MICROLITE_LIBS", ["-lm"]), "-o", str(elf)]
    if tflm._run_logged(cmd, log_path, cwd=root) != 0:
        raise _fail(f"linking the cortex-m4 firmware with {lib} failed", log_path)
    return elf


def _code_bytes(gcc: str, elf: Path) -> int:
    done = subprocess.run([str(Path(gcc).with_name("arm-none-eabi-size")), str(elf)], capture_output=True, text=True)
    lines = done.stdout.split("\n")
    return int(lines[1].split()[0]) if done.returncode == 0 and len(lines) > 1 else 0


def run_firmware(qemu: str, elf: Path, log_path: Path, timeout: float = _RUN_TIMEOUT_S) -> str:
    cmd = [qemu, "-M", MACHINE, "-icount", "shift=0", "-nographic", "-monitor", "none", "-serial", "null",
           "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise _fail(f"{elf.name} did not finish within {timeout:.0f} s under {Path(qemu).name}", log_path) from None
    printed = (done.stdout + done.stderr).replace("\r\n", "\n")
    with open(log_path, "a", encoding="utf-8") as out:
        out.write("$ " + " ".join(cmd) + f"\n{printed}(exit {done.returncode})\n")
    if done.returncode == 3:
        raise _fail(f"the exported arena is too small for TFLM on cortex-m4 ({printed.strip()[-200:]!r})", log_path)
    if done.returncode != 0:
        raise _fail(f"the cortex-m4 firmware exited {done.returncode}: {printed.strip()[-200:]!r}", log_path)
    return printed


def parse_run(printed: str, kernels: str, n_inputs: int, log_path: Path) -> tuple[float, int, list, list]:
    cal, arena = _CALIBRATION.search(printed), _ARENA.search(printed)
    runs = _INPUT.findall(printed)
    if not cal or not arena or len(runs) != n_inputs:
        raise _fail(f"the {kernels} firmware printed no calibration/arena line or {len(runs)} of {n_inputs} "
                    "inputs", log_path)
    per_tick = int(cal.group(1)) / max(int(cal.group(2)), 1)
    instructions = [round(int(ticks) * per_tick) for _, ticks, _ in runs]
    outputs = [[int(v) for v in values.split()] for _, _, values in runs]
    return per_tick, int(arena.group(1)), instructions, outputs


def compare(reference: np.ndarray, other: np.ndarray) -> dict:
    diff = np.abs(reference.astype(np.int32) - other.astype(np.int32))
    return {"identical": int((diff == 0).all(axis=1).sum()), "max_lsb_diff": int(diff.max(initial=0)),
            "top1_agree": int((reference.argmax(axis=1) == other.argmax(axis=1)).sum())}


def measure_export(export_dir: Path, name: str, data: bytes, settings, inputs: np.ndarray, tflm_dir: str,
                   kernels: tuple[str, ...] = KERNELS) -> M4Measurement:
    """Build the export for a Cortex-M4 with each kernel set, run it under QEMU and count instructions."""
    root = check_tree(tflm_dir)
    gcc, qemu = find_tools()
    commit = tflm.tree_commit(root)
    cache = tflm.build_root(root, commit)
    inputs = np.ascontiguousarray(inputs, np.int8).reshape(len(inputs), -1)
    (cache / "apps").mkdir(parents=True, exist_ok=True)
    work_root = Path(tempfile.mkdtemp(prefix=f"{name}-m4-", dir=cache / "apps"))
    runs, per_ticks = {}, []
    ops = list(read_model(data, name).ops)
    for k in kernels:
        lib, flags = build_library(root, cache / f"m4-{k}", gcc, k, ops)
        work = work_root / k
        work.mkdir()
        try:
            elf = build_firmware(root, export_dir, name, lib, flags, gcc, work, inputs)
        except UserError:
            undefined = "undefined reference" in (work / "build.log").read_text(encoding="utf-8", errors="replace")
            if not lib.name.startswith("libfer-edge-") or not undefined:
                raise
            log.warning("%s: the firmware did not link with the model's TFLM objects alone; building the whole "
                        "library (see %s)", OPTION, work / "build.log")
            lib, flags = build_library(root, cache / f"m4-{k}", gcc, k)
            elf = build_firmware(root, export_dir, name, lib, flags, gcc, work, inputs)
        log.info("%s: running the %s firmware under QEMU %s", OPTION, _kernel_title(k), MACHINE)
        printed = run_firmware(qemu, elf, work / "build.log")
        per_tick, arena, instructions, outputs = parse_run(printed, k, len(inputs), work / "build.log")
        per_ticks.append(per_tick)
        runs[k] = KernelRun(k, instructions, outputs, arena, _code_bytes(gcc, elf), str(lib))
    py = tflm.python_outputs(data, settings, inputs)
    ref = np.asarray(runs[kernels[0]].outputs, np.int8)[:, :py.shape[1]]
    log_path = work_root / kernels[0] / "build.log"
    if ref.shape != py.shape:
        raise _fail(f"the firmware printed {ref.shape[1]} output values per input, expected {py.shape[1]}", log_path)
    python_identical = int((ref == py).all(axis=1).sum())
    if kernels[0] == "reference" and python_identical != len(py):
        raise _fail(f"the reference-kernel build's outputs differ from tflite-micro Python on "
                    f"{len(py) - python_identical} of {len(py)} inputs", log_path)
    agreement = (compare(ref, np.asarray(runs[kernels[1]].outputs, np.int8)[:, :py.shape[1]])
                 if len(kernels) > 1 else {})
    shutil.rmtree(work_root, ignore_errors=True)
    return M4Measurement(str(root), commit, _tool_version(gcc), _tool_version(qemu), MACHINE,
                         round(float(np.mean(per_ticks)), 3), len(inputs), runs, python_identical, agreement)
