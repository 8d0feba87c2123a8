"""Checks of user-given output names and folders, made at the command line before anything is written.

Standard library only, so every command module can use them before importing its stage.
"""

from __future__ import annotations

import os
from pathlib import Path

from edge.core.errors import UserError


def plain_file_name(value: str, option: str) -> str:
    """``value`` if it is a bare file name (no folder part, not ``.``/``..``), else a one-line error."""
    return plain_name(value, option, "the files are written inside --out-dir", what="file name")


def writable_out_dir(path: str | os.PathLike, option: str = "--out-dir") -> Path:
    """``path`` if it can become (or be replaced as) an output folder: not a file, under a writable folder."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{option} {path}: is a file (expected a folder to write into; choose another {option})")
    parent = next(p for p in path.absolute().parents if p.exists())  # where the folder (or its parents) get made
    if not parent.is_dir():
        raise UserError(f"{option} {path}: {parent} is a file, not a folder (expected a path in a writable folder)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{option} {path}: cannot write in {parent} ({not_writable_reason(parent)}; expected a "
                        "writable folder)")
    return path


def writable_folder(folder: str | os.PathLike, what: str, fix: str) -> Path:
    """``folder`` if files can be written in it (or in the folder it would be made in); else a one-line error
    naming ``what`` it is, why ("read-only file system", "permission denied") and ``fix``."""
    folder = Path(folder)
    existing = next(p for p in (folder, *folder.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise UserError(f"{folder}: {existing} is a file, not a folder (expected {what}); {fix}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{folder}: cannot write {what} there ({not_writable_reason(existing)}); {fix}")
    return folder


def not_writable_reason(path: str | os.PathLike) -> str:
    """Why ``path`` (an existing file or folder) cannot be written: "read-only file system" when it is on one
    (mounted read-only: no permission would help), else "permission denied"."""
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except (OSError, AttributeError):  # no statvfs (Windows)
        pass
    return "permission denied"


def identity(path: str | os.PathLike) -> tuple[int, int] | None:
    """(device, inode) of an existing file, following symlinks: the same for every name of one file (hard
    links, bind mounts); None if it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _real(path: str | os.PathLike) -> Path:
    """The absolute path with every symlink followed (also for the part that does not exist yet)."""
    return Path(os.path.realpath(Path(path).expanduser()))


def check_outputs(files: dict[str, str | os.PathLike | None] | None = None,
                  inputs: dict[str, str | os.PathLike | None] | None = None,
                  folders: dict[str, str | os.PathLike | None] | None = None, *, replacing: bool = False) -> None:
    """Refuse, before any work, an output that cannot be written or would destroy something.

    ``files`` and ``folders`` map a label (the flag, e.g. ``"--out"``) to an output file or folder; ``inputs``
    maps a label to a file the command reads. Each output must not be under a file, must be in a writable
    folder, must not be an input or another output (compared after following symlinks); an output file must
    not be an existing folder, an output folder not an existing file; with ``replacing`` (the folders are
    replaced as a whole) an output folder must not hold an input or another output either. One line names
    the flag and the fix.
    """
    outputs = [(k, Path(v), False) for k, v in (files or {}).items() if v is not None]
    outputs += [(k, Path(v), True) for k, v in (folders or {}).items() if v is not None]
    seen: dict[Path, str] = {}
    same_file: dict[tuple[int, int], tuple[str, Path]] = {}  # by file identity: hard links are one file
    for k, v in (inputs or {}).items():
        if v is not None:
            what = f"the input {k}" if k.startswith("-") else k
            seen.setdefault(_real(v), what)
            if (key := identity(v)) is not None:
                same_file.setdefault(key, (what, _real(v)))
    for label, path, is_folder in outputs:
        real = _real(path)
        shown = f"{label} {path}"
        if real in seen:
            raise UserError(f"{shown}: is also {seen[real]} ({real}); writing it would destroy that: "
                            "choose another name")
        key = identity(real)
        if key is not None and key in same_file:
            what, other = same_file[key]
            raise UserError(f"{shown}: is the same file as {what} ({other}, a hard link to it); writing it would "
                            "destroy that: choose another name")
        seen[real] = label
        if key is not None:
            same_file[key] = (label, real)
        if real.exists() and not real.is_dir() and not real.is_file():
            raise UserError(f"{shown}: is not a regular file (a device or pipe; expected a file name to write)")
        if real.is_dir() and not is_folder:
            raise UserError(f"{shown}: is a folder (expected a file name, e.g. {path / ('out' + path.suffix)})")
        if real.exists() and not real.is_dir() and is_folder:
            raise UserError(f"{shown}: is a file (expected a folder to write into; choose another {label})")
        parent = next(p for p in real.parents if p.exists())
        if not parent.is_dir():
            raise UserError(f"{shown}: {parent} is a file, not a folder (expected a path in a writable folder)")
        if is_folder and real.is_dir() and not os.access(real, os.W_OK | os.X_OK):  # written into
            raise UserError(f"{shown}: cannot write in it ({not_writable_reason(real)}; expected a writable folder)")
        if not os.access(parent, os.W_OK | os.X_OK) or (real.is_file() and not os.access(real, os.W_OK)):
            raise UserError(f"{shown}: cannot write there ({not_writable_reason(parent)} in {parent}; expected a "
                            "writable folder)")
    cwd = _real(os.getcwd())
    for label, path, is_folder in outputs:
        if is_folder and replacing:
            real = _real(path)
            if (real == cwd or real in cwd.parents) and real.is_dir() and any(real.iterdir()):
                raise UserError(f"{label} {path}: is (or holds) the current folder and is not empty, so it cannot be "
                                "replaced; choose a new folder for the output")
            for other, what in seen.items():
                if what != label and real in other.parents:
                    raise UserError(f"{label} {path}: holds {what} ({other}), which replacing the folder would "
                                    "destroy; choose another folder")


def plain_name(value: str, option: str, where: str = "", what: str = "name") -> str:
    """``value`` if it is a plain name (no '/', '\\', not ``.``/``..``, not absolute, printable: no line break
    or control character), else a one-line error."""
    if (not value or value in (".", "..") or "/" in value or "\\" in value or "\0" in value
            or not value.isprintable()):
        raise UserError(f"{option} {value!r}: expected a plain {what} (no folder part such as '/' or '..', no "
                        "control character)" + (f"; {where}" if where else ""))
    return value
