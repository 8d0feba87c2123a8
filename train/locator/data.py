"""Labelled frames -> the locator's training arrays: inputs as ``edge.locator.downscale`` makes them on the
device, and the grid targets (``targets.encode``).

A share of the frames first goes down to the camera size of its aspect (4:3 -> 160x120, 11:9 -> 176x144) the
same way, as a QQVGA or QCIF camera would give it; the rest goes straight from the generated size. The arrays
are cached beside the frames (``inputs-WxH.npz``), so a resumed run reads them back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.core import atomic
from edge.locator import downscale
from edge.locator_eval import LabelledFrame, read_labels
from train.locator.targets import encode, frame_to_input

log = logging.getLogger(__name__)

#: share of frames that pass through a small camera size first
CAMERA_SHARE = 0.4
ARRAYS_FORMAT = 1


def camera_size(width: int, height: int) -> tuple[int, int]:
    """The small camera size of a frame's aspect: QCIF (176x144) for 11:9, else QQVGA (160x120)."""
    return (176, 144) if abs(width / height - 176 / 144) < abs(width / height - 4 / 3) else (160, 120)


def frame_input(gray: np.ndarray, input_width: int, input_height: int, via_camera: bool) -> np.ndarray:
    if via_camera:
        cw, ch = camera_size(gray.shape[1], gray.shape[0])
        if gray.shape[1] >= cw and gray.shape[0] >= ch:
            gray = downscale(gray, cw, ch)
    return downscale(gray, input_width, input_height)


@dataclass
class LocatorSplit:
    """uint8 (N, H, W) inputs and float32 (N, rows, cols, 7) targets; ``frames`` as labelled."""

    images: np.ndarray
    targets: np.ndarray
    frames: list[LabelledFrame] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class LocatorDataset:
    source: str
    splits: dict[str, LocatorSplit]
    name: str = "locator-frames"
    members: list = field(default_factory=list)


def load_split(folder: Path, input_width: int, input_height: int, stride: int, seed: int = 0) -> LocatorSplit:
    frames = read_labels(folder)
    cache = folder / f"inputs-{input_width}x{input_height}-s{stride}-f{ARRAYS_FORMAT}-seed{seed}.npz"
    if cache.is_file():
        with np.load(cache) as z:
            if len(z["images"]) == len(frames):
                return LocatorSplit(z["images"], z["targets"], frames)
    images = np.empty((len(frames), input_height, input_width), np.uint8)
    targets = np.empty((len(frames), input_height // stride, input_width // stride, 7), np.float32)
    for i, f in enumerate(frames):
        gray = cv2.imread(str(f.path), cv2.IMREAD_GRAYSCALE)
        if gray is None:
            from edge.core.errors import UserError

            raise UserError(f"{f.path}: unreadable frame (listed in {folder / 'labels.jsonl'})")
        rng = np.random.default_rng([seed, i, 11])
        images[i] = frame_input(gray, input_width, input_height, rng.random() < CAMERA_SHARE)
        targets[i] = encode(frame_to_input(f.faces, f.size, input_width, input_height), input_width, input_height, stride)
        if (i + 1) % 4000 == 0:
            log.info("%s: %d/%d frames prepared", folder, i + 1, len(frames))
    with atomic.atomic_path(cache) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, images=images, targets=targets)
    return LocatorSplit(images, targets, frames)
