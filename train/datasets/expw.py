"""Expression in-the-Wild (ExpW): ``label.lst`` plus a photo folder (``origin/`` or ``Images/``).

Each ``label.lst`` line is ``image_name face_id top left right bottom confidence label`` and a photo
can hold several faces: each photo is decoded once and every face box is cropped from it (grown by
an optional margin, clipped to the photo) and passed through ``edge.preprocess.prepare``. ExpW has
no official split: val is carved out by ``base.assemble``, by photo (all faces of a photo on one side).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath

import numpy as np

from edge.errors import UserError
from edge.preprocess import framed_box, prepare, to_gray
from edge.spec import DEFAULT_SPEC, LABELS, Framing, ModelSpec
from train.datasets.base import Loaded, Skips, Split
from train.datasets.decode import parallel_map, read_gray

log = logging.getLogger(__name__)

NAME = "expw"
PHOTO_DIRS = ("origin", "Images", "images", "image")
FIELDS = 8


@dataclass(frozen=True)
class Face:
    line: int
    top: float
    left: float
    right: float
    bottom: float
    confidence: float
    label: int


def locate(path: Path) -> tuple[Path, Path]:
    """(label.lst, photo folder) of an ExpW folder (or of its label.lst)."""
    label_file = path if path.is_file() else path / "label.lst"
    root = label_file.parent
    if not label_file.is_file():
        raise UserError(f"{root}: no label.lst (expected an ExpW folder with label.lst and origin/ or Images/)")
    for name in PHOTO_DIRS:
        if (root / name).is_dir():
            return label_file, root / name
    raise UserError(f"{root}: no photo folder beside {label_file.name} (expected {' or '.join(PHOTO_DIRS[:2])}/)")


def escapes(name: str) -> bool:
    """True for a name that would leave the photo folder: absolute, a drive, or a '..' part."""
    return any(p.is_absolute() or p.drive or ".." in p.parts for p in (PurePosixPath(name), PureWindowsPath(name)))


def parse_line(text: str, line: int, skips: Skips, min_confidence: float | None) -> tuple[str, Face] | None:
    fields = text.split()
    where = f"label.lst line {line}"
    if len(fields) != FIELDS:
        skips.add("label.lst line with the wrong number of fields",
                  f"{where}: expected {FIELDS} fields, got {len(fields)}")
        return None
    name = fields[0]
    if escapes(name):
        skips.add("image name escapes the dataset folder", f"{where}: {name!r}")
        return None
    try:
        top, left, right, bottom, confidence = (float(v) for v in fields[2:7])
        if not all(math.isfinite(v) for v in (top, left, right, bottom, confidence)):
            raise ValueError
    except ValueError:
        skips.add("non-numeric face box or confidence", f"{where}: {' '.join(fields[2:7])!r}")
        return None
    try:
        label = int(fields[7])
    except ValueError:
        label = -1
    if not 0 <= label < len(LABELS):
        skips.add(f"label outside 0..{len(LABELS) - 1}", f"{where}: label {fields[7]!r}")
        return None
    if right <= left or bottom <= top:
        skips.add("empty face box (right <= left or bottom <= top)", f"{where}: {' '.join(fields[2:6])}")
        return None
    if min_confidence is not None and confidence < min_confidence:
        skips.add(f"face confidence below {min_confidence:g}", f"{where}: confidence {confidence:g}")
        return None
    return name, Face(line, top, left, right, bottom, confidence, label)


def read_label_lst(label_file: Path, skips: Skips, min_confidence: float | None) -> dict[str, list[Face]]:
    """Photo name -> its faces, in file order; bad lines are skipped and counted."""
    photos: dict[str, list[Face]] = {}
    try:
        text = label_file.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as e:
        raise UserError(f"{label_file}: cannot read ({e.strerror})") from None
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        parsed = parse_line(raw, number, skips, min_confidence)
        if parsed:
            photos.setdefault(parsed[0], []).append(parsed[1])
    return photos


def crop_box(face: Face, shape: tuple[int, ...], margin: float) -> tuple[tuple[int, int, int, int] | None, bool]:
    """((top, left, bottom, right) grown by margin * box size and clipped to the photo, or None if
    nothing is left), and whether clipping changed the box: ``edge.preprocess.framed_box``, the framing
    the live loop applies to a detector's box."""
    got, clipped = framed_box((face.left, face.top, face.right - face.left, face.bottom - face.top), margin, shape)
    if got is None:
        return None, clipped
    x0, y0, x1, y1 = got
    return (y0, x0, y1, x1), clipped


def _read_photo(path: Path, colour: bool) -> np.ndarray | None:
    """The photo as BGR (``colour``) or grey; None when it is not a decodable image (FileNotFoundError if missing)."""
    if not colour:
        return read_gray(path)
    import cv2

    data = np.fromfile(path, dtype=np.uint8)  # FileNotFoundError propagates
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    return image if image is not None and image.size else None


