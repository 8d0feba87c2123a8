"""A tflite-micro checkout: checked before any slow step, its commit, its downloads, where its builds are cached."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from edge.core.cache import cache_dir
from edge.core.errors import UserError

MAKEFILE = "tensorflow/lite/micro/tools/make/Makefile"
DOWNLOADS = "tensorflow/lite/micro/tools/make/downloads"


def check_tree(tflm_dir: str | os.PathLike, option: str) -> Path:
    """The checkout's resolved path, or a one-line UserError (exit 2) naming ``option`` and what was expected."""
    root = Path(tflm_dir).expanduser()
    if not root.is_dir():
        raise UserError(f"{option} {tflm_dir}: no such directory (expected a tflite-micro checkout)")
    for rel in (MAKEFILE, "tensorflow/lite/micro/micro_interpreter.h"):
        if not (root / rel).is_file():
            raise UserError(f"{option} {tflm_dir}: not a tflite-micro checkout (no {rel})")
    return root.resolve()


def check_downloads(root: Path, needed: dict[str, str], option: str, tflm_dir: str, fetch_args: str) -> None:
    """Each ``needed`` download folder (name -> a file or folder inside it) is in place, else a one-line
    UserError naming the missing ones and the make command that fetches them (online, once)."""
    downloads = root / DOWNLOADS
    missing = [name for name, probe in needed.items() if not (downloads / name / probe).exists()]
    if missing:
        raise UserError(f"{option} {tflm_dir}: TFLM's third-party code is missing from {downloads} "
                        f"({', '.join(missing)}); fetch it once while online with: make -C {root} -f {MAKEFILE} "
                        f"{fetch_args} third_party_downloads")


def tree_commit(root: Path) -> str | None:
    done = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def build_root(root: Path, commit: str | None) -> Path:
    """The cache folder of this tree's builds: ``tflm-build/<commit>-<path hash>`` in the fer-edge cache."""
    key = f"{(commit or 'nogit')[:12]}-{hashlib.sha1(str(root).encode()).hexdigest()[:8]}"
    return cache_dir() / "tflm-build" / key
