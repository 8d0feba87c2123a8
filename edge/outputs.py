"""Where annotated frames and predictions go: a video file, JSON lines, a window.

The video is written under a temporary name and moved into place when it is finalized, so the
file at ``--out`` is always playable. JSON lines are appended and flushed frame by frame, so the
file can be followed live and is valid whenever the run stops.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

import cv2
import numpy as np

from edge.core import atomic
from edge.core.errors import UserError

log = logging.getLogger(__name__)
FOURCC = "mp4v"


def frame_record(index: int, timestamp: float, faces) -> dict:
    return {"frame": index, "t": round(timestamp, 4), "faces": [f.to_json() for f in faces]}


def letterbox(image: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Fit ``image`` into ``out`` (same aspect, centred, black bars); returns ``out``."""
    (h, w), (H, W) = image.shape[:2], out.shape[:2]
    f = min(W / w, H / h)
    nw, nh = max(1, round(w * f)), max(1, round(h * f))
    out[:] = 0
    x, y = (W - nw) // 2, (H - nh) // 2
    cv2.resize(image, (nw, nh), dst=out[y:y + nh, x:x + nw], interpolation=cv2.INTER_AREA)
    return out


class VideoOutput:
    """mp4v video at the first frame's size (later frames of another size are letterboxed into it),
    finalized by ``close``."""

    def __init__(self, path: str | Path, fps: float):
        self.path, self.fps = Path(path), fps
        self.frames = 0
        self._writer = self._atomic = self._fit = None
        self._warned = False

    def write(self, image: np.ndarray) -> None:
        if image.ndim == 3 and image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        if self._writer is None:
            self._open(image.shape[1], image.shape[0])
            self._fit = np.empty_like(image)
        if image.shape != self._fit.shape:
            if not self._warned:
                self._warned = True
                log.warning("--out %s: frame %d is %dx%d, but the video is %dx%d (its first frame's size): frames of "
                            "other sizes are scaled to fit, with black bars", self.path, self.frames + 1,
                            image.shape[1], image.shape[0], self._fit.shape[1], self._fit.shape[0])
            image = letterbox(image, self._fit)
        self._writer.write(image)
        self.frames += 1

    def _open(self, width: int, height: int) -> None:
        self._atomic = atomic.atomic_path(self.path)
        tmp = self._tmp = self._atomic.__enter__()
        self._writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*FOURCC), self.fps, (width, height))
        if not self._writer.isOpened():
            self._writer = None
            error = UserError(f"--out {self.path}: OpenCV cannot write {FOURCC} video there (check the folder "
                              "is writable and the name ends in .mp4)")
            self._atomic.__exit__(UserError, error, None)  # removes the temporary file; nothing is written
            raise error

    def close(self) -> None:
        if self._writer is None:
            return
        self._writer.release()
        self._writer = None
        tmp = self._tmp
        readable = _frames_in(tmp)
        if readable < self.frames:  # OpenCV's writer says nothing when the disk fills: check what it wrote
            error = UserError(f"--out {self.path}: the video could not be written completely ({readable} of "
                              f"{self.frames} frames readable; is the disk full?); nothing was saved under that name",
                              exit_code=1)
            self._atomic.__exit__(UserError, error, None)
            raise error
        self._atomic.__exit__(None, None, None)
        log.info("wrote %s (%d frames at %g fps)", self.path, self.frames, self.fps)


def _frames_in(path: Path) -> int:
    """How many frames OpenCV can read back from the video at ``path`` (0 if it cannot open it)."""
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            return 0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        return count if count > 0 else int(cap.read()[0])
    finally:
        cap.release()


class JsonlOutput:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.is_dir():
            raise UserError(f"--jsonl {self.path}: is a folder (expected a file name, e.g. {self.path / 'predictions.jsonl'})")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "w", encoding="utf-8")
        except OSError as e:
            raise UserError(f"--jsonl {self.path}: cannot write it ({e.strerror}); expected a writable file path") from None

    def write(self, record: dict) -> None:
        try:
            self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
            self._file.flush()
        except OSError as e:
            self._fail(e)

    def _fail(self, e: OSError):
        """Close the file keeping only its complete lines (a line cut by a full disk is removed), then raise."""
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(OSError):
            if self.path.is_file():
                os.truncate(self.path, self.path.read_bytes().rfind(b"\n") + 1)
        raise UserError(f"--jsonl {self.path}: cannot write it ({e.strerror or e}); it holds only the complete "
                        "lines written before", exit_code=1) from None

    def close(self) -> None:
        if not self._file.closed:
            try:
                self._file.close()
            except OSError as e:
                self._fail(e)
            log.info("wrote %s", self.path)


class Display:
    """An OpenCV window; ``show`` returns False once the user presses q or Esc; other keys pile up for
    ``take_keys``."""

    NAME = "fer-edge"

    def __init__(self):
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise UserError("--display needs a desktop session (no DISPLAY or WAYLAND_DISPLAY is set); "
                            "use --headless --serve 127.0.0.1:8000 for a browser view")
        try:
            cv2.namedWindow(self.NAME, cv2.WINDOW_NORMAL)
        except cv2.error:
            raise UserError("--display needs OpenCV with GUI support (pip install opencv-python instead of "
                            "opencv-python-headless, and a desktop session); use --headless --serve "
                            "127.0.0.1:8000 for a browser view") from None
        self._keys: list[str] = []

    def show(self, image: np.ndarray) -> bool:
        cv2.imshow(self.NAME, image)
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27):
            return False
        if key != 0xFF:
            self._keys.append(chr(key))
        return True

    def take_keys(self) -> list[str]:
        keys, self._keys = self._keys, []
        return keys

    def close(self) -> None:
        cv2.destroyWindow(self.NAME)
