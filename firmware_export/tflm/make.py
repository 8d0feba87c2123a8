"""Commands into a build log: TFLM's Makefile (and its variables), compilers, archivers; the one failure."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from edge.core.errors import UserError
from edge.core.stop import run_child_group
from firmware_export.tflm.tree import DOWNLOADS, MAKEFILE

JOBS = 2


def fail(message: str, log_path: Path, option: str) -> UserError:
    """A failed build, run or check: ``option: message (log: ...)``, exit code 1 (not the user's input)."""
    return UserError(f"{option}: {message} (log: {log_path})", exit_code=1)


def run_logged(cmd: list[str], log_path: Path, **kw) -> int:
    """Run ``cmd`` with its output appended to ``log_path`` after a ``$ command`` line; its exit code."""
    with open(log_path, "a", encoding="utf-8") as out:
        out.write("$ " + " ".join(cmd) + "\n")
        out.flush()
        return run_child_group(cmd, stdout=out, stderr=subprocess.STDOUT, **kw)  # interrupted: make -j ends too


def run_make(root: Path, build: Path, args: list[str], log_path: Path, option: str) -> None:
    """TFLM's Makefile with ``args`` and its output under ``build/gen``; a failure names the log and the fix."""
    # the Makefile runs python3 scripts (with numpy and PIL) while it parses: use this interpreter's
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    code = run_logged(["make", "-C", str(root), "-f", MAKEFILE, f"-j{JOBS}",
                       f"BASE_GENDIR={build / 'gen'}", *args], log_path, env=env)
    if code != 0:
        text = log_path.read_text(encoding="utf-8", errors="replace")
        hint = ""
        if re.search(r"No module named '?(PIL|numpy)", text):
            hint = ": TFLM's Makefile needs numpy and pillow in this Python (pip install pillow)"
        elif re.search(r"downloading|Could not resolve|wget|curl", text, re.I):
            hint = (f": TFLM's Makefile could not fetch its third-party code; offline, put it in {root / DOWNLOADS}")
        raise fail(f"building TFLM's library failed (make exit {code}){hint}", log_path, option)


def print_variables(root: Path, build: Path, args: list[str], names: tuple[str, ...], log_path: Path,
                    option: str) -> dict[str, list[str]]:
    """Variables of TFLM's Makefile for this build, as lists of shell words (quotes removed as a shell would)."""
    log_path.write_text("", encoding="utf-8")
    run_make(root, build, [*args, *(f"print-{n}" for n in names)], log_path, option)
    text = log_path.read_text(encoding="utf-8")
    return {n: shlex.split(m.group(1)) if (m := re.search(rf"^{n}=(.*)$", text, re.M)) else [] for n in names}
