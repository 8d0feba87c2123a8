"""Scoring face boxes against reference boxes (YuNet's), and the folder of labelled frames they are read from.

A labelled-frames folder holds images and ``labels.jsonl``, one JSON object per frame:
``{"file": "frames/000012.jpg", "size": [W, H], "faces": [[x, y, w, h], ...]}`` (the reference faces,
YuNet's square boxes in that frame's pixels). ``train.datasets.locator_store`` writes such folders; a folder
of images without ``labels.jsonl`` is labelled by YuNet when it is read (``fer-edge evaluate``).

The measures (``Counts``): a reference face is *found* when a box overlaps it with IoU >= 0.5 (greedy
one-to-one matching, best IoU first); **recall** counts the reference faces whose height is within the
size band (15-70% of the frame height, what a device in front of people sees), **precision** counts every
box against all reference faces of any size. A box overlapping no reference face at all (IoU < 0.1 with
every one) is *invented*.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edge.core.errors import UserError
from edge.track import iou_matrix

LABELS_FILE = "labels.jsonl"
MATCH_IOU = 0.5
INVENTED_IOU = 0.1
#: reference faces counted for recall: height as a share of the frame height
BAND = (0.15, 0.70)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def match(boxes: np.ndarray, truth: np.ndarray, iou: float = MATCH_IOU) -> tuple[np.ndarray, np.ndarray]:
    """Greedy one-to-one matching at IoU >= ``iou``: (per box: matched, per reference face: found)."""
    boxes, truth = np.asarray(boxes).reshape(-1, 4), np.asarray(truth).reshape(-1, 4)
    used_b, used_t = np.zeros(len(boxes), bool), np.zeros(len(truth), bool)
    if len(boxes) and len(truth):
        m = iou_matrix(boxes, truth)
        for flat in np.argsort(-m, axis=None, kind="stable"):
            i, j = divmod(int(flat), len(truth))
            if m[i, j] < iou:
                break
            if not used_b[i] and not used_t[j]:
                used_b[i] = used_t[j] = True
    return used_b, used_t


@dataclass
class Counts:
    frames: int = 0
    faces_in_band: int = 0
    found_in_band: int = 0
    boxes: int = 0
    boxes_matched: int = 0
    boxes_invented: int = 0
    #: frames with at least one reference face in the band, and those where every one of them was found
    face_frames: int = 0
    face_frames_found: int = 0
    empty_frames: int = 0
    empty_frames_with_boxes: int = 0
    per_size: dict = field(default_factory=dict)

    def add(self, boxes: np.ndarray, truth: np.ndarray, frame_height: int) -> None:
        boxes, truth = np.asarray(boxes).reshape(-1, 4), np.asarray(truth).reshape(-1, 4)
        matched, found = match(boxes, truth)
        share = truth[:, 3] / float(frame_height) if len(truth) else np.zeros(0)
        band = (share >= BAND[0]) & (share <= BAND[1])
        self.frames += 1
        self.faces_in_band += int(band.sum())
        self.found_in_band += int((found & band).sum())
        self.boxes += len(boxes)
        self.boxes_matched += int(matched.sum())
        if len(boxes):
            near = iou_matrix(boxes, truth).max(axis=1) if len(truth) else np.zeros(len(boxes))
            self.boxes_invented += int((near < INVENTED_IOU).sum())
        if band.any():
            self.face_frames += 1
            self.face_frames_found += int(found[band].all())
        if not len(truth):
            self.empty_frames += 1
            self.empty_frames_with_boxes += int(len(boxes) > 0)
        for s, f in zip(share[band], found[band]):
            key = f"{int(s * 10) * 10}-{int(s * 10) * 10 + 10}%"
            n, k = self.per_size.get(key, (0, 0))
            self.per_size[key] = (n + 1, k + int(f))

    @property
    def recall(self) -> float:
        return self.found_in_band / self.faces_in_band if self.faces_in_band else float("nan")

    @property
    def precision(self) -> float:
        return self.boxes_matched / self.boxes if self.boxes else float("nan")

    @property
    def invented(self) -> float:
        return self.boxes_invented / self.boxes if self.boxes else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["per_size"] = {k: {"faces": n, "found": f} for k, (n, f) in sorted(self.per_size.items())}
        d.update(recall=self.recall, precision=self.precision, invented=self.invented,
                 match_iou=MATCH_IOU, band=list(BAND))
        return d

    def summary(self) -> str:
        return (f"recall {100 * self.recall:.2f}% of {self.faces_in_band} faces at {int(BAND[0] * 100)}-"
                f"{int(BAND[1] * 100)}% of the frame height (IoU >= {MATCH_IOU}); precision {100 * self.precision:.2f}% "
                f"of {self.boxes} boxes against every face; invented {100 * self.invented:.2f}% of the boxes; "
                f"{self.frames} frames")


@dataclass(frozen=True)
class LabelledFrame:
    path: Path
    size: tuple[int, int]
    faces: np.ndarray


def read_labels(folder: str | Path) -> list[LabelledFrame]:
    """The frames of a labelled-frames folder (``labels.jsonl``), with one-line errors."""
    folder = Path(folder)
    path = folder / LABELS_FILE
    frames = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror or e})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            faces = np.array(d["faces"], np.float64).reshape(-1, 4)
            frames.append(LabelledFrame(folder / d["file"], (int(d["size"][0]), int(d["size"][1])), faces))
        except (ValueError, KeyError, TypeError, IndexError) as e:
            raise UserError(f"{path} line {n}: expected {{\"file\", \"size\": [W, H], \"faces\": [[x, y, w, h], ...]}} "
                            f"({type(e).__name__}: {e})") from None
    if not frames:
        raise UserError(f"{path}: no frames listed")
    return frames


def label_line(file: str, size: tuple[int, int], faces: np.ndarray, **extra) -> str:
    return json.dumps({"file": file, "size": [int(size[0]), int(size[1])],
                       "faces": [[int(v) for v in box] for box in np.asarray(faces).reshape(-1, 4)], **extra})


def image_files(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UserError(f"{folder}: no {LABELS_FILE} and no images (expected frames labelled by "
                        f"'fer-edge train --preset locator', or a folder of images for YuNet to label)")
    return files


def score_folder(locate, folder: str | Path, labeler=None, progress=None) -> Counts:
    """Counts of ``locate(gray) -> boxes`` on a labelled-frames folder, or on a folder of images that
    ``labeler(gray) -> boxes`` (YuNet) labels as they are read."""
    import cv2

    folder = Path(folder)
    if (folder / LABELS_FILE).is_file():
        items = [(f.path, f.faces) for f in read_labels(folder)]
    else:
        if labeler is None:
            raise UserError(f"{folder}: no {LABELS_FILE}, and no YuNet to label its images (run 'fer-edge "
                            "fetch-models' or pass --detector-model)")
        items = [(p, None) for p in image_files(folder)]
    counts = Counts()
    for i, (path, faces) in enumerate(items):
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if gray is None:
            raise UserError(f"{path}: not an image OpenCV can read")
        truth = faces if faces is not None else labeler(gray)
        counts.add(locate(gray), truth, gray.shape[0])
        if progress:
            progress(i + 1, len(items))
    return counts
