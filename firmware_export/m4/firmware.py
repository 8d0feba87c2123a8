"""The Cortex-M4 firmware that times ``Invoke()``: the export's model, the measuring harness (``templates/m4_*``:
vector table, reset handler, linker script for QEMU's ``mps2-an386`` board, semihosting output and exit) and
the inputs it times, compiled with TFLM's own flags and linked with its library into an ELF."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from string import Template

import numpy as np

from edge.core.errors import UserError
from firmware_export.m4 import OPTION
from firmware_export.tflm.library import Library, Target, build_library
from firmware_export.tflm.make import fail, run_logged

log = logging.getLogger(__name__)


def _template(name: str) -> str:
    return resources.files("firmware_export").joinpath("templates", name).read_text(encoding="utf-8")


def inputs_header(inputs: np.ndarray) -> str:
    rows = ",\n".join("  {" + ", ".join(str(int(v)) for v in row) + "}" for row in inputs)
    return (f"// fer-edge --measure-m4: the inputs the firmware times (int8 input tensors)\n#pragma once\n"
            f"#include <cstdint>\nconstexpr int kMeasureInputs = {len(inputs)};\n"
            f"alignas(16) const int8_t kMeasureInput[{len(inputs)}][{inputs.shape[1]}] = {{\n{rows}}};\n")


def link_firmware(root: Path, library: Library, gcc: str, work: Path, sources: list[Path],
                  includes: list[Path], elf_name: str = "firmware.elf") -> Path:
    """``sources`` (C++ or C by their suffix) + the startup code, compiled with TFLM's flags for ``library``
    (and ``includes``) and linked with it by the mps2-an386 linker script into ``work/elf_name``."""
    log_path = work / "build.log"
    flags, lib = library.flags, library.path
    for template in ("m4_startup.c", "m4_mps2_an386.ld"):
        (work / template).write_text(_template(template), encoding="utf-8")
    gxx = str(Path(gcc).with_name("arm-none-eabi-g++"))
    incs = [*flags.get("INCLUDES", []), *(f"-I{p}" for p in includes), f"-I{work}"]
    objects = []
    for source in [*sources, work / "m4_startup.c"]:
        tool, kind = (gcc, "CCFLAGS") if source.suffix == ".c" else (gxx, "CXXFLAGS")
        obj = work / f"{source.name}.o"
        cmd = [tool, *flags.get(kind, []), "-O2", *incs, "-c", str(source), "-o", str(obj)]
        if run_logged(cmd, log_path, cwd=root) != 0:
            raise fail(f"compiling {source.name} for cortex-m4 failed", log_path, OPTION)
        objects.append(str(obj))
    elf = work / elf_name
    cmd = [gxx, *flags.get("CXXFLAGS", []), "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs",
           f"-T{work / 'm4_mps2_an386.ld'}", "-Wl,--gc-sections", *objects, str(lib),
           *flags.get("MICROLITE_LIBS", ["-lm"]), "-o", str(elf)]
    if run_logged(cmd, log_path, cwd=root) != 0:
        raise fail(f"linking the cortex-m4 firmware with {lib} failed", log_path, OPTION)
    return elf


def build_firmware(root: Path, export_dir: Path, name: str, library: Library, gcc: str, work: Path,
                   inputs: np.ndarray) -> Path:
    """The export's model + the measuring harness + startup code, linked with ``library`` into an ELF."""
    (work / "m4_measure.cc").write_text(Template(_template("m4_measure.cc")).substitute(name=name), encoding="utf-8")
    (work / "measure_inputs.h").write_text(inputs_header(inputs), encoding="utf-8")
    return link_firmware(root, library, gcc, work, [work / "m4_measure.cc", export_dir / f"{name}_data.cc"],
                         [export_dir])


def with_library(root: Path, build: Path, target: Target, ops: list[str], work: Path,
                 make_elf: Callable[[Library], Path]) -> tuple[Library, Path]:
    """``make_elf(library)`` with TFLM's objects for ``ops`` only, or with the whole library when that does not
    link (an object the op list did not foresee): (the library used, the ELF)."""
    library = build_library(root, build, target, OPTION, ops)
    try:
        return library, make_elf(library)
    except UserError:
        undefined = "undefined reference" in (work / "build.log").read_text(encoding="utf-8", errors="replace")
        if not library.path.name.startswith("libfer-edge-") or not undefined:
            raise
    log.warning("%s: the firmware did not link with the model's TFLM objects alone; building the whole library "
                "(see %s)", OPTION, work / "build.log")
    library = build_library(root, build, target, OPTION)
    return library, make_elf(library)


def code_bytes(gcc: str, elf: Path) -> int:
    """``.text`` of the firmware (TFLM runtime + kernels + model + harness), by ``arm-none-eabi-size``; 0 if unread."""
    done = subprocess.run([str(Path(gcc).with_name("arm-none-eabi-size")), str(elf)], capture_output=True, text=True)
    lines = done.stdout.split("\n")
    return int(lines[1].split()[0]) if done.returncode == 0 and len(lines) > 1 else 0
