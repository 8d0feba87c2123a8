"""Image folders: ``<class>/*.png`` or ``<split>/<class>/*.jpg`` (the common FER2013 / CK+ layout).

Class folders may use the usual aliases (anger/angry, happiness/happy, sadness/sad, ...) or the
label ids 0..6; split folders train/, val|valid|validation|PublicTest/, test|PrivateTest/.
Without a val folder a stratified val split is carved out of train (see ``base.assemble``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from edge.core.errors import UserError
from edge.core.preprocess import prepare
from edge.core.spec import DEFAULT_SPEC, LABELS, ModelSpec
from train.datasets.base import SPLIT_ALIASES, Loaded, Skips, Split
from train.datasets.decode import IMAGE_EXTENSIONS, is_image_name, parallel_map, read_gray

log = logging.getLogger(__name__)

NAME = "folders"
#: Folder name (lower case) -> class id. Only real synonyms: no guessing (e.g. "calm" is not neutral,
#: CK+'s "contempt" has no class here and is reported as skipped).
CLASS_ALIASES: dict[str, int] = {}
for _i, _names in enumerate([
    ("angry", "anger"),
    ("disgust", "disgusted"),
    ("fear", "fearful"),
    ("happy", "happiness"),
    ("sad", "sadness"),
    ("surprise", "surprised"),
    ("neutral",),
]):
    assert _names[0] == LABELS[_i]
    CLASS_ALIASES.update({n: _i for n in _names})
    CLASS_ALIASES[str(_i)] = _i


def class_id(folder_name: str) -> int | None:
    return CLASS_ALIASES.get(folder_name.strip().lower())


def _subdirs(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))


def looks_like_folders(path: Path) -> bool:
    """A folder with class subfolders, or split subfolders holding class subfolders."""
    subs = _subdirs(path)
    if any(class_id(p.name) is not None for p in subs):
        return True
    return any(SPLIT_ALIASES.get(p.name.lower()) and any(class_id(c.name) is not None for c in _subdirs(p))
               for p in subs)


def class_folder_hint(root: Path, limit: int = 8) -> str:
    """'found contempt/, calm/; expected ...': the subfolders there are and the class names that would do."""
    found = []
    for p in _subdirs(root):
        inner = _subdirs(p) if p.name.lower() in SPLIT_ALIASES else []
        found += [f"{p.name}/{c.name}/" for c in inner] or [f"{p.name}/"]
    shown = ", ".join(found[:limit]) + (f" and {len(found) - limit} more" if len(found) > limit else "")
    return (f"found {shown or 'no subfolders'}; expected <class>/ or <split>/<class>/ folders named "
            f"{', '.join(LABELS)} (or an alias such as anger, happiness, sadness) or 0..6")


def has_split_folders(root: Path) -> bool:
    """True when ``root`` holds split folders (train/, val/, test/, ...) rather than class folders."""
    return any(p.name.lower() in SPLIT_ALIASES for p in _subdirs(root))


def layout(root: Path) -> dict[str, list[tuple[Path, int | None]]]:
    """split -> [(class folder, class id or None for an unrecognised folder)]; unsplit data is 'train'."""
    subs = _subdirs(root)
    split_dirs = [(SPLIT_ALIASES[p.name.lower()], p) for p in subs if p.name.lower() in SPLIT_ALIASES]
    if split_dirs:
        out: dict[str, list[tuple[Path, int | None]]] = {}
        for split, folder in split_dirs:
            out.setdefault(split, []).extend((c, class_id(c.name)) for c in _subdirs(folder))
        for p in subs:
            if p.name.lower() not in SPLIT_ALIASES:
                log.warning("%s: ignoring folder %s (not a split name: train, val, test, ...)", root, p.name)
    else:
        out = {"train": [(c, class_id(c.name)) for c in subs]}
    if not any(cid is not None for folders in out.values() for _, cid in folders):
        raise UserError(f"{root}: no class folders found ({class_folder_hint(root)})")
    return out


def _files(folder: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        out.extend(Path(dirpath, f) for f in sorted(filenames) if not f.startswith("."))
    return out


def load(root: str | os.PathLike, *, spec: ModelSpec = DEFAULT_SPEC) -> Loaded:
    root = Path(root)
    skips = Skips(str(root))
    jobs: list[tuple[str, Path, int]] = []
    for split, folders in layout(root).items():
        for folder, cid in folders:
            files = _files(folder)
            if cid is None:
                if files:
                    skips.add(f"files in a folder that is not a class ({', '.join(LABELS)}, 0..6 or an alias)",
                              f"{folder}: not a class name", len(files))
                continue
            if not files:
                log.warning("%s: empty class folder (no images of %s in %s)", folder, LABELS[cid], split)
            for f in files:
                if is_image_name(f.name):
                    jobs.append((split, f, cid))
                else:
                    skips.add(f"not an image file (extensions: {' '.join(IMAGE_EXTENSIONS)})", str(f))

    def decode(job):
        split, path, cid = job
        try:
            image = read_gray(path)
        except FileNotFoundError:
            return split, None, cid, "image file vanished while loading", path
        if image is None:
            return split, None, cid, "corrupt or unreadable image", path
        return split, prepare(image, spec), cid, None, path

    images: dict[str, list] = {}
    labels: dict[str, list] = {}
    for split, image, cid, problem, path in parallel_map(decode, jobs, f"decoding {root}"):
        if problem:
            skips.add(problem, str(path))
            continue
        images.setdefault(split, []).append(image)
        labels.setdefault(split, []).append(cid)
    shape = (spec.input_height, spec.input_width)
    parts = {s: Split.stack(images[s], labels[s], shape) for s in images}
    return Loaded(parts, skips.counts, skips.examples)
