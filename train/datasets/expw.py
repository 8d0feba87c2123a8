"""Expression in-the-Wild (ExpW): ``label.lst`` plus a photo folder (``origin/`` or ``Images/``).

Each ``label.lst`` line is ``image_name face_id top left right bottom confidence label`` and a photo
can hold several faces: each photo is decoded once and every face is cut from it as the model's framing
says (``edge.core.preprocess.frame_labelled_face``, as the live loop cuts it) and passed through
``edge.core.preprocess.prepare``. ExpW has
no official split: val is carved out by ``base.assemble``, by photo (all faces of a photo on one side).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath

import numpy as np

from edge.core.errors import UserError
from edge.core.preprocess import framed_box, prepare, to_gray
from edge.core.spec import BOX_CROP, DEFAULT_SPEC, LABELS, Framing, ModelSpec
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

    @property
    def box(self) -> tuple[float, float, float, float]:
        """The labelled box as (x, y, w, h), the detectors' order."""
        return (self.left, self.top, self.right - self.left, self.bottom - self.top)


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
    nothing is left), and whether clipping changed the box: ``edge.core.preprocess.framed_box``, the framing
    the live loop applies to a detector's box."""
    got, clipped = framed_box(face.box, margin, shape)
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


OUTSIDE = "face box outside the image"


@dataclass(frozen=True)
class _Cut:
    """One labelled face of a photo: its prepared crop (or the kind of problem), whether its framed box was
    clipped at the photo edge, its teacher view, and whether YuNet found it."""

    face: Face
    image: np.ndarray | str
    clipped: bool = False
    view: np.ndarray | None = None
    found: bool = False


class _PhotoCutter:
    """Cuts every labelled face of one photo as ``framing`` says (``edge.core.preprocess.frame_labelled_face``:
    YuNet's box and landmarks where it finds the face, else the labelled box); safe to call from threads."""

    def __init__(self, photos_dir: Path, framing: Framing, spec: ModelSpec, use_yunet: bool, views: bool):
        import threading

        self.photos_dir, self.framing, self.spec = photos_dir, framing, spec
        self.use_yunet, self.views = use_yunet, views
        self._local = threading.local()

    def _net(self):
        """This thread's YuNet (FaceDetectorYN is not thread-safe), or None when YuNet is not used."""
        from train.datasets import face_views

        if not self.use_yunet:
            return None
        if not hasattr(self._local, "net"):
            self._local.net = face_views.yunet()
        return self._local.net

    def __call__(self, item: tuple[str, list[Face]]) -> list[_Cut]:
        name, faces = item
        try:
            photo = _read_photo(self.photos_dir / PurePath(name), self.use_yunet)
        except FileNotFoundError:
            return [_Cut(f, "missing image file") for f in faces]
        if photo is None:
            return [_Cut(f, "corrupt or unreadable image") for f in faces]
        gray = to_gray(photo)
        return [self._cut(photo, gray, f) for f in faces]

    def _cut(self, photo: np.ndarray, gray: np.ndarray, face: Face) -> _Cut:
        from edge.core.preprocess import frame_labelled_face
        from train.datasets import face_views

        got, clipped = framed_box(face.box, self.framing.margin, photo.shape)
        if got is None:
            return _Cut(face, OUTSIDE, True)
        net = self._net()
        found = face_views.match_face(net, photo, face.box) if net is not None else None
        crop = frame_labelled_face(gray, face.box, found, self.framing)
        if crop is None or crop.size == 0:
            return _Cut(face, OUTSIDE, True)
        view = self._teacher_view(photo, face, found) if self.views else None
        return _Cut(face, prepare(crop, self.spec), clipped, view, found is not None)

    @staticmethod
    def _teacher_view(photo: np.ndarray, face: Face, found) -> np.ndarray:
        """The face as the zoo teacher sees it: aligned on YuNet's landmarks, else the template on the box."""
        from train.datasets import face_views

        x, y, w, h = face.box
        points = found[1] if found is not None else \
            face_views.TEMPLATE_112 / face_views.VIEW_SIZE * np.array([w, h], np.float32) + np.array([x, y], np.float32)
        return face_views.align_112(photo, points)


def _uses_yunet(label_file: Path, framing: Framing, views: bool) -> bool:
    """Whether faces are found again by YuNet: for an aligned framing (where YuNet is installed) or for the
    teacher's views (which need it); raises one clear line when it is needed and missing."""
    from train.datasets import face_views

    use_yunet = framing.align or views
    if use_yunet and not views and not face_views.have_yunet():
        log.warning("%s: YuNet is not installed, so ExpW faces are cropped from their labelled boxes without "
                    "levelling the eyes (run 'fer-edge fetch-models' to frame them as the live loop does)", label_file)
        return False
    if use_yunet:
        face_views.yunet()  # no detector: one clear line before any photo is read
    return use_yunet


def _assemble(items: list[tuple[str, list[Face]]], results, skips: Skips, spec: ModelSpec,
              views: bool) -> tuple[Split, int, int]:
    """(the train split of every face that was cut, grouped by photo; how many were clipped; how many
    YuNet found); the problems go to ``skips``."""
    images, labels, groups, view_list, clipped, matched = [], [], [], [], 0, 0
    for photo_id, ((name, _), cuts) in enumerate(zip(items, results)):
        for cut in cuts:
            if isinstance(cut.image, str):
                skips.add(cut.image, f"label.lst line {cut.face.line}: {name}")
                continue
            images.append(cut.image)
            labels.append(cut.face.label)
            groups.append(photo_id)
            view_list.append(cut.view)
            clipped += cut.clipped
            matched += cut.found
    split = Split.stack(images, labels, (spec.input_height, spec.input_width), groups)  # val split by photo
    if views:
        split.views = np.stack(view_list) if view_list else np.zeros((0, 112, 112, 3), np.uint8)
    return split, clipped, matched


def load(label_file: str | os.PathLike, photos_dir: str | os.PathLike, *, min_confidence: float | None = None,
         spec: ModelSpec = DEFAULT_SPEC, framing: Framing = BOX_CROP, views: bool = False) -> Loaded:
    """ExpW faces cropped as ``framing`` says (default: the labelled box as it is).

    With an aligned framing the face is found again by YuNet around its labelled box
    (``face_views.match_face``) and framed from YuNet's box and landmarks, exactly as the live loop frames
    it; a face YuNet does not find (or any face, without alignment) is framed from its labelled box with
    the margin, unrotated. ``views``: also each face as the zoo teacher sees it (``Split.views``: colour,
    112x112, five-point aligned).
    """
    label_file, photos_dir = Path(label_file), Path(photos_dir)
    use_yunet = _uses_yunet(label_file, framing, views)
    skips = Skips(str(label_file.parent))
    items = list(read_label_lst(label_file, skips, min_confidence).items())
    cut = _PhotoCutter(photos_dir, framing, spec, use_yunet, views)
    results = parallel_map(cut, items, f"cropping faces from {photos_dir}", chunk=16)
    split, clipped, matched = _assemble(items, results, skips, spec, views)
    if clipped:
        log.info("%s: %d face box(es) reached past the photo edge and were clipped", label_file, clipped)
    if use_yunet:
        log.info("%s: YuNet found %d of %d labelled faces (framed from its box and landmarks; the rest from "
                 "their labelled box)", label_file, matched, len(split))
    return Loaded({"train": split}, skips.counts, skips.examples)
