"""Where a dataset face's landmarks are, and the face as a five-point-aligned teacher sees it.

The live loop frames YuNet's boxes (``edge.core.preprocess.frame_face``); so that training crops are cut the
same way, ExpW faces are found again by YuNet around their labelled box (``match_face``) and framed from
its box and landmarks. The zoo teacher (``train.teachers``) wants each face warped by a similarity
transform from YuNet's five landmarks onto the usual 112x112 template, in colour where the source has
colour (``align_112``); FER-style 48x48 grey crops are upscaled and found the same way (``crop_views``).
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from edge.core.errors import UserError

log = logging.getLogger(__name__)

VIEW_SIZE = 112
#: The five-point template (right eye, left eye, nose tip, right and left mouth corners) on 112x112.
TEMPLATE_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                         [41.5493, 92.3655], [70.7299, 92.2041]], np.float32)
#: ExpW: the detection must overlap the labelled box this much (IoU) to be the same face.
MIN_IOU = 0.3
#: 48x48 crops are upscaled this much before detection (YuNet's smallest faces are ~10-20 px).
UPSCALE = 3


def have_yunet() -> bool:
    from edge.detector_model import find_detector_model

    return find_detector_model()[0] is not None


def yunet(min_score: float = 0.5):
    """A raw ``cv2.FaceDetectorYN`` on the YuNet model that ``fer-edge fetch-models`` installs."""
    from edge.detector_model import find_detector_model, verify_detector_model

    path, where = find_detector_model()
    if path is None:
        raise UserError(f"aligning dataset faces needs the YuNet face detector ({where}); run 'fer-edge fetch-models'")
    verify_detector_model(path, where)
    return cv2.FaceDetectorYN.create(str(path), "", (320, 320), score_threshold=min_score)


def _detect(net, bgr: np.ndarray) -> np.ndarray:
    net.setInputSize((bgr.shape[1], bgr.shape[0]))
    _, faces = net.detect(bgr)
    return np.zeros((0, 15), np.float32) if faces is None else faces


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    return inter / max(a[2] * a[3] + b[2] * b[3] - inter, 1e-9)


def match_face(net, photo: np.ndarray, box) -> tuple[np.ndarray, np.ndarray] | None:
    """YuNet's (square box x,y,w,h, 5x2 landmarks) in photo coordinates for the face labelled ``box``
    (x, y, w, h), or None when YuNet finds no face overlapping it by ``MIN_IOU``.

    YuNet looks at the box grown by its size on every side, scaled so the face is ~120 px wide.
    """
    from edge.detect import square

    x, y, w, h = (float(v) for v in box)
    x0, y0 = max(0, int(x - w)), max(0, int(y - h))
    x1, y1 = min(photo.shape[1], int(x + 2 * w)), min(photo.shape[0], int(y + 2 * h))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    region = photo[y0:y1, x0:x1]
    f = 120.0 / max(w, h, 1.0)
    region = cv2.resize(region, (max(16, round(region.shape[1] * f)), max(16, round(region.shape[0] * f))),
                        interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    bgr = region if region.ndim == 3 else cv2.cvtColor(region, cv2.COLOR_GRAY2BGR)
    faces = _detect(net, bgr)
    if not len(faces):
        return None
    boxes = faces[:, :4] / f + np.array([x0, y0, 0, 0], np.float32)
    ious = [_iou(b, np.array([x, y, w, h])) for b in boxes]
    best = int(np.argmax(ious))
    if ious[best] < MIN_IOU:
        return None
    landmarks = faces[best, 4:14].reshape(5, 2) / f + np.array([x0, y0], np.float32)
    return square(boxes[best:best + 1])[0], landmarks.astype(np.float32)


def largest_face(net, photo: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """YuNet's (square box x,y,w,h, 5x2 landmarks) of the largest face in a photo, or None when it finds none.

    A photo smaller than 160 px on its short side is upscaled first (YuNet's smallest faces are ~10-20 px)."""
    from edge.detect import square

    f = max(1.0, 160.0 / max(1, min(photo.shape[:2])))
    image = photo if f == 1.0 else cv2.resize(photo, (round(photo.shape[1] * f), round(photo.shape[0] * f)),
                                              interpolation=cv2.INTER_LINEAR)
    bgr = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    faces = _detect(net, bgr)
    if not len(faces):
        return None
    best = int(np.argmax(faces[:, 2] * faces[:, 3]))
    box = faces[best, :4] / f
    landmarks = faces[best, 4:14].reshape(5, 2) / f
    return square(box[None])[0], landmarks.astype(np.float32)


def align_112(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """uint8 (112, 112, 3) RGB: ``image`` (BGR or grey) warped so ``landmarks`` land on ``TEMPLATE_112``."""
    m, _ = cv2.estimateAffinePartial2D(np.asarray(landmarks, np.float32), TEMPLATE_112, method=cv2.LMEDS)
    if m is None:
        raise ValueError("degenerate landmarks")
    rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return cv2.warpAffine(rgb, m, (VIEW_SIZE, VIEW_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def crop_landmarks(net, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 (N, 5, 2) landmarks on ``crops`` (uint8 (N, H, W) pre-cropped faces) and a bool (N,) mask
    of the faces YuNet found; the rest get the median landmarks of those found (a pre-cropped face sits
    where the others do), or a fixed guess when none was found."""
    n, h, w = crops.shape
    out = np.zeros((n, 5, 2), np.float32)
    found = np.zeros(n, bool)
    size = (w * UPSCALE, h * UPSCALE)
    centre = np.array([size[0] / 2, size[1] / 2])
    for i, crop in enumerate(crops):
        big = cv2.cvtColor(cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR)
        faces = _detect(net, big)
        if len(faces):  # the face nearest the centre (a crop holds one face, perhaps part of another)
            d = np.linalg.norm(faces[:, :2] + faces[:, 2:4] / 2 - centre, axis=1)
            out[i] = faces[int(np.argmin(d)), 4:14].reshape(5, 2) / UPSCALE
            found[i] = True
    if found.any():
        out[~found] = np.median(out[found], axis=0)
    else:  # the template scaled onto the crop: eyes at ~38% of the height
        out[:] = TEMPLATE_112 * np.array([w / VIEW_SIZE, h / VIEW_SIZE], np.float32)
    return out, found


def crop_views(net, crops: np.ndarray) -> tuple[np.ndarray, int]:
    """(uint8 (N, 112, 112, 3) aligned views of 48x48-style grey crops, how many YuNet found)."""
    landmarks, found = crop_landmarks(net, crops)
    views = np.empty((len(crops), VIEW_SIZE, VIEW_SIZE, 3), np.uint8)
    for i, (crop, points) in enumerate(zip(crops, landmarks)):
        big = cv2.resize(crop, (crop.shape[1] * UPSCALE, crop.shape[0] * UPSCALE), interpolation=cv2.INTER_CUBIC)
        views[i] = align_112(big, points * UPSCALE)
    return views, int(found.sum())
