"""Frames as a device in front of people sees them, made from photos and faces, for the face locator.

``make_frame(rng, sources, config)`` returns one grayscale frame (``config.width`` x ``config.height``, or
the narrower QCIF aspect 11:9 for a share of them) made by one of these recipes:

- ``view``: a pan and zoom over a photo around one of its faces, the face 13-75% of the frame height; where the
  window leaves the image, a background from another photo shows. ExpW's crops (one face with half its size
  on every side, ``expw_train``) and whole photos (``expw_sample``) work this way with their labelled boxes,
  and so do folders of photos without labels (muxspace's), whose faces the labeller (YuNet) finds first.
- ``collage``: 1-3 faces pasted with soft edges at random scales and places on a background cut from a photo
  (or drawn): ExpW faces with their surroundings, FER2013 faces (48x48, upscaled as a far camera would).
- ``synthetic``: a frame of ``edge.synthetic.video``'s drawn scene (the demo video).
- ``empty``: a background alone (a window of a photo away from its labelled faces, or a drawn backdrop).

then through a cheap camera (``camera``): exposure and gamma, contrast, blur, sensor noise, a mirror flip.
The faces' true boxes are not kept: YuNet labels every frame (``train.datasets.locator_store``).

ExpW images whose name hashes into ``HELD_OUT`` are never used here: they are kept for measuring the locator
on photos it never saw (``benchmarks/locator_clips.py``).
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.core.errors import UserError

log = logging.getLogger(__name__)

RECIPES = ("view", "collage", "synthetic", "empty")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
#: photos are kept in memory at most this many pixels on their longer side
MAX_SIDE = 960


def held_out(name: str) -> bool:
    """Whether an ExpW image (by file name) is kept out of the generated frames (one in five)."""
    return hashlib.sha1(name.encode()).digest()[0] % 5 == 0


@dataclass(frozen=True)
class FramesConfig:
    """What frames the generator makes; saved with them (its fields key the cache)."""

    frames: int = 16000
    val_frames: int = 1500
    width: int = 320
    height: int = 240
    #: share of frames at the QCIF aspect (11:9: 176x144) instead of width x height
    qcif_share: float = 0.2
    #: face heights aimed at, as shares of the frame height
    min_face: float = 0.13
    max_face: float = 0.75
    max_faces: int = 3
    #: share of frames per recipe (recipes whose sources are missing are skipped, the rest renormalised)
    weights: dict = field(default_factory=lambda: {"view": 0.45, "collage": 0.3, "synthetic": 0.1, "empty": 0.15})
    seed: int = 0

    def __post_init__(self):
        if not (isinstance(self.frames, int) and self.frames >= 1 and isinstance(self.val_frames, int)
                and self.val_frames >= 1):
            raise UserError(f"locator frames: frames and val_frames must be positive integers, got "
                            f"{self.frames!r} and {self.val_frames!r}")
        if not (64 <= self.width <= 1920 and 48 <= self.height <= 1080):
            raise UserError(f"locator frames: size {self.width}x{self.height} out of 64x48..1920x1080")
        if not 0.02 <= self.min_face < self.max_face <= 1.0:
            raise UserError(f"locator frames: face heights {self.min_face}..{self.max_face} must satisfy "
                            "0.02 <= min < max <= 1")
        if not 1 <= self.max_faces <= 6:
            raise UserError(f"locator frames: max_faces must be in 1..6, got {self.max_faces}")
        unknown = sorted(set(self.weights) - set(RECIPES))
        if unknown or not all(isinstance(v, (int, float)) and v >= 0 for v in self.weights.values()):
            raise UserError(f"locator frames: weights must map some of {list(RECIPES)} to numbers >= 0, "
                            f"got {self.weights!r}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Photo:
    gray: np.ndarray
    #: labelled face boxes x, y, w, h in ``gray``'s pixels (ExpW's label.lst), may be empty
    faces: np.ndarray


@dataclass
class Sources:
    """The material frames are made of: ExpW photos with their face boxes, small face crops, drawn scenes."""

    photos: list[Photo] = field(default_factory=list)
    #: FER2013-like face crops (the face fills the crop), gray uint8
    crops: list[np.ndarray] = field(default_factory=list)
    synthetic: bool = False
    names: list[str] = field(default_factory=list)

    def available(self) -> set[str]:
        have = {"empty"}
        if self.photos:
            have.add("view")
        if self.photos or self.crops:
            have.add("collage")
        if self.synthetic:
            have.add("synthetic")
        return have


def _read_gray(path: Path) -> np.ndarray | None:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        return None
    scale = MAX_SIDE / max(image.shape)
    if scale < 1:
        image = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                           interpolation=cv2.INTER_AREA)
    return image


def load_expw(folder: Path, sources: Sources) -> int:
    """ExpW photos (label.lst: name, face id, top, left, right, bottom, confidence, label) minus ``held_out``."""
    label_file = folder / "label.lst" if folder.is_dir() else folder
    images = label_file.parent / "Images"
    boxes: dict[str, list] = {}
    for n, line in enumerate(label_file.read_text(encoding="utf-8-sig").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 8:
            raise UserError(f"{label_file} line {n}: expected 8 fields, got {len(parts)}")
        name, top, left, right, bottom = parts[0], *map(int, parts[2:6])
        boxes.setdefault(name, []).append((left, top, right - left, bottom - top))
    count = 0
    for name in sorted(boxes):
        if held_out(name):
            continue
        path = images / name
        original = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if original is None:
            continue
        gray = _read_gray(path)
        f = gray.shape[0] / original.shape[0]
        faces = np.array(boxes[name], np.float64) * f
        sources.photos.append(Photo(gray, faces[(faces[:, 2] > 4) & (faces[:, 3] > 4)]))
        count += 1
    return count


def load_face_crops(folder: Path, sources: Sources, limit: int, rng: np.random.Generator) -> int:
    """Up to ``limit`` face crops from an image folder (FER2013's ``<split>/<class>/*.jpg``), drawn at random."""
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise UserError(f"{folder}: no images found (expected FER2013-style face crops in class folders)")
    for i in rng.permutation(len(paths))[:limit]:
        crop = cv2.imread(str(paths[i]), cv2.IMREAD_GRAYSCALE)
        if crop is not None:
            sources.crops.append(crop)
    return len(sources.crops)


#: images at most this many pixels on their longer side are face crops (FER2013's 48x48), larger ones photos
CROP_SIDE = 64


def load_photos(folder: Path, sources: Sources, limit: int, rng: np.random.Generator, finder) -> int:
    """Up to ``limit`` photos of a folder without face labels (muxspace's, say), drawn at random, with the
    faces ``finder(gray) -> boxes`` (YuNet, the labeller) finds in them; photos without a face are left out."""
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    count = 0
    for i in rng.permutation(len(paths))[:limit]:
        gray = _read_gray(paths[i])
        if gray is None or min(gray.shape) < CROP_SIDE:
            continue
        faces = np.asarray(finder(gray), np.float64).reshape(-1, 4)
        if len(faces):
            sources.photos.append(Photo(gray, faces))
            count += 1
    return count


def _is_crop_folder(folder: Path) -> bool:
    """Whether a folder holds face crops (small images) rather than photos, judged on a few of its images."""
    sizes = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[:200:20]:
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is not None:
            sizes.append(max(image.shape))
    return not sizes or float(np.median(sizes)) <= CROP_SIDE


def load_sources(paths: list[str | None], seed: int = 0, crop_limit: int = 4000, finder=None,
                 photo_limit: int = 4000) -> Sources:
    """Sources from train --data values: ExpW folders (label.lst), folders of face crops (small images such as
    FER2013's), folders of photos without labels (their faces found by ``finder``, YuNet), ``synthetic``."""
    sources = Sources()
    for raw in paths:
        if raw is None or str(raw).startswith("synthetic"):
            sources.synthetic = True
            sources.names.append("synthetic")
            continue
        path = Path(raw)
        if not path.exists():
            raise UserError(f"--data {raw}: not found (expected an ExpW folder with label.lst, a folder of face "
                            "crops such as FER2013's, or 'synthetic')")
        if (path / "label.lst").is_file() or path.suffix == ".lst":
            n = load_expw(path, sources)
            log.info("%s: %d ExpW images (held-out ones excluded)", path, n)
        elif path.is_dir() and (finder is None or _is_crop_folder(path)):
            n = load_face_crops(path, sources, crop_limit, np.random.default_rng([seed, 7]))
            log.info("%s: %d face crops", path, n)
        elif path.is_dir():
            n = load_photos(path, sources, photo_limit, np.random.default_rng([seed, 8]), finder)
            log.info("%s: %d photos with faces found by the labeller", path, n)
        else:
            raise UserError(f"--data {raw}: expected a folder (ExpW with label.lst, or face crops) or 'synthetic'")
        sources.names.append(path.name)
    return sources


def frame_size(rng: np.random.Generator, config: FramesConfig) -> tuple[int, int]:
    if rng.random() < config.qcif_share:
        return round(config.height * 176 / 144), config.height
    return config.width, config.height


def _background(rng, sources: Sources, w: int, h: int) -> np.ndarray:
    """A float32 (h, w) background: a window of a photo (avoiding its labelled faces when it can) or drawn."""
    from edge.synthetic.faces import background

    if not sources.photos or rng.random() < 0.25:
        return background(rng, h, w)
    photo = sources.photos[int(rng.integers(len(sources.photos)))]
    ph, pw = photo.gray.shape
    best = None
    for _ in range(6):
        scale = rng.uniform(0.3, 1.0)
        ww = max(8, min(pw, round(pw * scale)))
        wh = max(6, min(ph, round(ww * h / w)))
        x, y = int(rng.integers(0, pw - ww + 1)), int(rng.integers(0, ph - wh + 1))
        hits = sum(1 for fx, fy, fw, fh in photo.faces if fx < x + ww and x < fx + fw and fy < y + wh and y < fy + fh)
        if best is None or hits < best[0]:
            best = (hits, x, y, ww, wh)
        if hits == 0:
            break
    _, x, y, ww, wh = best
    window = photo.gray[y:y + wh, x:x + ww]
    return cv2.resize(window, (w, h), interpolation=cv2.INTER_AREA if ww > w else cv2.INTER_LINEAR).astype(np.float32)


def _face_height(rng, config: FramesConfig) -> float:
    """A face height share, log-uniform in [min_face, max_face] (as many small faces as large ones)."""
    return math.exp(rng.uniform(math.log(config.min_face), math.log(config.max_face)))


def view(rng, sources: Sources, config: FramesConfig, w: int, h: int) -> np.ndarray:
    photo = [p for p in sources.photos if len(p.faces)]
    if not photo:
        return empty(rng, sources, config, w, h)
    p = photo[int(rng.integers(len(photo)))]
    fx, fy, fw, fh = p.faces[int(rng.integers(len(p.faces)))]
    side = max(fw, fh)
    win_h = side / _face_height(rng, config)
    win_w = win_h * w / h
    cx, cy = fx + fw / 2, fy + fh / 2
    # the face anywhere in the window, fully inside when it fits
    x0 = cx - rng.uniform(min(side / 2, win_w / 2), max(win_w - side / 2, win_w / 2))
    y0 = cy - rng.uniform(min(side / 2, win_h / 2), max(win_h - side / 2, win_h / 2))
    s = w / win_w
    m = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], np.float64)
    canvas = _background(rng, sources, w, h)
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    warped = cv2.warpAffine(p.gray.astype(np.float32), m, (w, h), flags=interp, borderMode=cv2.BORDER_CONSTANT,
                            borderValue=-1.0)
    inside = warped >= 0
    canvas[inside] = warped[inside]
    return canvas


