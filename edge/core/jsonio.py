"""Reading the JSON files every stage writes (specs, configs, reports) with one-line errors."""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

from edge.core.errors import UserError

T = TypeVar("T")


def read_json(path: str | Path, what: str = "JSON file", missing: str = "") -> Any:
    """The parsed content of ``path``; a missing or unreadable file is a UserError naming it."""
    path = Path(path)
    try:
        return json.loads(read_regular_file(path, what).decode("utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: {what} not found" + (f" ({missing})" if missing else "")) from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise UserError(f"{path}: not a readable {what} ({e})") from None


def is_number(value: Any) -> bool:
    """An int or float that is finite; never a bool or a string (JSON ``true`` or ``"0.5"``)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_integer(value: Any) -> bool:
    """An int, never a bool (JSON ``true``) or a float."""
    return isinstance(value, int) and not isinstance(value, bool)


def read_regular_file(path: str | Path, what: str = "file") -> bytes:
    """The bytes of ``path`` if it is a regular file; a FIFO, device or folder is a UserError, never waited on
    (it is opened without blocking, then checked)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UserError(f"{path}: not a regular file (a pipe, device or folder; expected a {what})")
        return f.read()


def dataclass_from_dict(cls: type[T], d: Any, source: str, what: str) -> T:
    """``cls(**d)`` for a JSON object, refusing unknown fields and naming ``source`` in every error."""
    if not isinstance(d, dict):
        raise UserError(f"{source}: expected a JSON object, got {type(d).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise UserError(f"{source}: unknown {what} fields {unknown} (expected some of {sorted(known)})")
    try:
        return cls(**d)
    except UserError as e:
        raise UserError(f"{source}: {e}") from None
    except TypeError as e:
        raise UserError(f"{source}: malformed {what} ({e})") from None
