"""Where annotated frames and predictions go: a video file, JSON lines, a window.

The video is recorded in segments that a kill cannot spoil (``edge.recording``) and joined onto ``--out`` when
it is finalized, so the file at ``--out`` is always playable. JSON lines are appended and flushed frame by frame, so the
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

from edge.core.errors import UserError, describe_os_error
from edge.core.lock import try_lock

log = logging.getLogger(__name__)


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
    """mp4v video at the first frame's size (later frames of another size are letterboxed into it), recorded so
    that a kill loses only its last seconds (``edge.recording``) and finalized onto ``path`` by ``close``."""

    def __init__(self, path: str | Path, fps: float):
        from edge.recording import Recording

        self.path, self.fps = Path(path), fps
        self._recording = Recording(self.path, fps)  # claims the name now: a second recording fails at once
        self._fit, self._closed, self._warned = None, False, False

    @property
    def frames(self) -> int:
        return self._recording.frames

    def write(self, image: np.ndarray) -> None:
        if image.ndim == 3 and image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        if self._fit is None:
            self._fit = np.empty_like(image)
        if image.shape != self._fit.shape:
            if not self._warned:
                self._warned = True
                log.warning("--out %s: frame %d is %dx%d, but the video is %dx%d (its first frame's size): frames of "
                            "other sizes are scaled to fit, with black bars", self.path, self.frames + 1,
                            image.shape[1], image.shape[0], self._fit.shape[1], self._fit.shape[0])
            image = letterbox(image, self._fit)
        self._recording.write(image)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._recording.close():
            log.info("wrote %s (%d frames at %g fps)", self.path, self.frames, self.fps)


class JsonlOutput:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.is_dir():
            raise UserError(f"--jsonl {self.path}: is a folder (expected a file name, e.g. {self.path / 'predictions.jsonl'})")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o666)  # not emptied before it is ours alone
        except OSError as e:
            raise UserError(f"--jsonl {self.path}: cannot write it ({describe_os_error(e)}); expected a writable "
                            "file path") from None
        if not try_lock(fd):
            os.close(fd)
            raise UserError(f"--jsonl {self.path}: another fer-edge is writing to it; choose another file (two "
                            "runs' lines would mix)")
        os.ftruncate(fd, 0)
        self._file = open(fd, "w", encoding="utf-8")

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

    def close(self, failed: bool = False) -> None:
        """Close the file; when the run ``failed`` before any line was written, remove it rather than leave an
        empty file behind."""
        if not self._file.closed:
            empty = self._file.tell() == 0
            try:
                self._file.close()
            except OSError as e:
                self._fail(e)
            if failed and empty:
                with contextlib.suppress(OSError):
                    self.path.unlink()
                return
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
