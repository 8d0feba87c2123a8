"""Face detection on a downscaled grayscale image; boxes come back in the input image's coordinates.

``HaarDetector`` uses the frontal-face cascade shipped inside the OpenCV wheel (no download).
``YuNetDetector`` uses OpenCV's ``FaceDetectorYN`` with the model file ``fer-edge fetch-models``
installs (``edge.detector_model``); it also returns five landmarks per face (right eye, left eye,
nose tip, right and left mouth corner), which ``edge.core.preprocess.frame_face`` uses to level the eyes.
Both are ``FaceDetector``s: ``detect_faces`` returns an int32 array of shape (N, 4): x, y, w, h, largest
faces first (square boxes, like the training faces), and the landmarks, (N, 5, 2) float32 or None.

Detection runs on the image downscaled to ``detect_width`` (default: as many pixels as 480x360 for YuNet,
320x240 for Haar, whatever the frame's shape), or wider when the smallest face asked for (``min_face``) would otherwise shrink below
what the detector can find (``min_size``).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from edge.core.errors import UserError

log = logging.getLogger(__name__)
NO_FACES = np.zeros((0, 4), np.int32)
HAAR_CASCADE = "haarcascade_frontalface_default.xml"
#: the default detection size in pixels, per detector. YuNet took 6.6 ms on 320x240, 10.4 ms on 480x270 and
#: 21.9 ms on 640x480 images here (ExpW photos, load ~1.5 on 2 cores). On the ExpW sample's photos YuNet
#: found 86.1% of the labelled faces at 320x240 pixels' worth (score threshold 0.7), 89.5% (0.6) and 90.9%
#: at 480x360 (0.6), so YuNet detects at 480x360 by default; Haar, 3-5x slower per pixel, stays at 320x240.
DETECT_PIXELS = 320 * 240
YUNET_DETECT_PIXELS = 480 * 360
#: YuNet's score threshold: 0.6 instead of OpenCV's sample 0.9 / the zoo's 0.7 (recall above).
YUNET_SCORE_THRESHOLD = 0.6
#: the cascade's own window is 24x24: nothing smaller is ever found.
HAAR_MIN_SIZE = 24
#: YuNet found 10% / 54% / 66% / 89% / 97% of 94 ExpW faces shrunk to 16 / 20 / 24 / 32 / 60 px wide.
YUNET_MIN_SIZE = 24


@runtime_checkable
class FaceDetector(Protocol):
    """What ``edge.recognize.Recognizer`` detects faces with: YuNet, Haar, and any other detector (such as a
    trained face locator). Implementations subclass it (so a type checker compares their signatures with
    this one) and set both attributes in ``__init__``; ``make_detector`` builds the one a config names.
    """

    #: the ``--detector`` value that selects it ("yunet", "haar", ...); the saved run config records it
    name: str
    #: the model file it runs (the saved run config's ``detector_model``), None when it needs none (Haar's
    #: cascade ships inside OpenCV)
    model_path: Path | None

    def detect_faces(self, gray: np.ndarray, min_face: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Faces in ``gray`` (uint8 (h, w), possibly a strided view such as a camera's Y plane) at least
        ``min_face`` pixels of ``gray`` wide (None: as small as it finds):

        - boxes: int32 (N, 4) x, y, w, h in ``gray``'s pixels, clipped to it, square (as the training
          faces are), largest first; ``NO_FACES`` when there are none;
        - landmarks: float32 (N, 5, 2), the right eye, left eye, nose tip, right and left mouth corner of
          each box in the same order and pixels (``edge.core.preprocess.frame_face`` levels the eyes with
          them), or None when the detector finds no landmarks (the faces are then framed unaligned).
        """
        raise NotImplementedError


def default_detect_width(width: int, height: int, pixels: int = DETECT_PIXELS) -> int:
    """The width at which a ``width`` x ``height`` image has about ``pixels`` pixels."""
    return max(64, round(math.sqrt(pixels * width / max(1, height))))


def detect_width_for(width: int, height: int, min_face: int | None, min_size: int,
                     detect_width: int | None = None, pixels: int = DETECT_PIXELS) -> int:
    """The width to detect on for a ``width`` x ``height`` image: ``detect_width`` (default
    ``default_detect_width``), widened so that a face of ``min_face`` pixels stays at least ``min_size``
    pixels wide, never wider than the image itself."""
    base = detect_width or default_detect_width(width, height, pixels)
    needed = math.ceil(width * min_size / min_face) if min_face else 0
    return int(min(width, max(base, needed)))


