"""Reading the JSON files every stage writes (specs, configs, reports) with one-line errors."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

from edge.core.errors import UserError

T = TypeVar("T")


def read_json(path: str | Path, what: str = "JSON file", missing: str = "") -> Any:
    """The parsed content of ``path``; a missing or unreadable file is a UserError naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: {what} not found" + (f" ({missing})" if missing else "")) from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise UserError(f"{path}: not a readable {what} ({e})") from None


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
