"""Decode once: a loaded source is stored as a compact uint8 .npz keyed by the source's content.

The key hashes every file's relative path, size and mtime_ns (a fast ``os.scandir`` walk, no file
reads) together with the loader options and the spec's preprocessing fields, so editing, adding or
removing a file, or changing how faces are cropped/resized, misses the cache. Files live under
the fer-edge cache folder (``edge.core.cache``) and are written atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edge.core import atomic
from edge.core.cache import cache_dir
from edge.core.spec import ModelSpec
from train.datasets.base import Loaded, Split

log = logging.getLogger(__name__)

CACHE_FORMAT = 3  # bump when a loader changes what it produces for the same files
#: Split arrays stored when a loader gives them (images and labels always are)
OPTIONAL_ARRAYS = ("groups", "soft", "views")
Signature = list[tuple[str, int, int]]


def tree_signature(root: str | os.PathLike) -> Signature:
    """(relative path, size, mtime_ns) of every file under ``root``, sorted; hidden entries ignored."""
    out: Signature = []
    stack = [("", os.fspath(root))]
    while stack:
        rel, folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                name = rel + entry.name
                if entry.is_dir():
                    stack.append((name + "/", entry.path))
                else:
                    st = entry.stat()
                    out.append((name, st.st_size, st.st_mtime_ns))
    out.sort()
    return out


def file_signature(path: str | os.PathLike) -> Signature:
    st = os.stat(path)
    return [(Path(path).name, st.st_size, st.st_mtime_ns)]


def _digest(*parts: Any) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, default=str).encode())
        h.update(b"\n")
    return h.hexdigest()


def cache_file(fmt: str, source: str, options: dict, signature: Signature, spec: ModelSpec) -> Path:
    """``<fmt>-<name>-<what>-<content>.npz``: ``what`` = source path + options + spec, ``content`` = signature."""
    prep = {"h": spec.input_height, "w": spec.input_width, "interpolation": spec.interpolation}
    what = _digest(CACHE_FORMAT, fmt, os.path.abspath(source) if os.path.exists(source) else source, options, prep)
    content = _digest(signature)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(source).name or "data")[:40]
    return cache_dir() / f"{fmt}-{slug}-{what[:10]}-{content[:16]}.npz"


def save(path: Path, loaded: Loaded) -> None:
    arrays: dict[str, np.ndarray] = {}
    for name, split in loaded.parts.items():
        arrays[f"{name}__images"], arrays[f"{name}__labels"] = split.images, split.labels
        for field in OPTIONAL_ARRAYS:
            if getattr(split, field) is not None:
                arrays[f"{name}__{field}"] = getattr(split, field)
    meta = {"skipped": dict(loaded.skipped), "examples": loaded.skip_examples}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with atomic.atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def load(path: Path) -> Loaded | None:
    """The cached Loaded, or None when absent or unreadable (then it is rebuilt)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(z["meta"].tobytes().decode())
            names = sorted({k.split("__")[0] for k in z.files if k.endswith("__images")})
            parts = {n: Split(z[f"{n}__images"], z[f"{n}__labels"],
                              **{f: z[f"{n}__{f}"] for f in OPTIONAL_ARRAYS if f"{n}__{f}" in z.files})
                     for n in names}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as e:
        log.warning("%s: ignoring unreadable cache file (%s); decoding again", path, e)
        return None
    return Loaded(parts, Counter(meta["skipped"]), dict(meta["examples"]))


def load_array(path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    """A cached per-face array (teacher outputs) of exactly ``shape``, or None (absent, unreadable, other shape)."""
    try:
        out = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return out if out.shape == shape else None


def save_array(path: Path, array: np.ndarray, what: str) -> None:
    """Write a per-face array atomically; a cache that cannot be written is a warning, not a failure."""
    try:
        with atomic.atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.save(fh, array)
    except OSError as e:
        log.warning("could not cache %s in %s (%s)", what, path, e)


def cached_load(fmt: str, source: str, options: dict, signature: Signature, spec: ModelSpec,
                build: Callable[[], Loaded], use_cache: bool = True) -> Loaded:
    """``build()`` once per content: later calls with the same source, options and spec read the .npz."""
    if not use_cache:
        return build()
    path = cache_file(fmt, source, options, signature, spec)
    loaded = load(path)
    if loaded is not None:
        log.info("%s: loaded from cache %s", source, path)
        return loaded
    loaded = build()
    try:
        save(path, loaded)
        _prune_older(path)
        log.info("%s: cached as %s", source, path)
    except OSError as e:
        log.warning("could not write the dataset cache %s (%s); the next load decodes again", path, e)
    return loaded


def _prune_older(path: Path) -> None:
    """Remove caches of earlier contents of the same source (same name prefix, different content hash)."""
    prefix = path.name.rsplit("-", 1)[0] + "-"
    for old in path.parent.glob(prefix + "*.npz"):
        if old != path:
            old.unlink(missing_ok=True)
