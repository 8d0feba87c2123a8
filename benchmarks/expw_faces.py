"""Shared by benchmarks/detection.py and benchmarks/framing.py: ExpW photos with their labelled faces,
matching detections to labels, and classifying framed crops with a shipped model.

ExpW boxes come from ``label.lst`` through the same parser training uses (``train.datasets.expw``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePath

import cv2
import numpy as np

from edge.core.preprocess import frame_face, preprocess
from edge.core.spec import Framing
from edge.track import iou_matrix

#: ../shared beside the checkout (or $FER_EDGE_SHARED): the datasets and the YuNet copy.
SHARED = Path(os.environ.get("FER_EDGE_SHARED") or Path(__file__).resolve().parents[2] / "shared")
EXPW_SAMPLE = SHARED / "datasets" / "expw_sample"
EXPW_TRAIN = SHARED / "datasets" / "expw_train"
YUNET = SHARED / "models" / "face_detection_yunet_2023mar.onnx"
IOU = 0.5


def yunet_model(explicit: str | None = None) -> Path:
    """The YuNet model as ``fer-edge run`` finds it (--detector-model, $FER_EDGE_DETECTOR_MODEL, the cache),
    else the copy in ../shared."""
    from edge.detector_model import find_detector_model

    return find_detector_model(explicit)[0] or YUNET


@dataclass
class Photo:
    name: str
    gray: np.ndarray
    boxes: np.ndarray  # (N, 4) x, y, w, h of the labelled faces
    labels: np.ndarray  # (N,)


def load_expw(folder: Path, limit: int | None = None) -> list[Photo]:
    """Every readable photo of an ExpW folder with its labelled faces (grayscale, as the loop sees it)."""
    from train.datasets.base import Skips
    from train.datasets.expw import locate, read_label_lst

    label_file, photos_dir = locate(folder)
    faces = read_label_lst(label_file, Skips(str(folder)), None)
    out = []
    for name, fs in list(faces.items())[:limit]:
        gray = cv2.imread(str(photos_dir / PurePath(name)), cv2.IMREAD_GRAYSCALE)
        if gray is None:
            continue
        boxes = np.array([[f.left, f.top, f.right - f.left, f.bottom - f.top] for f in fs], np.float64)
        out.append(Photo(name, gray, boxes, np.array([f.label for f in fs])))
    return out


def match(truth: np.ndarray, found: np.ndarray, iou: float = IOU) -> np.ndarray:
    """Index into ``found`` of the detection matched to each true box (greedy by IoU), -1 if none."""
    result = np.full(len(truth), -1)
    if len(truth) == 0 or len(found) == 0:
        return result
    m = iou_matrix(truth, found)
    taken = set()
    for flat in np.argsort(-m, axis=None):
        i, j = divmod(int(flat), m.shape[1])
        if m[i, j] < iou:
            break
        if result[i] < 0 and j not in taken:
            result[i] = j
            taken.add(j)
    return result


class Crops:
    """Framed faces -> one batch -> predicted classes, with a shipped model."""

    def __init__(self, model: Path):
        from edge.recognize import load_classifier

        self.classifier, self.spec = load_classifier(model)

    def predict(self, crops: list[np.ndarray]) -> np.ndarray:
        if not crops:
            return np.zeros(0, np.int64)
        batch = np.stack([preprocess(c, self.spec) for c in crops])
        return np.argmax(self.classifier.predict(batch), axis=1)


def crop(gray: np.ndarray, box, landmarks, framing: Framing) -> np.ndarray:
    got = frame_face(gray, np.asarray(box), landmarks, framing)
    if got is None or got.size == 0:
        x, y, w, h = (int(round(v)) for v in box)
        got = gray[max(0, y):y + h, max(0, x):x + w]
    return got


def rotated(photo: Photo, degrees: float) -> Photo:
    """``photo`` turned by ``degrees`` (clockwise on screen) on a canvas that holds all of it, with its
    labelled boxes moved to their faces' new centres (same size): tilted heads, with known faces."""
    h, w = photo.gray.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), -degrees, 1.0)
    c, s = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(round(h * s + w * c)), int(round(h * c + w * s))
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    gray = cv2.warpAffine(photo.gray, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    centres = np.c_[photo.boxes[:, :2] + photo.boxes[:, 2:] / 2, np.ones(len(photo.boxes))] @ m.T
    boxes = np.c_[centres - photo.boxes[:, 2:] / 2, photo.boxes[:, 2:]]
    return Photo(photo.name, gray, boxes, photo.labels)
