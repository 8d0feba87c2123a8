"""FER+ (Microsoft's relabelling of FER2013): ten annotators' votes per face, as soft targets.

Two layouts, both as FER+'s users have them:

- the folders FER+'s scripts produce: ``FER2013Train/``, ``FER2013Valid/`` (and ``FER2013Test/``), each
  with 48x48 PNGs ``ferNNNNNNN.png`` and a header-less ``label.csv`` of lines
  ``image_name,"(0, 0, 48, 48)",neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF``;
  the dataset path is the folder holding them (or one of them);
- ``fer2013new.csv`` (``Usage,Image name,<the same ten columns>``) beside ``fer2013.csv``: row i of one
  votes on row i of the other, whose pixels it takes; an empty image name is a face FER+ dropped.

The rule turning ten votes into a target (documented in docs/training.md):

1. a face whose most-voted column is contempt, unknown or NF (not a face) is dropped: the annotators
   say it is none of the seven classes;
2. single votes are dropped as outliers (as FER+'s own scripts do), unless nothing would remain;
3. contempt, unknown and NF votes are dropped (the project has no such class);
4. the remaining seven counts, normalised, are the soft target (``Split.soft``); ``Split.labels`` is
   their argmax (a tie goes to the class FER+ lists first: neutral, happiness, surprise, ...).

Splits: Train -> train, Valid/PublicTest -> val, Test/PrivateTest -> test.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from edge.core.errors import UserError
from edge.core.preprocess import prepare
from edge.core.spec import DEFAULT_SPEC, LABELS, ModelSpec
from train.datasets.base import SPLIT_ALIASES, Loaded, Skips, Split
from train.datasets.decode import parallel_map, read_gray

NAME = "ferplus"
#: FER+'s vote columns, in its order
COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF")
#: FER+ column -> project class id (contempt, unknown and NF have none)
TO_LABEL = {"neutral": LABELS.index("neutral"), "happiness": LABELS.index("happy"),
            "surprise": LABELS.index("surprise"), "sadness": LABELS.index("sad"), "anger": LABELS.index("angry"),
            "disgust": LABELS.index("disgust"), "fear": LABELS.index("fear")}
NOT_A_CLASS = ("contempt", "unknown", "NF")
FOLDERS = {"FER2013Train": "train", "FER2013Valid": "val", "FER2013Test": "test"}
VOTES_CSV = "fer2013new.csv"
PIXELS_CSV = "fer2013.csv"


def looks_like_ferplus(path: Path) -> bool:
    """A FER+ folder (holding FER2013Train/label.csv, ...), one of its split folders, or fer2013new.csv."""
    if path.is_file():
        return path.name.lower() == VOTES_CSV
    if (path / "label.csv").is_file() and path.name in FOLDERS:
        return True
    return any((path / name / "label.csv").is_file() for name in FOLDERS)


def vote_target(votes: np.ndarray) -> tuple[np.ndarray | None, str | None]:
    """(float32 soft target over LABELS, None) for ten FER+ vote counts, or (None, why the face is dropped)."""
    votes = np.asarray(votes, dtype=np.float64)
    if votes.sum() <= 0:
        return None, "no votes"
    top = COLUMNS[int(np.argmax(votes))]
    if top in NOT_A_CLASS:
        return None, f"most votes for {top}"
    counts = np.zeros(len(LABELS), np.float64)
    for column, label in TO_LABEL.items():
        counts[label] = votes[COLUMNS.index(column)]
    trimmed = np.where(counts > 1, counts, 0.0)  # single votes are outliers (FER+'s own rule)
    if trimmed.sum() > 0:
        counts = trimmed
    return (counts / counts.sum()).astype(np.float32), None


def _label_of(soft: np.ndarray) -> int:
    """argmax of a soft target, ties broken in FER+'s column order."""
    best = soft.max()
    for column in COLUMNS[:7]:
        if soft[TO_LABEL[column]] == best:
            return TO_LABEL[column]
    raise AssertionError("unreachable")


def parse_votes(fields: list[str], where: str, skips: Skips) -> np.ndarray | None:
    try:
        votes = np.array([int(float(v)) for v in fields], np.int64)
    except ValueError:
        skips.add("vote counts that are not numbers", f"{where}: {','.join(fields)!r}")
        return None
    if (votes < 0).any():
        skips.add("negative vote counts", f"{where}: {','.join(fields)!r}")
        return None
    return votes


def _target(votes: np.ndarray, where: str, skips: Skips) -> np.ndarray | None:
    soft, why = vote_target(votes)
    if soft is None:
        skips.add(f"face dropped by the FER+ rule ({why})", where)
    return soft


def _stack(rows: dict[str, list[tuple[np.ndarray, np.ndarray]]], spec: ModelSpec, skips: Skips) -> Loaded:
    parts = {}
    for split, items in rows.items():
        soft = np.stack([s for _, s in items])
        stacked = Split.stack([prepare(image, spec) for image, _ in items], [_label_of(s) for s in soft],
                              (spec.input_height, spec.input_width))
        parts[split] = Split(stacked.images, stacked.labels, soft=soft)
    return Loaded(parts, skips.counts, skips.examples)