def _paste(rng, canvas: np.ndarray, patch: np.ndarray, face_h: float, face_frac: float, taken: list) -> None:
    """Paste ``patch`` (whose face is ``face_frac`` of its height) so the face is ``face_h`` px high, feathered."""
    h, w = canvas.shape
    size = max(4, round(face_h / face_frac))
    ph = size
    pw = max(4, round(size * patch.shape[1] / patch.shape[0]))
    scaled = cv2.resize(patch, (pw, ph), interpolation=cv2.INTER_AREA if ph < patch.shape[0] else cv2.INTER_LINEAR)
    for _ in range(8):  # keep faces apart
        x, y = int(rng.integers(-pw // 4, max(1, w - 3 * pw // 4))), int(rng.integers(-ph // 4, max(1, h - 3 * ph // 4)))
        if all(abs(x - tx) > (pw + tw) * 0.45 or abs(y - ty) > (ph + th) * 0.45 for tx, ty, tw, th in taken):
            break
    taken.append((x, y, pw, ph))
    yy, xx = np.mgrid[0:ph, 0:pw].astype(np.float32)
    edge = np.minimum.reduce([xx, yy, pw - 1 - xx, ph - 1 - yy]) / max(2.0, 0.12 * min(pw, ph))
    alpha = np.clip(edge, 0, 1) * rng.uniform(0.85, 1.0)
    from edge.synthetic.faces import composite

    composite(canvas, scaled.astype(np.float32) * rng.uniform(0.8, 1.2), (alpha * 255).astype(np.uint8), x, y)


def collage(rng, sources: Sources, config: FramesConfig, w: int, h: int) -> np.ndarray:
    canvas = _background(rng, sources, w, h)
    n = int(rng.integers(1, config.max_faces + 1))
    taken: list = []
    for _ in range(n):
        face_h = _face_height(rng, config) * h * (0.75 if n > 1 else 1.0)
        use_crop = sources.crops and (not sources.photos or rng.random() < 0.5)
        if use_crop:
            crop = sources.crops[int(rng.integers(len(sources.crops)))]
            _paste(rng, canvas, crop, face_h, 0.85, taken)
            continue
        labelled = [p for p in sources.photos if len(p.faces)]
        if not labelled:
            continue
        p = labelled[int(rng.integers(len(labelled)))]
        fx, fy, fw, fh = p.faces[int(rng.integers(len(p.faces)))]
        side = max(fw, fh)
        grow = rng.uniform(0.25, 0.6)  # the face with some of its surroundings
        x0, y0 = int(max(0, fx + fw / 2 - side * (0.5 + grow))), int(max(0, fy + fh / 2 - side * (0.5 + grow)))
        x1 = int(min(p.gray.shape[1], fx + fw / 2 + side * (0.5 + grow)))
        y1 = int(min(p.gray.shape[0], fy + fh / 2 + side * (0.5 + grow)))
        if x1 - x0 < 8 or y1 - y0 < 8:
            continue
        _paste(rng, canvas, p.gray[y0:y1, x0:x1], face_h, side / (y1 - y0), taken)
    return canvas


def synthetic(rng, sources: Sources, config: FramesConfig, w: int, h: int) -> np.ndarray:
    from edge.synthetic.video import VideoConfig, scene

    vw, vh = max(160, w), max(120, h)
    n = int(rng.integers(1, min(3, config.max_faces) + 1))
    frame, _ = next(scene(VideoConfig(1, vw, vh, 15.0, n, n, int(rng.integers(2**31)))))
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    return cv2.resize(gray, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)


def empty(rng, sources: Sources, config: FramesConfig, w: int, h: int) -> np.ndarray:
    return _background(rng, sources, w, h)


MAKERS = {"view": view, "collage": collage, "synthetic": synthetic, "empty": empty}


def camera(rng, frame: np.ndarray) -> np.ndarray:
    """A cheap camera: exposure and gamma, contrast, blur, sensor noise, a mirror flip; float32 -> uint8."""
    x = np.clip(frame, 0, 255) / 255.0
    x = x ** rng.uniform(0.6, 1.6)
    x = (x - 0.5) * rng.uniform(0.55, 1.2) + 0.5 + rng.uniform(-0.18, 0.18)
    x = x * 255.0
    if rng.random() < 0.5:
        x = cv2.GaussianBlur(x.astype(np.float32), (0, 0), rng.uniform(0.4, 1.6))
    x = x + rng.standard_normal(x.shape).astype(np.float32) * rng.uniform(0, 8)
    if rng.random() < 0.5:
        x = x[:, ::-1]
    return np.ascontiguousarray(np.clip(x, 0, 255).astype(np.uint8))


def recipe_shares(sources: Sources, config: FramesConfig) -> dict[str, float]:
    have = sources.available()
    shares = {k: float(v) for k, v in config.weights.items() if k in have and v > 0}
    total = sum(shares.values())
    if total <= 0:
        raise UserError(f"locator frames: no recipe can be made from the sources given ({', '.join(sources.names) or 'none'})")
    return {k: v / total for k, v in shares.items()}


def make_frame(rng: np.random.Generator, sources: Sources, config: FramesConfig,
               shares: dict[str, float]) -> tuple[np.ndarray, str]:
    """One uint8 gray frame through the camera, and the recipe that made it."""
    names = list(shares)
    recipe = names[int(rng.choice(len(names), p=[shares[k] for k in names]))]
    w, h = frame_size(rng, config)
    return camera(rng, MAKERS[recipe](rng, sources, config, w, h)), recipe
