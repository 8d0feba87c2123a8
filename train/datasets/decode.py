"""Decoding image files to grayscale, in parallel, with progress. Shared by the folder and ExpW loaders."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from train.datasets.base import Progress

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".tif", ".tiff", ".webp")

T = TypeVar("T")
R = TypeVar("R")


def read_gray(path: str | os.PathLike) -> np.ndarray | None:
    """A uint8 grayscale image, or None when the file is not a decodable image.

    Raises FileNotFoundError for a missing file (callers count the two problems separately).
    """
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise
    except OSError:  # a directory, no permission, an I/O error
        return None
    if data.size == 0:
        return None
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    if image is None or image.size == 0:
        return None
    return image


def parallel_map(fn: Callable[[T], R], items: Sequence[T], what: str, chunk: int = 256) -> list[R]:
    """``[fn(x) for x in items]`` on a few threads (cv2 decoding releases the GIL), logging progress."""
    progress = Progress(what, len(items))
    chunks = [items[i:i + chunk] for i in range(0, len(items), chunk)]
    workers = min(8, os.cpu_count() or 1)
    out: list[R] = []
    if workers <= 1 or len(chunks) <= 1:
        for part in chunks:
            out.extend(fn(x) for x in part)
            progress.update(len(part))
    else:
        with ThreadPoolExecutor(workers) as pool:
            for results in pool.map(lambda part: [fn(x) for x in part], chunks):
                out.extend(results)
                progress.update(len(results))
    if len(items) >= 1000:
        progress.finish()
    return out


def is_image_name(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_EXTENSIONS
