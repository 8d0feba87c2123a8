"""Atomic writes: an artifact is either complete or absent, never half-written."""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the destination folder; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched.
    The temporary name keeps the final suffix so writers that look at it (Keras, cv2) still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; artifacts get the usual permissions
        os.replace(tmp_path, path)
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):  # name the file the user asked for, not the temporary one
            raise OSError(e.errno, e.strerror, str(path)) from None
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Build a directory under a temporary name and move it into place only when complete.

    ``overwrite=False`` refuses an existing non-empty ``path`` before anything is written.
    """
    from edge.core.errors import UserError

    given, path = path, Path(os.path.abspath(path))  # '.' has no name of its own
    if path.exists() and any(path.iterdir()) and not overwrite:
        raise UserError(f"{given}: already exists and is not empty (pass --force to replace it)")
    cwd = Path.cwd().resolve()
    in_place = path.is_dir() and (path.resolve() == cwd or path.resolve() in cwd.parents)
    if in_place and any(path.iterdir()):  # renaming it away would pull the folder from under the shell
        raise UserError(f"{given}: is (or holds) the current folder, which cannot be replaced; choose a new "
                        "folder for the output")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_dirs(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    held = _hold(tmp)  # marks it live: a later start removes it only once nobody holds it
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if in_place:  # the empty current folder: move the finished files into it
            moved = []
            try:
                for entry in sorted(tmp.iterdir()):
                    os.replace(entry, path / entry.name)
                    moved.append(path / entry.name)
            except BaseException:
                for m in moved:
                    shutil.rmtree(m, ignore_errors=True) if m.is_dir() else m.unlink(missing_ok=True)
                raise
        elif path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        os.close(held)


def _hold(folder: Path) -> int:
    from edge.core.lock import try_lock

    fd = os.open(folder, os.O_RDONLY)
    try_lock(fd)
    return fd


def remove_stale_dirs(path: Path) -> list[Path]:
    """Remove the temporary folders of ``atomic_dir(path)`` that an earlier process left (killed before it could
    clean up: SIGKILL, a power loss): those that no live process holds. Returns what was removed."""
    from edge.core.lock import try_lock

    removed = []
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[A-Za-z0-9_]{{8}}\.tmp")
    for candidate in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        if not pattern.fullmatch(candidate.name) or not candidate.is_dir() or candidate.is_symlink():
            continue
        try:
            fd = os.open(candidate, os.O_RDONLY)
        except OSError:
            continue
        try:
            if try_lock(fd, unsupported=False):  # without locks, a live folder cannot be told from a stale one
                shutil.rmtree(candidate, ignore_errors=True)
                removed.append(candidate)
        finally:
            os.close(fd)
    for folder in removed:
        logging.getLogger(__name__).info("removed %s, left by an interrupted run", folder)
    return removed