def load_folders(path: Path, *, spec: ModelSpec = DEFAULT_SPEC) -> Loaded:
    """FER+'s folder layout: ``path`` holds FER2013Train/ ... (or is one of them)."""
    skips = Skips(str(path))
    folders = [(path, FOLDERS[path.name])] if path.name in FOLDERS and (path / "label.csv").is_file() else [
        (path / name, split) for name, split in FOLDERS.items() if (path / name / "label.csv").is_file()]
    if not folders:
        raise UserError(f"{path}: not a FER+ folder (expected FER2013Train/label.csv, FER2013Valid/label.csv)")
    rows: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for folder, split in folders:
        items = []
        with open(folder / "label.csv", newline="", encoding="utf-8-sig") as f:
            for number, row in enumerate(csv.reader(f), start=1):
                where = f"{folder.name}/label.csv line {number}"
                if not row or not any(c.strip() for c in row):
                    continue
                if len(row) != 2 + len(COLUMNS):
                    skips.add("label.csv line with the wrong number of fields",
                              f"{where}: expected {2 + len(COLUMNS)} fields, got {len(row)}")
                    continue
                name = row[0].strip()
                if not name or Path(name).name != name:
                    skips.add("image name that is not a plain file name", f"{where}: {name!r}")
                    continue
                votes = parse_votes(row[2:], where, skips)
                soft = None if votes is None else _target(votes, where, skips)
                if soft is not None:
                    items.append((name, soft, where))

        def read(item, folder=folder):
            name, soft, where = item
            try:
                return read_gray(folder / name), soft, where
            except FileNotFoundError:
                return "missing image file", soft, where

        for image, soft, where in parallel_map(read, items, f"reading {folder}"):
            if isinstance(image, str) or image is None:
                skips.add(image if isinstance(image, str) else "corrupt or unreadable image", where)
                continue
            rows.setdefault(split, []).append((image, soft))
    return _stack(rows, spec, skips)


def load_csv(votes_csv: Path, *, spec: ModelSpec = DEFAULT_SPEC) -> Loaded:
    """``fer2013new.csv`` with the pixels of the ``fer2013.csv`` beside it, row by row."""
    from train.datasets.fer2013_csv import parse_pixels

    pixels_csv = votes_csv.with_name(PIXELS_CSV)
    if not pixels_csv.is_file():
        raise UserError(f"{votes_csv}: no {PIXELS_CSV} beside it (FER+'s votes take their pixels from it, row by row)")
    skips = Skips(str(votes_csv))
    rows: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 24))
    with open(votes_csv, newline="", encoding="utf-8-sig") as fv, open(pixels_csv, newline="", encoding="utf-8-sig") as fp:
        votes_rows, pixel_rows = csv.reader(fv), csv.reader(fp)
        header, pixel_header = next(votes_rows, None), next(pixel_rows, None)
        if header is None or [h.strip() for h in header[2:]] != list(COLUMNS):
            raise UserError(f"{votes_csv}: not FER+'s {VOTES_CSV}: expected the header Usage,Image name,"
                            f"{','.join(COLUMNS)}, got {header}")
        if pixel_header is None or "pixels" not in [h.strip().lower() for h in pixel_header]:
            raise UserError(f"{pixels_csv}: not a FER2013 CSV (expected the header emotion,pixels,Usage)")
        i_pixels = [h.strip().lower() for h in pixel_header].index("pixels")
        for number, (row, pixel_row) in enumerate(zip(votes_rows, pixel_rows), start=2):
            where = f"{VOTES_CSV} line {number}"
            if len(row) != 2 + len(COLUMNS):
                skips.add(f"{VOTES_CSV} line with the wrong number of fields",
                          f"{where}: expected {2 + len(COLUMNS)} fields, got {len(row)}")
                continue
            if not row[1].strip():
                skips.add("face FER+ dropped (empty image name)", where)
                continue
            split = SPLIT_ALIASES.get(row[0].strip().lower())
            if split is None:
                skips.add("unknown Usage (expected Training, PublicTest or PrivateTest)", f"{where}: {row[0]!r}")
                continue
            votes = parse_votes(row[2:], where, skips)
            soft = None if votes is None else _target(votes, where, skips)
            if soft is None:
                continue
            face = parse_pixels(pixel_row[i_pixels]) if len(pixel_row) > i_pixels else None
            if face is None:
                skips.add(f"{PIXELS_CSV} row without a 48x48 face", f"{PIXELS_CSV} line {number}")
                continue
            rows.setdefault(split, []).append((face, soft))
    return _stack(rows, spec, skips)


def load(path: str | os.PathLike, *, spec: ModelSpec = DEFAULT_SPEC) -> Loaded:
    path = Path(path)
    return load_csv(path, spec=spec) if path.is_file() else load_folders(path, spec=spec)
