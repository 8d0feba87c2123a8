"""``fer-edge mobile-env``: the MediaPipe venv of an installed package is made in the cache folder, where
export-mobile then finds it; a failed install is never used. Offline: pip installs from a folder holding a wheel made
here (named and versioned as the pinned MediaPipe; pip's own PIP_* settings are how a user points it at a mirror)."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from edge.core.errors import UserError
from mobile_export import env

pytestmark = pytest.mark.timeout(300)


def _wheel(folder: Path, name: str, version: str) -> Path:
    """A pure-Python wheel of ``name`` ``version`` (one module that says its version), written by hand."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    files = {f"{name}/__init__.py": f"__version__ = {version!r}\n",
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: fer-edge-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()},"
                     f"{len(text.encode())}\n" for path, text in files.items()) + f"{info}/RECORD,,\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for path, text in {**files, f"{info}/RECORD": record}.items():
            z.writestr(path, text)
    return wheel


def _mobile_env(cache: Path, wheels: Path, *args: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in (env.ENV_VAR, "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")}
    environ.update(FER_EDGE_CACHE=str(cache), PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheels), PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run([sys.executable, "-m", "edge.commands", "mobile-env", *args], capture_output=True, text=True,
                          env=environ, timeout=240)


def test_mobile_env_makes_the_venv_in_the_cache_where_export_mobile_finds_it(tmp_path, monkeypatch):
    cache, wheels = tmp_path / "cache", tmp_path / "wheels"
    name, version = env.REQUIREMENT.split("==")
    _wheel(wheels, name, version)
    done = _mobile_env(cache, wheels)
    assert done.returncode == 0, done.stderr
    venv = cache / env.CACHE_VENV_NAME
    assert f"{venv}: ready ({env.REQUIREMENT})" in done.stdout
    assert (venv / env.MARKER).read_text().strip() == env.REQUIREMENT
    monkeypatch.setenv("FER_EDGE_CACHE", str(cache))
    monkeypatch.delenv(env.ENV_VAR, raising=False)
    monkeypatch.setattr(env, "CHECKOUT_VENV", tmp_path / "no-clone" / ".venv-mobile")  # an installed package
    assert env.mobile_python() == venv / "bin" / "python"
    again = _mobile_env(cache, tmp_path / "no-wheels")
    assert again.returncode == 0 and "already there" in again.stdout, again.stderr
    assert _mobile_env(cache, wheels, "--where").stdout.strip() == str(venv)


def test_a_failed_install_is_one_line_and_never_used(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    done = _mobile_env(cache, tmp_path / "no-wheels")  # pip finds nothing to install
    errors = [line for line in done.stderr.splitlines() if "error:" in line and "fer-edge" in line]
    assert done.returncode == 3 and len(errors) == 1, done.stderr
    assert f"could not install {env.REQUIREMENT}" in errors[0] and "Traceback" not in done.stderr
    monkeypatch.setenv("FER_EDGE_CACHE", str(cache))
    monkeypatch.delenv(env.ENV_VAR, raising=False)
    monkeypatch.setattr(env, "CHECKOUT_VENV", tmp_path / "no-clone" / ".venv-mobile")
    with pytest.raises(UserError, match="no MediaPipe environment .*run 'fer-edge mobile-env' once"):
        env.mobile_python()
