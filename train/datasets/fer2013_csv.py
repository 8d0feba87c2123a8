"""FER2013 as distributed: ``fer2013.csv`` with columns ``emotion,pixels,Usage``.

``pixels`` holds 2304 space-separated values 0..255 (a 48x48 face, row-major); ``Usage`` is
Training / PublicTest / PrivateTest (-> train / val / test). Without a Usage column every row is
training data and val is carved out by ``base.assemble``.
"""

from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path

import numpy as np

from edge.core.errors import UserError
from edge.core.preprocess import prepare
from edge.core.spec import DEFAULT_SPEC, LABELS, ModelSpec
from train.datasets.base import SPLIT_ALIASES, Loaded, Progress, Skips, Split

NAME = "fer2013-csv"
SIDE = 48  # FER2013 faces are 48x48
PIXELS = SIDE * SIDE


def _columns(header: list[str], path: Path) -> tuple[int, int, int | None]:
    names = [h.strip().lower() for h in header]
    missing = [c for c in ("emotion", "pixels") if c not in names]
    if missing:
        raise UserError(f"{path}: not a FER2013 CSV: header {header} lacks {', '.join(missing)} "
                        "(expected emotion,pixels,Usage)")
    return names.index("emotion"), names.index("pixels"), names.index("usage") if "usage" in names else None


def parse_pixels(text: str) -> np.ndarray | None:
    """The 48x48 uint8 face in a pixels field, or None if it is not 2304 integers in 0..255."""
    with warnings.catch_warnings():  # numpy warns (future: raises) on text it cannot read to the end
        warnings.simplefilter("error", DeprecationWarning)
        try:
            values = np.fromstring(text, dtype=np.int64, sep=" ")
        except (ValueError, DeprecationWarning):
            return None
    if values.size != PIXELS or values.min() < 0 or values.max() > 255:
        return None
    return values.astype(np.uint8).reshape(SIDE, SIDE)


def load(path: str | os.PathLike, *, spec: ModelSpec = DEFAULT_SPEC) -> Loaded:
    path = Path(path)
    skips = Skips(str(path))
    images: dict[str, list[np.ndarray]] = {}
    labels: dict[str, list[int]] = {}
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 24))
    try:
        f = open(path, newline="", encoding="utf-8-sig")
    except OSError as e:
        raise UserError(f"{path}: cannot read the CSV ({e.strerror})") from None
    with f:
        progress = Progress(f"reading {path} (bytes)", os.fstat(f.fileno()).st_size)
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise UserError(f"{path}: empty file (expected a FER2013 CSV with header emotion,pixels,Usage)")
        i_emotion, i_pixels, i_usage = _columns(header, path)
        width = max(i_emotion, i_pixels, i_usage or 0) + 1
        for row in reader:
            line = reader.line_num
            if not row or not any(cell.strip() for cell in row):
                continue
            progress.update(sum(map(len, row)) + len(row))
            if len(row) < width:
                skips.add("row with missing columns", f"line {line}: expected {len(header)} columns, got {len(row)}")
                continue
            split = "train" if i_usage is None else SPLIT_ALIASES.get(row[i_usage].strip().lower())
            if split is None:
                skips.add("unknown Usage (expected Training, PublicTest or PrivateTest)",
                          f"line {line}: Usage {row[i_usage]!r}")
                continue
            try:
                label = int(row[i_emotion])
            except ValueError:
                label = -1
            if not 0 <= label < len(LABELS):
                skips.add(f"label outside 0..{len(LABELS) - 1}", f"line {line}: emotion {row[i_emotion]!r}")
                continue
            face = parse_pixels(row[i_pixels])
            if face is None:
                skips.add(f"pixels field is not {PIXELS} integers in 0..255",
                          f"line {line}: {len(row[i_pixels].split())} values")
                continue
            images.setdefault(split, []).append(prepare(face, spec))
            labels.setdefault(split, []).append(label)
        if progress.done > 1 << 24:
            progress.finish()
    shape = (spec.input_height, spec.input_width)
    return Loaded({s: Split.stack(images[s], labels[s], shape) for s in images}, skips.counts, skips.examples)


