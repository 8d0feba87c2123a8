"""The separate MediaPipe environment that writes model metadata and runs MediaPipe Tasks.

``mediapipe`` depends on ``opencv-contrib-python``, which overwrites the ``cv2`` of the
``opencv-python-headless`` wheel every fer-edge install has, and only mediapipe 0.10.x (NumPy 1)
ships working metadata writers. So MediaPipe never enters a fer-edge environment: it lives in its
own virtualenv, and ``mediapipe_runtime.py`` runs there as a subprocess that exchanges JSON jobs and ``.npy``
files with this side. ``fer-edge mobile-env`` creates that venv in the cache folder (``<cache>/mobile-venv``,
for an installed package); in a clone ``make mobile-venv`` creates ``.venv-mobile`` beside the code.
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
#: ``make mobile-venv`` in a clone (beside the code; an installed package has none)
CHECKOUT_VENV = Path(__file__).resolve().parent.parent / ".venv-mobile"
#: what ``fer-edge mobile-env`` makes, in the cache folder
CACHE_VENV_NAME = "mobile-venv"
#: written last when a MediaPipe venv is complete (by ``fer-edge mobile-env`` and ``make mobile-venv``)
MARKER = ".installed-mediapipe"
SCRIPT = Path(__file__).resolve().parent / "mediapipe_runtime.py"
SETUP_HINT = (f"run 'fer-edge mobile-env' once (a venv with {REQUIREMENT} in the cache folder; in a clone "
              f"'make mobile-venv' makes .venv-mobile), or point --mobile-python / ${ENV_VAR} at a Python that has it")


def cache_venv() -> Path:
    """Where ``fer-edge mobile-env`` puts the MediaPipe venv: ``<cache folder>/mobile-venv``."""
    from edge.core.cache import cache_dir

    return cache_dir() / CACHE_VENV_NAME


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def is_complete(venv: Path) -> bool:
    return venv_python(venv).is_file() and (venv / MARKER).is_file()


def mobile_python(explicit: str | Path | None = None) -> Path:
    """The interpreter of the MediaPipe environment: --mobile-python, $FER_EDGE_MOBILE_PYTHON, the clone's
    .venv-mobile, the cache folder's mobile-venv (the first of the two that is complete)."""
    for source, value in (("--mobile-python", explicit), (ENV_VAR, os.environ.get(ENV_VAR))):
        if value:
            path = Path(shutil.which(str(value)) or value)
            if not (path.is_file() and os.access(path, os.X_OK)):
                raise UserError(f"{value} ({source}): not an executable Python; {SETUP_HINT}", exit_code=3)
            return path
    for venv in (CHECKOUT_VENV, cache_venv()):
        if is_complete(venv):
            return venv_python(venv)
    raise UserError(f"no MediaPipe environment (none at {cache_venv()} or {CHECKOUT_VENV}): {SETUP_HINT}",
                    exit_code=3)


def create_venv(venv: Path, base_python: str, requirement: str = REQUIREMENT, *, force: bool = False) -> Path:
    """Make ``venv`` with ``requirement`` installed by its own pip (which reads the usual PIP_* settings: an index
    mirror, a wheel folder); the marker is written last, so a failed or interrupted install is redone next time.
    Returns its Python."""
    if is_complete(venv) and not force:
        return venv_python(venv)
    if venv.exists() and not (venv / "pyvenv.cfg").is_file():
        raise UserError(f"{venv}: exists and is not a venv; move it away (or set FER_EDGE_CACHE elsewhere)")
    steps = [([base_python, "-m", "venv", "--clear", str(venv)], "create the venv"),
             ([str(venv_python(venv)), "-m", "pip", "install", "--disable-pip-version-check", requirement],
              f"install {requirement}")]
    isolated = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}  # its own packages only
    for argv, what in steps:
        log.info("%s: %s", venv, what)
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, env=isolated)
        except OSError as e:
            raise UserError(f"{argv[0]}: cannot run it to {what} ({e.strerror}); pass --python with a Python "
                            "3.10-3.12", exit_code=3) from None
        if done.returncode != 0:
            raise UserError(f"{venv}: could not {what} (exit code {done.returncode}, see pip's lines above); "
                            "nothing is used until it succeeds", exit_code=3)
    name = requirement.split("==")[0]
    check = subprocess.run([str(venv_python(venv)), "-c", f"import importlib.metadata as m; print(m.version({name!r}))"],
                           capture_output=True, text=True, env=isolated)
    installed = check.stdout.strip()
    if "==" in requirement and installed != requirement.split("==")[1]:
        raise UserError(f"{venv}: {name} {installed or 'is missing'} after the install (expected {requirement})",
                        exit_code=3)
    (venv / MARKER).write_text(f"{requirement}\n")
    return venv_python(venv)


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