class _Downscaler:
    """Resizes a grayscale image to the width ``detect_width_for`` gives, into a reused buffer."""

    def __init__(self, detect_width: int | None, min_size: int, name: str, pixels: int = DETECT_PIXELS):
        self.detect_width, self.min_size, self.name, self.pixels = detect_width, min_size, name, pixels
        self._buf = None
        self._widened: set[tuple[int, int]] = set()

    def __call__(self, gray: np.ndarray, min_face: int | None) -> tuple[np.ndarray, float]:
        h, w = gray.shape[:2]
        width = detect_width_for(w, h, min_face, self.min_size, self.detect_width, self.pixels)
        base = min(w, self.detect_width or default_detect_width(w, h, self.pixels))
        if width > base and (w, min_face) not in self._widened:
            self._widened.add((w, min_face))
            log.info("%s: detecting at %d px wide instead of %d so that %d px faces stay at least %d px "
                     "(its smallest)", self.name, width, base, min_face, self.min_size)
        if width >= w:
            return gray, 1.0
        f = width / w
        size = (width, max(1, round(h * f)))
        if self._buf is None or self._buf.shape != size[::-1]:
            self._buf = np.empty(size[::-1], np.uint8)
        cv2.resize(gray, size, dst=self._buf, interpolation=cv2.INTER_AREA)
        return self._buf, f


def _to_input_coords(boxes: np.ndarray, f: float, shape: tuple[int, int], min_face: int | None = None):
    """Boxes on the downscaled image -> (int32 boxes on the input image, clipped, at least ``min_face``
    wide, largest first; the indices of the kept rows of ``boxes``)."""
    if len(boxes) == 0:
        return NO_FACES, np.zeros(0, np.intp)
    b = np.asarray(boxes, np.float64)[:, :4] / f
    x0 = np.clip(b[:, 0], 0, shape[1])
    y0 = np.clip(b[:, 1], 0, shape[0])
    x1 = np.clip(b[:, 0] + b[:, 2], 0, shape[1])
    y1 = np.clip(b[:, 1] + b[:, 3], 0, shape[0])
    out = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1).round().astype(np.int32)
    keep = np.flatnonzero((out[:, 2] >= max(2, min_face or 0)) & (out[:, 3] > 1))
    keep = keep[np.argsort(-(out[keep, 2] * out[keep, 3]), kind="stable")]
    return out[keep], keep


