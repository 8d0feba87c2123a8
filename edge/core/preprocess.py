"""The one preprocessing function: any face crop -> the model input described by a ModelSpec.

Training, calibration, evaluation and the camera loop all call ``preprocess`` (or its two halves:
``prepare`` gives the resized uint8 image that dataset caches store, ``normalize`` scales it).
``frame_face`` cuts the face out of a photo or frame the way the spec's ``Framing`` says (margin around
the detector's box, eyes levelled with landmarks); the live loop uses it, and faces labelled in photos
(ExpW training, evaluation, app checks) go through ``frame_labelled_face``, which frames them with it.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.core.errors import UserError
from edge.core.spec import BOX_CROP, DEFAULT_SPEC, Framing, ModelSpec

_CV2_INTERPOLATION = {
    "area": cv2.INTER_AREA,
    "linear": cv2.INTER_LINEAR,
    "nearest": cv2.INTER_NEAREST,
    "cubic": cv2.INTER_CUBIC,
}


def to_gray(image: np.ndarray) -> np.ndarray:
    """A uint8 grayscale view/copy of an image that is gray (H,W)/(H,W,1), BGR (H,W,3) or BGRA (H,W,4)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise UserError(f"expected a uint8 image, got dtype {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    raise UserError(f"expected an image of shape (H,W), (H,W,1), (H,W,3) or (H,W,4), got {image.shape}")


def prepare(crop: np.ndarray, spec: ModelSpec = DEFAULT_SPEC) -> np.ndarray:
    """Face crop of any size/channels -> uint8 (input_height, input_width) grayscale."""
    gray = to_gray(crop)
    if gray.shape[0] == 0 or gray.shape[1] == 0:
        raise UserError(f"empty face crop of shape {gray.shape}")
    size = (spec.input_width, spec.input_height)
    if gray.shape[:2] == (spec.input_height, spec.input_width):
        return np.ascontiguousarray(gray)
    return cv2.resize(gray, size, interpolation=_CV2_INTERPOLATION[spec.interpolation])


def normalize(images: np.ndarray, spec: ModelSpec = DEFAULT_SPEC, out: np.ndarray | None = None) -> np.ndarray:
    """uint8 (..., H, W) -> float32 (..., H, W, 1) model input. ``out`` reuses a buffer."""
    images = np.asarray(images)
    target_shape = images.shape + (1,)
    if out is None:
        out = np.empty(target_shape, dtype=np.float32)
    elif out.shape != target_shape or out.dtype != np.float32:
        raise ValueError(f"out buffer must be float32 {target_shape}, got {out.dtype} {out.shape}")
    np.multiply(images[..., None], np.float32(spec.pixel_scale), out=out, casting="unsafe")
    if spec.pixel_offset:
        out += np.float32(spec.pixel_offset)
    return out


def preprocess(crop: np.ndarray, spec: ModelSpec = DEFAULT_SPEC, out: np.ndarray | None = None) -> np.ndarray:
    """Face crop of any size/channels -> float32 (input_height, input_width, 1) model input."""
    if spec.input_channels != 1:
        raise UserError(f"fer-edge preprocessing produces grayscale input; spec asks for {spec.input_channels} channels")
    return normalize(prepare(crop, spec), spec, out=out)


def framed_box(box, margin: float, shape: tuple[int, ...]) -> tuple[tuple[int, int, int, int] | None, bool]:
    """((x0, y0, x1, y1) of ``box`` (x, y, w, h) grown by ``margin`` times its size on every side and
    clipped to an image of ``shape``, or None if nothing is left), and whether clipping changed it."""
    x, y, w, h = (float(v) for v in box[:4])
    dx, dy = w * margin, h * margin
    want = (round(x - dx), round(y - dy), round(x + w + dx), round(y + h + dy))
    got = (max(0, want[0]), max(0, want[1]), min(shape[1], want[2]), min(shape[0], want[3]))
    if got[2] <= got[0] or got[3] <= got[1]:
        return None, True
    return got, got != want


def eye_angle(landmarks: np.ndarray) -> float:
    """Degrees the eye line is tilted (YuNet order: right eye, left eye, ...); positive = clockwise on screen."""
    (rx, ry), (lx, ly) = np.asarray(landmarks, np.float64)[:2]
    return float(np.degrees(np.arctan2(ly - ry, lx - rx)))


def align_matrix(box, landmarks: np.ndarray, margin: float) -> tuple[np.ndarray, tuple[int, int]]:
    """The 2x3 affine map from the image to an upright crop of ``box`` grown by ``margin`` (its centre
    fixed, rotated so the eyes are level) and that crop's (width, height)."""
    x, y, w, h = (float(v) for v in box[:4])
    out_w, out_h = max(1, round(w * (1 + 2 * margin))), max(1, round(h * (1 + 2 * margin)))
    cx, cy = x + w / 2, y + h / 2
    m = cv2.getRotationMatrix2D((cx, cy), eye_angle(landmarks), 1.0)
    m[0, 2] += out_w / 2 - cx
    m[1, 2] += out_h / 2 - cy
    return m, (out_w, out_h)


def frame_face(image: np.ndarray, box, landmarks: np.ndarray | None = None,
               framing: Framing = BOX_CROP) -> np.ndarray | None:
    """The face in ``box`` (x, y, w, h) of ``image`` cut out as ``framing`` says, at the image's own
    resolution (``prepare`` then resizes it); None when the box lies outside the image.

    Without landmarks (or without ``framing.align``) this is the box grown by the margin and clipped to
    the image; with them the crop is rotated about the box centre so the eyes are level, and pixels
    beyond the image edge repeat the edge.
    """
    if framing.align and landmarks is not None:
        m, size = align_matrix(box, landmarks, framing.margin)
        return cv2.warpAffine(image, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    got, _ = framed_box(box, framing.margin, image.shape)
    if got is None:
        return None
    x0, y0, x1, y1 = got
    return image[y0:y1, x0:x1]


def frame_labelled_face(image: np.ndarray, label_box, found: tuple[np.ndarray, np.ndarray] | None = None,
                        framing: Framing = BOX_CROP) -> np.ndarray | None:
    """The face labelled ``label_box`` (x, y, w, h) in a photo, cut as the live loop would cut it.

    With an aligned ``framing`` and ``found`` (the detector's (box, five landmarks) for this face, e.g.
    YuNet's), the detector's box and landmarks are framed; otherwise (no alignment, or the detector did not
    find the face) the labelled box is framed with the margin only, unrotated. None when nothing is left.
    """
    box, landmarks = found if found is not None and framing.align else (label_box, None)
    return frame_face(image, box, landmarks, framing)
