"""The firmware under ``qemu-system-arm -M mps2-an386 -icount shift=0``: every instruction advances the virtual
clock by 1 ns, so a tick of the board's 25 MHz timer is 40 instructions (calibrated on each run by a spin loop
of known length); what it printed, parsed into instructions and int8 outputs per input."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from firmware_export.m4 import OPTION
from firmware_export.tflm.make import fail

MACHINE = "mps2-an386"
RUN_TIMEOUT_S = 1800
_CALIBRATION = re.compile(r"^calibration (\d+) (\d+)", re.M)
_ARENA = re.compile(r"^arena_used_bytes (\d+)", re.M)
_INPUT = re.compile(r"^input (\d+) ticks (\d+) output((?: -?\d+)*)", re.M)


def run_firmware(qemu: str, elf: Path, log_path: Path, timeout: float = RUN_TIMEOUT_S) -> str:
    """What the firmware printed (semihosting), logged; a timeout, a too-small arena (exit 3) or a crash fails."""
    cmd = [qemu, "-M", MACHINE, "-icount", "shift=0", "-nographic", "-monitor", "none", "-serial", "null",
           "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise fail(f"{elf.name} did not finish within {timeout:.0f} s under {Path(qemu).name}", log_path,
                   OPTION) from None
    printed = (done.stdout + done.stderr).replace("\r\n", "\n")
    with open(log_path, "a", encoding="utf-8") as out:
        out.write("$ " + " ".join(cmd) + f"\n{printed}(exit {done.returncode})\n")
    if done.returncode == 3:
        raise fail(f"the exported arena is too small for TFLM on cortex-m4 ({printed.strip()[-200:]!r})", log_path,
                   OPTION)
    if done.returncode != 0:
        raise fail(f"the cortex-m4 firmware exited {done.returncode}: {printed.strip()[-200:]!r}", log_path, OPTION)
    return printed


def instructions_per_tick(printed: str) -> float | None:
    """The firmware's calibration line (``calibration <instructions> <ticks>``) as instructions per timer tick."""
    cal = _CALIBRATION.search(printed)
    return int(cal.group(1)) / max(int(cal.group(2)), 1) if cal else None


def parse_run(printed: str, kernels: str, n_inputs: int, log_path: Path) -> tuple[float, int, list, list]:
    """(instructions per timer tick, arena_used_bytes, instructions per input, int8 outputs per input)."""
    per_tick, arena = instructions_per_tick(printed), _ARENA.search(printed)
    runs = _INPUT.findall(printed)
    if per_tick is None or not arena or len(runs) != n_inputs:
        raise fail(f"the {kernels} firmware printed no calibration/arena line or {len(runs)} of {n_inputs} "
                   "inputs", log_path, OPTION)
    instructions = [round(int(ticks) * per_tick) for _, ticks, _ in runs]
    outputs = [[int(v) for v in values.split()] for _, _, values in runs]
    return per_tick, int(arena.group(1)), instructions, outputs
