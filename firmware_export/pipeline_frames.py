"""Camera frames for the pipeline checks: a video's frames as a camera of each size would deliver them.

``camera_frames`` decodes ``count`` frames spread evenly over a clip (``--parity-video``), turns each to
grayscale, cuts the centre to the camera's 4:3 (or other) aspect and shrinks it with OpenCV's area resize to
each camera size (160x120 QQVGA, 320x240 QVGA, ...): what the camera's own scaler hands the firmware.
Without a clip the frames come from the demo-video generator (``edge.synthetic.video``: synthetic faces).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.core.errors import UserError
from edge.core.preprocess import to_gray

log = logging.getLogger(__name__)

CAMERA_SIZES = ((160, 120), (320, 240))
SYNTHETIC = "synthetic (edge.synthetic.video, seed 0)"


@dataclass(frozen=True)
class CameraFrame:
    width: int
    height: int
    index: int  # the frame's index in the clip
    gray: np.ndarray  # uint8 (height, width)

    @property
    def name(self) -> str:
        return f"frame {self.index} at {self.width}x{self.height}"


def parse_sizes(text: str, option: str = "--parity-sizes") -> tuple[tuple[int, int], ...]:
    """``"160x120,320x240"`` -> ((160, 120), (320, 240)); a one-line UserError otherwise."""
    sizes = []
    for part in text.split(","):
        try:
            w, h = (int(v) for v in part.strip().lower().split("x"))
        except ValueError:
            raise UserError(f"{option} {text!r}: expected WIDTHxHEIGHT[,WIDTHxHEIGHT...], e.g. 160x120,320x240") from None
        if not (16 <= w <= 2048 and 16 <= h <= 2048):
            raise UserError(f"{option} {text!r}: {w}x{h} is outside 16..2048 pixels a side")
        sizes.append((w, h))
    return tuple(dict.fromkeys(sizes))


def as_camera(gray: np.ndarray, width: int, height: int) -> np.ndarray:
    """The centre of ``gray`` at the aspect of ``width`` x ``height``, shrunk (area) or grown (linear) to it."""
    h, w = gray.shape
    if w * height > h * width:  # too wide: cut the sides
        cw = max(1, round(h * width / height))
        gray = gray[:, (w - cw) // 2:(w - cw) // 2 + cw]
    elif w * height < h * width:
        ch = max(1, round(w * height / width))
        gray = gray[(h - ch) // 2:(h - ch) // 2 + ch]
    shrink = gray.shape[1] >= width
    return cv2.resize(gray, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def _video_grays(clip: Path, count: int) -> list[tuple[int, np.ndarray]]:
    cap = cv2.VideoCapture(str(clip))
    if not cap.isOpened():
        raise UserError(f"--parity-video {clip}: OpenCV cannot open it as a video")
    try:
        total = 0
        while cap.grab():
            total += 1
    finally:
        cap.release()
    if total == 0:
        raise UserError(f"--parity-video {clip}: no frames could be decoded (expected a video file, e.g. .mp4)")
    wanted = sorted({round(i * (total - 1) / max(1, count - 1)) for i in range(min(count, total))})
    frames, cap = [], cv2.VideoCapture(str(clip))
    try:
        for index in range(wanted[-1] + 1):
            ok, frame = cap.read()
            if not ok:
                break
            if index in wanted:
                frames.append((index, to_gray(frame).copy()))
    finally:
        cap.release()
    return frames


def _synthetic_grays(count: int) -> list[tuple[int, np.ndarray]]:
    from edge.synthetic.video import VideoConfig, scene

    frames = []
    for index, (frame, _) in enumerate(scene(VideoConfig(frames=count, width=640, height=480, fps=5.0, seed=0))):
        frames.append((index, to_gray(frame).copy()))
    return frames


def camera_frames(clip: str | Path | None, sizes=CAMERA_SIZES, count: int = 24) -> list[CameraFrame]:
    """``count`` frames of ``clip`` (None: the synthetic demo video) at every camera size, size by size."""
    grays = _video_grays(Path(clip), count) if clip else _synthetic_grays(count)
    log.info("pipeline parity: %d frames of %s at %s", len(grays), clip or SYNTHETIC,
             ", ".join(f"{w}x{h}" for w, h in sizes))
    return [CameraFrame(w, h, index, as_camera(gray, w, h)) for w, h in sizes for index, gray in grays]
