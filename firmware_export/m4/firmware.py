"""The Cortex-M4 firmware that times ``Invoke()``: the export's model, the measuring harness (``templates/m4_*``:
vector table, reset handler, linker script for QEMU's ``mps2-an386`` board, semihosting output and exit) and
the inputs it times, compiled with TFLM's own flags and linked with its library into an ELF."""

from __future__ import annotations

import subprocess
from importlib import resources
from pathlib import Path
from string import Template

import numpy as np

from firmware_export.m4 import OPTION
from firmware_export.tflm.library import Library
from firmware_export.tflm.make import fail, run_logged


def _template(name: str) -> str:
    return resources.files("firmware_export").joinpath("templates", name).read_text(encoding="utf-8")


def inputs_header(inputs: np.ndarray) -> str:
    rows = ",\n".join("  {" + ", ".join(str(int(v)) for v in row) + "}" for row in inputs)
    return (f"// fer-edge --measure-m4: the inputs the firmware times (int8 input tensors)\n#pragma once\n"
            f"#include <cstdint>\nconstexpr int kMeasureInputs = {len(inputs)};\n"
            f"alignas(16) const int8_t kMeasureInput[{len(inputs)}][{inputs.shape[1]}] = {{\n{rows}}};\n")


def build_firmware(root: Path, export_dir: Path, name: str, library: Library, gcc: str, work: Path,
                   inputs: np.ndarray) -> Path:
    """The export's model + the measuring harness + startup code, linked with ``library`` into an ELF."""
    log_path = work / "build.log"
    flags, lib = library.flags, library.path
    (work / "m4_measure.cc").write_text(Template(_template("m4_measure.cc")).substitute(name=name), encoding="utf-8")
    (work / "measure_inputs.h").write_text(inputs_header(inputs), encoding="utf-8")
    for template in ("m4_startup.c", "m4_mps2_an386.ld"):
        (work / template).write_text(_template(template), encoding="utf-8")
    gxx = str(Path(gcc).with_name("arm-none-eabi-g++"))
    incs = [*flags.get("INCLUDES", []), f"-I{export_dir}", f"-I{work}"]
    objects = []
    for source, tool, kind in ((work / "m4_measure.cc", gxx, "CXXFLAGS"),
                               (export_dir / f"{name}_data.cc", gxx, "CXXFLAGS"),
                               (work / "m4_startup.c", gcc, "CCFLAGS")):
        obj = work / f"{source.name}.o"
        cmd = [tool, *flags.get(kind, []), "-O2", *incs, "-c", str(source), "-o", str(obj)]
        if run_logged(cmd, log_path, cwd=root) != 0:
            raise fail(f"compiling {source.name} for cortex-m4 failed", log_path, OPTION)
        objects.append(str(obj))
    elf = work / "firmware.elf"
    cmd = [gxx, *flags.get("CXXFLAGS", []), "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs",
           f"-T{work / 'm4_mps2_an386.ld'}", "-Wl,--gc-sections", *objects, str(lib),
           *flags.get("MICROLITE_LIBS", ["-lm"]), "-o", str(elf)]
    if run_logged(cmd, log_path, cwd=root) != 0:
        raise fail(f"linking the cortex-m4 firmware with {lib} failed", log_path, OPTION)
    return elf


def code_bytes(gcc: str, elf: Path) -> int:
    """``.text`` of the firmware (TFLM runtime + kernels + model + harness), by ``arm-none-eabi-size``; 0 if unread."""
    done = subprocess.run([str(Path(gcc).with_name("arm-none-eabi-size")), str(elf)], capture_output=True, text=True)
    lines = done.stdout.split("\n")
    return int(lines[1].split()[0]) if done.returncode == 0 and len(lines) > 1 else 0