def load(label_file: str | os.PathLike, photos_dir: str | os.PathLike, *, margin: float = 0.0,
         min_confidence: float | None = None, spec: ModelSpec = DEFAULT_SPEC, framing: Framing | None = None,
         views: bool = False) -> Loaded:
    """ExpW faces cropped as ``framing`` says (default: the labelled box grown by ``margin``).

    With an aligned framing the face is found again by YuNet around its labelled box
    (``face_views.match_face``) and framed from YuNet's box and landmarks, exactly as the live loop frames
    it; a face YuNet does not find keeps its labelled box, unrotated. ``views``: also each face as the zoo
    teacher sees it (``Split.views``: colour, 112x112, five-point aligned).
    """
    import threading

    from edge.preprocess import frame_face
    from train.datasets import face_views

    label_file, photos_dir = Path(label_file), Path(photos_dir)
    framing = framing or Framing(margin=margin)
    if not 0.0 <= margin <= 2.0:
        raise UserError(f"ExpW margin must be a fraction of the box size in 0..2, got {margin}")
    use_yunet = framing.align or views
    if use_yunet and not views and not face_views.have_yunet():
        log.warning("%s: YuNet is not installed, so ExpW faces are cropped from their labelled boxes without "
                    "levelling the eyes (run 'fer-edge fetch-models' to frame them as the live loop does)", label_file)
        use_yunet = False
    if use_yunet:
        face_views.yunet()  # no detector: one clear line before any photo is read
    local = threading.local()
    skips = Skips(str(label_file.parent))
    photos = read_label_lst(label_file, skips, min_confidence)

    def crop_faces(item: tuple[str, list[Face]]) -> list[tuple[Face, np.ndarray | str, bool, np.ndarray | None, bool]]:
        """Each face of one photo as (face, prepared crop or the kind of problem, clipped, view, YuNet found it)."""
        name, faces = item
        try:
            photo = _read_photo(photos_dir / PurePath(name), use_yunet)
        except FileNotFoundError:
            return [(f, "missing image file", False, None, False) for f in faces]
        if photo is None:
            return [(f, "corrupt or unreadable image", False, None, False) for f in faces]
        gray = to_gray(photo)
        if use_yunet and not hasattr(local, "net"):
            local.net = face_views.yunet()  # one detector per thread: FaceDetectorYN is not thread-safe
        out = []
        for f in faces:
            box, clipped = crop_box(f, photo.shape, margin)
            if box is None:
                out.append((f, "face box outside the image", True, None, False))
                continue
            label_box = (f.left, f.top, f.right - f.left, f.bottom - f.top)
            found = face_views.match_face(local.net, photo, label_box) if use_yunet else None
            if found is not None and framing.align:
                crop = frame_face(gray, found[0], found[1], framing)
            elif use_yunet:
                crop = frame_face(gray, label_box, None, Framing(margin=framing.margin))
            else:
                top, left, bottom, right = box
                crop = gray[top:bottom, left:right]
            if crop is None or crop.size == 0:
                out.append((f, "face box outside the image", True, None, False))
                continue
            view = None
            if views:
                points = found[1] if found is not None else face_views.TEMPLATE_112 / face_views.VIEW_SIZE * \
                    np.array(label_box[2:], np.float32) + np.array(label_box[:2], np.float32)
                view = face_views.align_112(photo, points)
            out.append((f, prepare(crop, spec), clipped, view, found is not None))
        return out

    images, labels, groups, view_list, clipped, matched = [], [], [], [], 0, 0
    items = list(photos.items())
    results = parallel_map(crop_faces, items, f"cropping faces from {photos_dir}", chunk=16)
    for photo_id, ((name, _), result) in enumerate(zip(items, results)):
        for face, image, was_clipped, view, was_found in result:
            if isinstance(image, str):
                skips.add(image, f"label.lst line {face.line}: {name}")
                continue
            images.append(image)
            labels.append(face.label)
            groups.append(photo_id)
            view_list.append(view)
            clipped += was_clipped
            matched += was_found
    if clipped:
        log.info("%s: %d face box(es) reached past the photo edge and were clipped", label_file, clipped)
    if use_yunet:
        log.info("%s: YuNet found %d of %d labelled faces (framed from its box and landmarks; the rest from "
                 "their labelled box)", label_file, matched, len(images))
    split = Split.stack(images, labels, (spec.input_height, spec.input_width), groups)  # val split by photo
    if views:
        split.views = np.stack(view_list) if view_list else np.zeros((0, 112, 112, 3), np.uint8)
    return Loaded({"train": split}, skips.counts, skips.examples)
