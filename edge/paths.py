"""Checks of user-given output names and folders, made at the command line before anything is written.

Standard library only, so every command module can use them before importing its stage.
"""

from __future__ import annotations

import os
from pathlib import Path

from edge.errors import UserError


def plain_file_name(value: str, option: str) -> str:
    """``value`` if it is a bare file name (no folder part, not ``.``/``..``), else a one-line error."""
    if not value or value in (".", "..") or "/" in value or "\\" in value or "\0" in value:
        raise UserError(f"{option} {value!r}: expected a plain file name (no folder part such as '/' or '..'); "
                        "the files are written inside --out")
    return value


def writable_out_dir(path: str | os.PathLike, option: str = "--out-dir") -> Path:
    """``path`` if it can become (or be replaced as) an output folder: not a file, under a writable folder."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{option} {path}: is a file (expected a folder to write into; choose another {option})")
    parent = next(p for p in path.absolute().parents if p.exists())  # where the folder (or its parents) get made
    if not parent.is_dir():
        raise UserError(f"{option} {path}: {parent} is a file, not a folder (expected a path in a writable folder)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{option} {path}: cannot write in {parent} (permission denied; expected a writable folder)")
    return path
