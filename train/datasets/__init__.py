"""Dataset loaders behind one interface: ``load_dataset(source) -> Dataset``.

Formats: ``expw`` (label.lst + photos), ``fer2013-csv`` (emotion,pixels,Usage), ``ferplus`` (FER+'s
votes as soft targets: its FER2013Train/ label.csv folders, or fer2013new.csv beside fer2013.csv), ``folders``
(``<split>/<class>/*.png``), ``legend`` (``data/legend.csv`` + ``images/``: muxspace/facial_expressions) and ``synthetic`` (built-in faces, the default). Every Dataset has
``train`` and ``val`` splits (plus ``test`` where the source has one) of uint8 48x48 faces made by
``edge.core.preprocess.prepare``; decoded sources are cached (see ``cache``).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from edge.core.errors import UserError
from edge.core.spec import DEFAULT_SPEC, LABELS, ModelSpec
from train.datasets import cache
from train.datasets.base import SPLITS, Dataset, Loaded, Split, assemble, stratified_split

__all__ = ["FORMATS", "SPLITS", "Dataset", "Split", "detect_format", "load_dataset", "stratified_split"]

log = logging.getLogger(__name__)

FORMATS = ("auto", "expw", "fer2013-csv", "ferplus", "folders", "legend", "synthetic")


def _synthetic_seed(source: str | None) -> int | None:
    """The seed of a 'synthetic' / 'synthetic:SEED' source, or None for a path."""
    if source is None or source == "synthetic":
        return 0
    if source.startswith("synthetic:"):
        try:
            return int(source.split(":", 1)[1])
        except ValueError:
            raise UserError(f"{source!r}: expected synthetic:SEED with an integer SEED") from None
    return None


def detect_format(path: Path) -> str:
    """'fer2013-csv' for a .csv file, 'expw' for a label.lst (or a folder holding one), 'folders' for class folders."""
    from train.datasets import folders

    if not path.exists():
        raise UserError(f"{path}: dataset path not found (expected an image folder, a FER2013 .csv file "
                        "or an ExpW folder with label.lst)")
    from train.datasets import ferplus

    if ferplus.looks_like_ferplus(path):
        return "ferplus"
    from train.datasets import legend

    if legend.looks_like_legend(path):
        return "legend"
    if path.is_file():
        if path.suffix.lower() == ".csv":
            return "fer2013-csv"
        if path.suffix.lower() == ".lst":
            return "expw"
        raise UserError(f"{path}: unrecognised dataset file (expected a FER2013 .csv, an ExpW label.lst or a legend.csv)")
    if (path / "label.lst").is_file():
        return "expw"
    if folders.looks_like_folders(path):
        return "folders"
    raise UserError(f"{path}: unrecognised dataset folder ({folders.class_folder_hint(path)}, "
                    "an ExpW folder with label.lst, or data/legend.csv with images/)")


def load_dataset(source: str | None = None, *, format: str = "auto", val_fraction: float = 0.1, seed: int = 0,
                 expw_min_confidence: float | None = None,
                 synthetic_per_class: int | None = None, use_cache: bool = True,
                 spec: ModelSpec = DEFAULT_SPEC, holdout: bool = True, teacher_views: bool = False) -> Dataset:
    """Load a dataset (default: the built-in synthetic faces) as train/val(/test) splits.

    Faces cut from photos (ExpW) are framed as ``spec.framing`` says, the way the live loop frames that
    model's faces; a spec without framing (older specs, ``DEFAULT_SPEC``) crops the labelled box as it is
    (``BOX_CROP``). Pre-cropped faces (FER2013, FER+, folders) are taken as they are.
    ``teacher_views``: ExpW faces also as the zoo teacher sees them (``Split.views``).

    ``holdout=False``: the source's own splits only, nothing carved out (see ``base.assemble``);
    ``Dataset.unsplit`` then says whether "train" is the whole unsplit source.
    """
    if format not in FORMATS:
        raise UserError(f"unknown dataset format {format!r} (expected one of {', '.join(FORMATS)})")
    if tuple(spec.labels) != LABELS:
        raise UserError(f"the dataset loaders give the labels {list(LABELS)}; the spec asks for {list(spec.labels)}")
    start = time.monotonic()
    synthetic_seed = _synthetic_seed(source)
    if format == "synthetic" and source is not None and synthetic_seed is None:
        raise UserError(f"{source!r}: format synthetic takes no path (use synthetic or synthetic:SEED)")
    unsplit = False
    if format == "synthetic" or (format == "auto" and synthetic_seed is not None):
        name, label, loaded = "synthetic", f"synthetic:{synthetic_seed or 0}", _load_synthetic(
            synthetic_seed or 0, synthetic_per_class, spec, use_cache)
    else:
        if source is None:
            raise UserError(f"format {format!r} needs a dataset path")
        path = Path(source).expanduser()
        name = detect_format(path) if format == "auto" else format
        if not path.exists():
            raise UserError(f"{path}: dataset path not found (expected a {name} dataset)")
        label = str(path)
        loaded = _load_path(name, path, expw_min_confidence, spec, use_cache, teacher_views)
        unsplit = _unsplit(name, path)
    dataset = assemble(name, label, loaded, val_fraction=val_fraction, seed=seed, holdout=holdout, unsplit=unsplit)
    dataset.log_skipped()
    present = [i for i, n in enumerate(np.sum(list(dataset.counts().values()), axis=0)) if n]
    if len(present) == 1:
        log.warning("%s: every face is %s (one class): accuracy on it, or a model trained on it, says nothing "
                    "about the other %d classes", label, dataset.labels[present[0]], len(dataset.labels) - 1)
    sizes = ", ".join(f"{k} {len(v)}" for k, v in dataset.splits.items())
    log.info("%s (%s): %s images in %.1f s", label, name, sizes, time.monotonic() - start)
    return dataset


def _unsplit(name: str, path: Path) -> bool:
    """Whether a source has no splits of its own: ExpW, or class folders without split folders."""
    if name in ("expw", "legend"):
        return True
    if name == "folders":
        from train.datasets import folders

        return not folders.has_split_folders(path)
    return False


def _load_synthetic(seed: int, per_class: int | None, spec: ModelSpec, use_cache: bool) -> Loaded:
    from train.datasets import synthetic

    if per_class is not None and per_class < 1:
        raise UserError(f"synthetic_per_class must be a positive integer, got {per_class}")
    options = {"seed": seed, "per_class": per_class, "version": synthetic.VERSION}
    return cache.cached_load("synthetic", f"synthetic-{seed}", options, [], spec,
                             lambda: synthetic.load(seed, per_class=per_class, spec=spec), use_cache)


def _load_path(name: str, path: Path, expw_min_confidence: float | None,
               spec: ModelSpec, use_cache: bool, teacher_views: bool = False) -> Loaded:
    if name == "folders":
        from train.datasets import folders

        if not path.is_dir():
            raise UserError(f"{path}: expected a folder of <class>/ or <split>/<class>/ image folders")
        return cache.cached_load(name, str(path), {}, cache.tree_signature(path), spec,
                                 lambda: folders.load(path, spec=spec), use_cache)
    if name == "fer2013-csv":
        from train.datasets import fer2013_csv

        if not path.is_file():
            raise UserError(f"{path}: expected a FER2013 CSV file (emotion,pixels,Usage)")
        return cache.cached_load(name, str(path), {}, cache.file_signature(path), spec,
                                 lambda: fer2013_csv.load(path, spec=spec), use_cache)
    if name == "ferplus":
        from train.datasets import ferplus

        if path.is_file() and not path.with_name(ferplus.PIXELS_CSV).is_file():
            raise UserError(f"{path}: no {ferplus.PIXELS_CSV} beside it (FER+'s votes take their pixels from it, "
                            "row by row)")
        signature = cache.file_signature(path) + cache.file_signature(path.with_name(ferplus.PIXELS_CSV)) \
            if path.is_file() else cache.tree_signature(path)
        return cache.cached_load(name, str(path), {}, signature, spec, lambda: ferplus.load(path, spec=spec), use_cache)
    if name == "expw":
        from train.datasets import expw

        label_file, photos = expw.locate(path)
        framing = spec.face_framing
        options = {"margin": framing.margin, "align": framing.align, "min_confidence": expw_min_confidence,
                   "views": teacher_views, "expw_version": 3}
        if framing.align and not teacher_views:  # framed from YuNet's landmarks only where YuNet is installed
            from train.datasets.face_views import have_yunet

            options["yunet"] = have_yunet()
        signature = cache.file_signature(label_file) + cache.tree_signature(photos)
        return cache.cached_load(name, str(label_file.parent), options, signature, spec,
                                 lambda: expw.load(label_file, photos, min_confidence=expw_min_confidence, spec=spec,
                                                   framing=framing, views=teacher_views), use_cache)
    if name == "legend":
        from train.datasets import legend

        legend_csv, images = legend.locate(path)
        framing = spec.face_framing
        options = {"margin": framing.margin, "align": framing.align, "views": teacher_views, "legend_version": 1}
        from train.datasets.face_views import have_yunet

        options["yunet"] = have_yunet()
        signature = cache.file_signature(legend_csv) + cache.tree_signature(images)
        return cache.cached_load(name, str(legend_csv), options, signature, spec,
                                 lambda: legend.load(legend_csv, images, spec=spec, framing=framing,
                                                     views=teacher_views), use_cache)
    raise UserError(f"format {name!r} does not read a path (expected one of {', '.join(FORMATS[1:])})")
