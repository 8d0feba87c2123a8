"""Face photos labelled in a ``legend.csv``: the layout of the public ``muxspace/facial_expressions`` set.

The layout, as it is published::

    ROOT/data/legend.csv     user.id,image,emotion   (a header line, then one line per photo)
    ROOT/images/<image>      the photos (350x350 grey loose crops, some small colour crops; any format
                             OpenCV decodes)

The dataset path is ``ROOT`` or the ``legend.csv`` itself (its photos are then in ``../images``). Emotions are
lower-cased and mapped onto the project's labels (anger -> angry, happiness -> happy, sadness -> sad,
surprise, fear, disgust, neutral); ``contempt`` has no class here and is dropped (counted).

The photos are loose crops, so each face is found by YuNet (the largest face in the photo) and framed from
YuNet's box and landmarks exactly as the live loop frames it (``edge.core.preprocess.frame_labelled_face`` with
the model's ``spec.framing``); a photo where YuNet finds no face is skipped and counted. Without YuNet
installed the photo is taken as the face box (a warning says so).

Many people appear many times (one has 520 photos), so faces are grouped by identity: the name in the file
name (``George_W_Bush_0012.jpg`` -> ``George_W_Bush``; a name without a ``_<number>`` tail is its own
identity), and the validation split holds out whole identities (``base.stratified_split`` with groups).
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePath

import numpy as np

from edge.core.errors import UserError
from edge.core.preprocess import prepare, to_gray
from edge.core.spec import BOX_CROP, DEFAULT_SPEC, LABELS, Framing, ModelSpec
from train.datasets.base import Loaded, Skips, Split
from train.datasets.decode import parallel_map

log = logging.getLogger(__name__)

NAME = "legend"
LEGEND = "legend.csv"
HEADER = ("user.id", "image", "emotion")
#: the set's emotion words (lower-cased) -> project class id; contempt has none
TO_LABEL = {"anger": LABELS.index("angry"), "disgust": LABELS.index("disgust"), "fear": LABELS.index("fear"),
            "happiness": LABELS.index("happy"), "neutral": LABELS.index("neutral"),
            "sadness": LABELS.index("sad"), "surprise": LABELS.index("surprise")}
NOT_A_CLASS = ("contempt",)
_IDENTITY = re.compile(r"^(?P<name>.+?)_\d+$")
NO_FACE = "YuNet found no face in the photo"


def looks_like_legend(path: Path) -> bool:
    """A ``legend.csv`` file, or a folder holding ``data/legend.csv`` (or ``legend.csv``) and ``images/``."""
    if path.is_file():
        return path.name.lower() == LEGEND
    return (path / "data" / LEGEND).is_file() or ((path / LEGEND).is_file() and (path / "images").is_dir())


def locate(path: Path) -> tuple[Path, Path]:
    """(legend.csv, images folder) of a dataset path; one clear line when either is missing."""
    if path.is_file():
        legend = path
        candidates = [path.parent.parent / "images", path.parent / "images"]
    else:
        legend = path / "data" / LEGEND if (path / "data" / LEGEND).is_file() else path / LEGEND
        candidates = [path / "images"]
    if not legend.is_file():
        raise UserError(f"{path}: no {LEGEND} (expected ROOT/data/{LEGEND} and ROOT/images/, as published)")
    for images in candidates:
        if images.is_dir():
            return legend, images
    raise UserError(f"{legend}: no images folder beside it (looked for {', '.join(str(c) for c in candidates)})")


def identity(image_name: str) -> str:
    """The person a photo shows, from its file name: ``Colin_Powell_0007.jpg`` -> ``Colin_Powell``."""
    stem = PurePath(image_name).stem
    m = _IDENTITY.match(stem)
    return m.group("name") if m else stem


@dataclass(frozen=True)
class Row:
    line: int
    image: str
    label: int


def read_legend(legend: Path, skips: Skips) -> list[Row]:
    """The usable rows of ``legend.csv``; every other row is skipped and counted by kind."""
    try:
        text = legend.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"{legend}: not UTF-8 text (byte {e.start}); expected a CSV of user.id,image,emotion") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(h.strip().lower() for h in header[:3]) != HEADER:
        raise UserError(f"{legend}: line 1: expected the header {','.join(HEADER)}, got {','.join(header or [])!r}")
    rows, seen = [], set()
    for line, fields in enumerate(reader, start=2):
        if not fields or not any(f.strip() for f in fields):
            continue
        if len(fields) != 3:
            skips.add("malformed line", f"{legend.name} line {line}: expected 3 fields, got {len(fields)}")
            continue
        image, emotion = fields[1].strip(), fields[2].strip().lower()
        if emotion in NOT_A_CLASS:
            skips.add(f"emotion {emotion} (no such class here)", f"{legend.name} line {line}: {image}")
            continue
        if emotion not in TO_LABEL:
            skips.add("unknown emotion", f"{legend.name} line {line}: {fields[2]!r}")
            continue
        if not image or PurePath(image).is_absolute() or ".." in PurePath(image).parts:
            skips.add("image name outside the images folder", f"{legend.name} line {line}: {image!r}")
            continue
        if image in seen:
            skips.add("duplicate image line", f"{legend.name} line {line}: {image}")
            continue
        seen.add(image)
        rows.append(Row(line, image, TO_LABEL[emotion]))
    return rows


@dataclass(frozen=True)
class _Cut:
    image: np.ndarray | str  # the prepared face, or the kind of problem
    view: np.ndarray | None = None


class _FaceCutter:
    """Finds the face of one photo with YuNet and frames it as ``framing`` says; safe to call from threads."""

    def __init__(self, images: Path, framing: Framing, spec: ModelSpec, use_yunet: bool, views: bool):
        import threading

        self.images, self.framing, self.spec, self.use_yunet, self.views = images, framing, spec, use_yunet, views
        self._local = threading.local()

    def _net(self):
        from train.datasets import face_views

        if not hasattr(self._local, "net"):
            self._local.net = face_views.yunet()
        return self._local.net

    def __call__(self, row: Row) -> _Cut:
        import cv2

        from edge.core.preprocess import frame_labelled_face
        from train.datasets import face_views

        try:
            data = np.fromfile(self.images / PurePath(row.image), dtype=np.uint8)
        except FileNotFoundError:
            return _Cut("missing image file")
        except OSError:
            return _Cut("unreadable image file")
        photo = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        if photo is None or not photo.size:
            return _Cut("corrupt or unreadable image")
        gray = to_gray(photo)
        h, w = gray.shape
        found = None
        if self.use_yunet:
            found = face_views.largest_face(self._net(), photo)
            if found is None:
                return _Cut(NO_FACE)
        box = found[0] if found is not None else (0, 0, w, h)
        crop = frame_labelled_face(gray, box, found, self.framing)
        if crop is None or crop.size == 0:
            return _Cut("face box outside the image")
        view = face_views.align_112(photo, found[1]) if self.views and found is not None else None
        return _Cut(prepare(crop, self.spec), view)


def load(legend: str | os.PathLike, images: str | os.PathLike, *, spec: ModelSpec = DEFAULT_SPEC,
         framing: Framing = BOX_CROP, views: bool = False) -> Loaded:
    """Every labelled photo's face as the live loop would frame it (one ``train`` split, grouped by identity).

    ``views``: also each face as the zoo teacher sees it (colour, 112x112, five-point aligned; needs YuNet).
    """
    from train.datasets import face_views

    legend, images = Path(legend), Path(images)
    skips = Skips(str(legend))
    rows = read_legend(legend, skips)
    use_yunet = face_views.have_yunet()
    if not use_yunet:
        if views:
            face_views.yunet()  # raises the one line saying how to install it
        log.warning("%s: YuNet is not installed, so each photo is taken whole as the face box (run "
                    "'fer-edge fetch-models' to find and frame the faces as the live loop does)", legend)
    cutter = _FaceCutter(images, framing, spec, use_yunet, views)
    cuts = parallel_map(cutter, rows, f"finding faces in {images}", chunk=64)
    kept, labels, groups, view_list, names = [], [], [], [], {}
    for row, cut in zip(rows, cuts):
        if isinstance(cut.image, str):
            skips.add(cut.image, f"{legend.name} line {row.line}: {row.image}")
            continue
        kept.append(cut.image)
        labels.append(row.label)
        groups.append(names.setdefault(identity(row.image), len(names)))
        view_list.append(cut.view)
    split = Split.stack(kept, labels, (spec.input_height, spec.input_width), groups)
    if views:
        split.views = np.stack(view_list) if view_list else np.zeros((0, 112, 112, 3), np.uint8)
    log.info("%s: %d faces of %d people (%d rows)", legend, len(split), len(names), len(rows))
    return Loaded({"train": split}, skips.counts, skips.examples)
