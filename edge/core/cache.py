"""The fer-edge cache folder, one owner for every stage: the detector and teacher models
(``fetch-models``), decoded datasets and teacher outputs (``train``), TFLM builds (``export-firmware``)
and the Pi check's userland all live under it.

``$FER_EDGE_CACHE``, else ``$XDG_CACHE_HOME/fer-edge``, else ``~/.cache/fer-edge``. Standard library only.
"""

from __future__ import annotations

import os
from pathlib import Path

from edge.core.errors import UserError

ENV_CACHE = "FER_EDGE_CACHE"
#: how help texts and docs name the rule
WHERE = f"${ENV_CACHE}, else $XDG_CACHE_HOME/fer-edge, else ~/.cache/fer-edge"


def cache_dir() -> Path:
    """``$FER_EDGE_CACHE``, else ``$XDG_CACHE_HOME/fer-edge``, else ``~/.cache/fer-edge`` (not created)."""
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "fer-edge"


def require_cache_dir() -> Path:
    """The cache folder, refusing one (or an ancestor) that exists as something other than a folder."""
    folder = cache_dir()
    for p in (folder, *folder.parents):
        if p.exists():
            if not p.is_dir():
                what = f"{ENV_CACHE}={os.environ[ENV_CACHE]}" if os.environ.get(ENV_CACHE) else str(folder)
                raise UserError(f"{what}: {p} is a file, not a folder (expected a folder for the cache); "
                                f"point {ENV_CACHE} at a folder")
            break
    return folder
