"""Frame sources behind one interface (``edge.frame.FrameSource``): a camera, a video file or an image folder.

A source has ``open()``, ``read() -> Frame | None`` (None = the file or folder has ended), ``rewind()``
and ``close()``. A live camera that fails raises ``SourceError``; ``Reconnecting`` turns that into
retries with exponential backoff and, after the last attempt, a one-line ``UserError``.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from edge.core.errors import UserError
from edge.frame import Clock, Frame, FrameSource, SourceError

log = logging.getLogger(__name__)
# FFmpeg inside OpenCV prints its own lines ("moov atom not found") on stderr for an unreadable video, before
# our one-line error; quiet unless the user asks for them. Read when OpenCV first opens a video.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
#: where Linux lists cameras (/dev/videoN); usb:N is checked against it before any retry
DEVICE_DIR = Path("/dev")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm")


def media_time(pos_msec: float, index: int, fps: float | None, previous: float | None) -> float:
    """Seconds from the start of a video file of its frame ``index``: the container's timestamp
    (``CAP_PROP_POS_MSEC`` after the read) when it is sane (finite, not negative, after the previous
    frame's), else ``index / fps`` (else ``index / 30``)."""
    t = pos_msec / 1000.0
    if math.isfinite(t) and t >= 0 and (previous is None or t > previous) and (index == 0 or t > 0):
        return t
    return index / (fps or 30.0)


class VideoCaptureSource(FrameSource):
    """OpenCV ``VideoCapture``: a USB camera index (live) or a video file. Reuses its buffers.

    A camera's frames carry the wall-clock time they arrived; a file's carry their media time (seconds
    from the start of the file, ``media_time``), so a 3 s clip spans 3 s however fast it is processed.
    ``rewind`` starts a file again (``--loop``), its times continuing where the last pass ended.
    """

    def __init__(self, target: int | str, live: bool):
        self.target, self.live = target, live
        self.name = f"usb:{target}" if live else str(target)
        self.fps: float | None = None
        #: a camera's frames carry Unix time, a file's their media time
        self.clock: Clock = "wall" if live else "media"
        self._cap = None
        self._image = self._gray = None
        self._index, self._offset, self._last = 0, 0.0, None

    def open(self) -> None:
        cap = cv2.VideoCapture(self.target)
        if not cap.isOpened():
            cap.release()
            if self.live:
                raise SourceError(f"camera {self.name} did not open")
            raise UserError(f"{self.name}: not a readable video (OpenCV could not open it)")
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1 <= fps <= 240 else None
        self._cap = cap

    def read(self) -> Frame | None:
        ok, image = self._cap.read(self._image)
        if not ok:
            if self.live:
                raise SourceError(f"camera {self.name} returned no frame")
            return None
        self._image = image
        if self._gray is None or self._gray.shape != image.shape[:2]:
            self._gray = np.empty(image.shape[:2], np.uint8)
        cv2.cvtColor(image, cv2.COLOR_BGR2GRAY, dst=self._gray)
        if self.live:
            t = time.time()
        else:
            media = media_time(self._cap.get(cv2.CAP_PROP_POS_MSEC), self._index, self.fps,
                               None if self._last is None else self._last - self._offset)
            t = self._offset + media
            self._index, self._last = self._index + 1, t
        return Frame(image, self._gray, (1.0, 1.0), t)

    def rewind(self) -> None:
        """Start a video file again; its media time continues one frame after the last pass."""
        self.close()
        if self._last is not None:
            self._offset = self._last + 1.0 / (self.fps or 30.0)
        self._index, self._last = 0, None
        self.open()

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


#: images larger than this are skipped unread: a decompression bomb, or a photo too large to decode on a Pi
MAX_IMAGE_PIXELS = 64_000_000


def read_image(path: Path):
    """The BGR image at ``path``, or None (with a warning) if it cannot be read or is too large to decode."""
    from edge.image_header import image_size

    size = image_size(path)
    if size is not None and size[0] * size[1] > MAX_IMAGE_PIXELS:
        log.warning("%s: %dx%d pixels, over %d million: skipped unread (a decompression bomb, or an image too large "
                    "to decode here; scale it down)", path, size[0], size[1], MAX_IMAGE_PIXELS // 1_000_000)
        return None
    try:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    except cv2.error as e:  # OpenCV's own size limit, or out of memory
        log.warning("%s: cannot be decoded (%s), skipped", path, str(e).strip().splitlines()[-1][:120])
        return None
    if image is None:
        log.warning("%s: not a readable image, skipped", path)
    return image


class ImageFolderSource(FrameSource):
    """Every image in a folder, in name order; unreadable files are skipped with a warning. Its frames carry
    the time they were read.

    The images are ``stills``: unrelated pictures, not a time series, so the loop detects each one afresh and
    neither tracks nor smooths a face from one file to the next.
    """

    #: each frame is a picture of its own (edge.loop: no tracking, smoothing or held boxes across frames)
    stills = True

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.name, self.live, self.fps, self.clock = str(folder), False, None, "wall"
        self.paths = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        self._next = 0
        self._read_any = False

    def open(self) -> None:
        if not self.paths:
            raise UserError(f"{self.folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        self._next = 0

    def read(self) -> Frame | None:
        while self._next < len(self.paths):
            path = self.paths[self._next]
            self._next += 1
            image = read_image(path)
            if image is None:
                continue
            self._read_any = True
            return Frame(image, cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (1.0, 1.0), time.time())
        if not self._read_any:  # not a run over no frames that then says it wrote its outputs
            raise UserError(f"{self.folder}: none of its {len(self.paths)} image(s) could be read (see the warnings "
                            "above); expected readable images")
        return None

    def rewind(self) -> None:
        self._next = 0

    def close(self) -> None:
        pass


class Reconnecting(FrameSource):
    """Wraps a source: a live camera that fails to open or stalls is reopened with exponential backoff.

    The ``retries`` budget and the growing delay carry over from one reopen to the next until a frame
    actually arrives, so a camera that opens but never delivers ends the run too. ``stop`` (a
    threading.Event, the run's) cuts a backoff wait short when the run is asked to end; the source then
    stays closed and ``read()`` returns None, as at the end of a file.
    """

    def __init__(self, source: FrameSource, retries: int = 5, backoff: float = 0.5, max_backoff: float = 8.0,
                 stop: threading.Event | None = None):
        self.source, self.retries, self.backoff, self.max_backoff = source, retries, backoff, max_backoff
        self.name, self.live, self.clock, self.fps = source.name, source.live, source.clock, source.fps
        self.stills = source.stills
        self.stop = stop or threading.Event()
        self._attempts, self._delay = 0, backoff
        self._opened = False

    def open(self) -> None:
        """Open the source, retrying a camera that fails; a stop requested while waiting leaves it closed."""
        try:
            self.source.open()
            self._opened = True
        except SourceError as e:
            log.warning("%s: %s", self.source.name, e)
            self._opened = self._retry(e)
        self.fps = self.source.fps  # a file's is known once it is open

    def read(self) -> Frame | None:
        if not self._opened:
            return None
        while True:
            try:
                frame = self.source.read()
            except SourceError as e:
                log.warning("%s stopped delivering frames (%s); reopening", self.source.name, e)
                self.source.close()
                if not self._retry(e):
                    self._opened = False
                    return None
                continue
            if self._attempts:
                log.info("%s: delivering again after %d reopen attempt(s)", self.source.name, self._attempts)
                self._attempts, self._delay = 0, self.backoff
            return frame

    def rewind(self) -> None:
        self.source.rewind()

    def close(self) -> None:
        self.source.close()

    def _retry(self, error: SourceError) -> bool:
        while self._attempts < self.retries:
            self._attempts += 1
            delay = self._delay
            self._delay = min(2 * delay, self.max_backoff)
            log.warning("%s: retry %d/%d in %.1f s", self.source.name, self._attempts, self.retries, delay)
            if self.stop.wait(delay):
                return False
            try:
                self.source.open()
            except SourceError as e:
                error = e
                log.warning("%s: %s", self.source.name, e)
                continue
            log.info("%s: reopened (attempt %d)", self.source.name, self._attempts)
            return True
        raise UserError(f"{self.source.name}: gave up after {self.retries} retries ({error}); "
                        "check the camera connection and that no other program is using it")


def _require_camera_device(index: int, text: str) -> None:
    """On Linux, a camera index with no /dev/videoN fails at once instead of after the reopen retries."""
    if not sys.platform.startswith("linux") or (DEVICE_DIR / f"video{index}").exists():
        return
    found = sorted(p.name for p in DEVICE_DIR.glob("video[0-9]*"))
    raise UserError(f"--source {text}: no camera {DEVICE_DIR / f'video{index}'} (expected usb:N for an existing "
                    f"/dev/videoN; found {', '.join(found) or 'no cameras'})")


def open_source(text: str, config, stop: threading.Event | None = None) -> Reconnecting:
    """``picamera2`` | ``usb:N`` | an image folder | a video file -> a (not yet opened) source."""
    source: FrameSource
    if text == "picamera2":
        from edge.picam import PicameraSource

        source = PicameraSource(config.main_size, config.lores_size, fps=config.camera_fps,
                                timeout=config.camera_timeout)
    elif text.startswith("usb:"):
        index = text[4:]
        if not index.isdigit():
            raise UserError(f"--source {text!r}: expected usb:N with N a camera index, e.g. usb:0")
        _require_camera_device(int(index), text)
        source = VideoCaptureSource(int(index), live=True)
    elif Path(text).is_dir():
        source = ImageFolderSource(text)
    elif Path(text).is_file():
        source = VideoCaptureSource(text, live=False)
    else:
        raise UserError(f"--source {text!r}: expected picamera2, usb:N, a video file or an image folder "
                        "(no such file or folder)")
    return Reconnecting(source, config.retries, config.backoff, stop=stop)