def square(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) x, y, w, h -> the square of side max(w, h) with the same centre.

    YuNet's boxes are about 0.73 as wide as they are high; the faces the models train on (FER2013, ExpW)
    and the Haar cascade's boxes are square. Squaring keeps the face's aspect when it is resized to
    48x48; on the ExpW sample it raised the share of labelled faces matched at IoU >= 0.5 from 80% to 90%.
    """
    b = np.array(boxes[:, :4], np.float64)
    side = np.maximum(b[:, 2], b[:, 3])
    b[:, 0] += (b[:, 2] - side) / 2
    b[:, 1] += (b[:, 3] - side) / 2
    b[:, 2] = b[:, 3] = side
    return b


def _cv_reason(e: Exception) -> str:
    return str(e).strip().splitlines()[-1]


class HaarDetector(FaceDetector):
    """Haar boxes carry no landmarks: their faces are framed without alignment."""

    min_size = HAAR_MIN_SIZE

    # 1.15/4 instead of OpenCV's 1.1/3: ~25% less work than 1.1/5 at the same recall on the ExpW sample.
    def __init__(self, detect_width: int | None = None, scale_factor: float = 1.15, min_neighbors: int = 4,
                 cascade: str = HAAR_CASCADE):
        path = Path(cv2.data.haarcascades) / cascade
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise UserError(f"{path}: Haar cascade missing or unreadable (reinstall opencv-python-headless)")
        self.name, self.model_path = "haar", None
        self._downscale = _Downscaler(detect_width, self.min_size, self.name)
        self.scale_factor, self.min_neighbors = scale_factor, min_neighbors

    def detect_faces(self, gray: np.ndarray, min_face: int | None = None) -> tuple[np.ndarray, None]:
        small, f = self._downscale(gray, min_face)
        m = max(self.min_size, round((min_face or 0) * f))
        boxes = self._cascade.detectMultiScale(small, scaleFactor=self.scale_factor,
                                               minNeighbors=self.min_neighbors, minSize=(m, m))
        return _to_input_coords(boxes, f, gray.shape)[0], None


class YuNetDetector(FaceDetector):
    """OpenCV ``FaceDetectorYN`` with face_detection_yunet_2023mar.onnx from the OpenCV model zoo."""

    min_size = YUNET_MIN_SIZE

    def __init__(self, model_path: str | Path, detect_width: int | None = None,
                 score_threshold: float = YUNET_SCORE_THRESHOLD, label: str | None = None):
        """``label``: how errors name the file (default ``--detector-model PATH``)."""
        model_path = Path(model_path)
        label = label or f"--detector-model {model_path}"
        if not model_path.is_file():
            raise UserError(f"{label}: no such file (a YuNet .onnx face detector)")
        try:
            self._net = cv2.FaceDetectorYN.create(str(model_path), "", (320, 240),
                                                  score_threshold=score_threshold)
        except cv2.error as e:
            raise UserError(f"{label}: not an ONNX model OpenCV can read (expected "
                            f"the YuNet face detector; {_cv_reason(e)})") from None
        try:
            self._net.setInputSize((64, 64))
            self._net.detect(np.zeros((64, 64, 3), np.uint8))
        except cv2.error as e:
            raise UserError(f"{label}: an ONNX model, but not the YuNet face detector "
                            f"(OpenCV found no YuNet outputs; {_cv_reason(e)})") from None
        self.name, self.model_path = "yunet", model_path
        self._downscale = _Downscaler(detect_width, self.min_size, self.name, YUNET_DETECT_PIXELS)
        self._bgr = None
        self._size = None

    def detect_faces(self, gray: np.ndarray, min_face: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        small, f = self._downscale(gray, min_face)
        if self._bgr is None or self._bgr.shape[:2] != small.shape:
            self._bgr = np.empty(small.shape + (3,), np.uint8)
        cv2.cvtColor(small, cv2.COLOR_GRAY2BGR, dst=self._bgr)
        size = (small.shape[1], small.shape[0])
        if size != self._size:
            self._net.setInputSize(size)
            self._size = size
        _, faces = self._net.detect(self._bgr)
        if faces is None:
            return NO_FACES, np.zeros((0, 5, 2), np.float32)
        boxes, keep = _to_input_coords(square(faces[:, :4]), f, gray.shape, min_face)
        landmarks = (faces[keep, 4:14].reshape(-1, 5, 2) / f).astype(np.float32)
        return boxes, landmarks


def make_detector(config) -> FaceDetector:
    """The detector ``config`` asks for. ``auto`` is YuNet when its model file is found
    (--detector-model, $FER_EDGE_DETECTOR_MODEL, the cache), else the Haar cascade with one loud warning; a
    .tflite path is a face locator (``edge.locator_detector``)."""
    from edge.config import is_locator_path
    from edge.detector_model import ENV_MODEL, detector_model_label, find_detector_model, verify_detector_model

    if is_locator_path(config.detector):
        from edge.locator_detector import LocatorDetector

        return LocatorDetector(config.detector, config.threads)
    if config.detector == "haar":
        return HaarDetector(config.detect_width)
    path, where = find_detector_model(config.detector_model)
    if path is not None:
        verify_detector_model(path, where)  # a corrupt cached copy is refused, a named file used with a warning
        log.info("face detector: YuNet %s (from %s)", path, where)
        return YuNetDetector(path, config.detect_width, label=detector_model_label(path, where))
    if config.detector == "yunet":
        raise UserError(f"--detector yunet: no YuNet model ({where}); run 'fer-edge fetch-models', "
                        f"or pass --detector-model FILE or set {ENV_MODEL}")
    log.warning(haar_fallback_warning(where))
    return HaarDetector(config.detect_width)


def haar_fallback_warning(where: str) -> str:
    """The loud line ``--detector auto`` prints when it falls back to Haar: that it did, why, and what to do."""
    from edge.detector_model import YUNET

    return (f"FALLING BACK TO THE HAAR FACE DETECTOR: no YuNet model found ({where}). Haar misses small, turned "
            "and dim faces (none of a classroom clip's 17-25 px faces). Get YuNet once: 'fer-edge fetch-models' "
            f"(offline: 'fer-edge fetch-models --from {YUNET.name}', a copy you brought), or "
            "pass --detector haar to choose Haar and silence this")
