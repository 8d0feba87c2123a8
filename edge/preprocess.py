"""The one preprocessing function: any face crop -> the model input described by a ModelSpec.

Training, calibration, evaluation and the camera loop all call ``preprocess`` (or its two halves:
``prepare`` gives the resized uint8 image that dataset caches store, ``normalize`` scales it).
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.errors import UserError
from edge.spec import DEFAULT_SPEC, ModelSpec

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
