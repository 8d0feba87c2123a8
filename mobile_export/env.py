"""The separate MediaPipe environment that writes model metadata and runs MediaPipe Tasks.

``mediapipe`` depends on ``opencv-contrib-python``, which overwrites the ``cv2`` of the
``opencv-python-headless`` wheel every fer-edge install has, and only mediapipe 0.10.x (NumPy 1)
ships working metadata writers. So MediaPipe never enters a fer-edge environment: it lives in its
own virtualenv (``make mobile-venv`` creates ``.venv-mobile``), and ``mediapipe_runtime.py`` runs there
as a subprocess that exchanges JSON jobs and ``.npy`` files with this side.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from edge.core.errors import UserError

log = logging.getLogger(__name__)

#: what the mobile environment needs: the last MediaPipe whose metadata writers import (NumPy 1).
REQUIREMENT = "mediapipe==0.10.21"
ENV_VAR = "FER_EDGE_MOBILE_PYTHON"
DEFAULT_VENV = Path(__file__).resolve().parent.parent / ".venv-mobile"
SCRIPT = Path(__file__).resolve().parent / "mediapipe_runtime.py"
SETUP_HINT = (f"run 'make mobile-venv' in the fer-edge checkout (a venv with {REQUIREMENT}), or point "
              f"--mobile-python / ${ENV_VAR} at a Python that has it")


def mobile_python(explicit: str | Path | None = None) -> Path:
    """The interpreter of the MediaPipe environment: --mobile-python, $FER_EDGE_MOBILE_PYTHON, .venv-mobile."""
    for source, value in (("--mobile-python", explicit), (ENV_VAR, os.environ.get(ENV_VAR))):
        if value:
            path = Path(shutil.which(str(value)) or value)
            if not (path.is_file() and os.access(path, os.X_OK)):
                raise UserError(f"{value} ({source}): not an executable Python; {SETUP_HINT}", exit_code=3)
            return path
    path = DEFAULT_VENV / "bin" / "python"
    if not path.is_file():
        raise UserError(f"no MediaPipe environment ({path} is missing): {SETUP_HINT}", exit_code=3)
    return path


def run_job(python: Path, command: str, job: dict, *, timeout: float = 900) -> dict:
    """Run one ``mediapipe_runtime.py`` command with ``job``; its JSON answer, or a one-line UserError."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}  # keep it isolated
    env.setdefault("GLOG_minloglevel", "2")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(job, f)
    try:
        log.debug("%s %s %s", python, command, job)
        proc = subprocess.run([str(python), str(SCRIPT), command, f.name], capture_output=True, text=True,
                              timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise UserError(f"MediaPipe {command} did not finish within {timeout:.0f} s ({python})") from None
    finally:
        os.unlink(f.name)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        detail = lines[-1] if lines else f"exit code {proc.returncode}"
        if proc.returncode == 3:
            raise UserError(f"{python}: {detail}; {SETUP_HINT}", exit_code=3)
        raise UserError(f"MediaPipe {command} failed ({python}): {detail}")
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise UserError(f"MediaPipe {command} gave no answer ({python}); stdout: {proc.stdout[-200:]!r}") from None
