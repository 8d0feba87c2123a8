"""The Raspberry Pi camera through picamera2: a thin adapter, imported only when asked for.

Two streams from one request: ``main`` (RGB888, which is B,G,R in memory, i.e. OpenCV's BGR) for
display and recording, and ``lores`` (YUV420) whose Y plane is the grayscale image for detection
and the model, with no colour conversion. A YUV420 array is ``(h*3//2, stride)`` with the row
padding kept (stride 384 for 320 pixels on a Pi 5, 320 on a Pi 4), so the Y plane is the view
``arr[:h, :w]``. Lores shares main's crop, so a box on lores maps to main by a plain scale. Both
use the sizes picamera2 configured, read back after ``configure()`` (it rounds odd sizes down).
A camera that drops out usually stops delivering rather than raising, so every capture waits at
most ``timeout`` seconds; a timeout is a ``SourceError`` and the caller reopens the camera. The
timed-out capture stays queued in picamera2, so ``close()`` cancels it before stopping the camera.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time

from edge.core.errors import UserError
from edge.frame import Frame, FrameSource, SourceError

log = logging.getLogger(__name__)
NO_CAMERA = "no camera found (is the ribbon cable seated? try: rpicam-hello --list-cameras)"
INSTALL_HINT = "sudo apt install python3-picamera2 and create the venv with --system-site-packages"


def import_picamera2():
    try:
        from picamera2 import Picamera2  # type: ignore[import-not-found]
    except ImportError as e:
        raise UserError(f"--source picamera2: the picamera2 library is not importable here ({e}); "
                        f"{INSTALL_HINT}") from None
    return Picamera2


class PicameraSource(FrameSource):
    """A live camera: its frames carry the Unix time they were captured."""

    def __init__(self, main_size=(640, 480), lores_size=(320, 240), fps: float = 30.0,
                 timeout: float = 2.0, camera_num: int = 0):
        self.main_size, self.lores_size = tuple(main_size), tuple(lores_size)
        self.fps, self.timeout, self.camera_num = fps, timeout, camera_num
        self.name, self.live, self.clock = f"picamera2:{camera_num}", True, "wall"
        self._cam = None
        self._scale = (main_size[0] / lores_size[0], main_size[1] / lores_size[1])
        self._lores = self.lores_size  # as configured

    def open(self) -> None:
        Picamera2 = import_picamera2()
        try:
            cam = Picamera2(self.camera_num)
        except IndexError:
            raise SourceError(NO_CAMERA) from None
        except RuntimeError as e:
            if str(e).startswith("No camera number"):  # picamera2 0.3.x with no camera attached
                raise SourceError(NO_CAMERA) from None
            raise SourceError(f"camera did not open ({e}); is another program using it?") from None
        try:
            config = cam.create_video_configuration(
                main={"size": self.main_size, "format": "RGB888"},
                lores={"size": self.lores_size, "format": "YUV420"},
                controls={"FrameRate": self.fps})
            cam.configure(config)
            configured = cam.camera_configuration()
            main, lores = tuple(configured["main"]["size"]), tuple(configured["lores"]["size"])
        except (RuntimeError, ValueError) as e:
            cam.close()
            (mw, mh), (lw, lh) = self.main_size, self.lores_size
            raise UserError(f"--main {mw}x{mh} --lores {lw}x{lh}: the camera refused this configuration "
                            f"({e})") from None
        if (main, lores) != (self.main_size, self.lores_size):
            log.warning("%s: the camera adjusted the streams to main %dx%d, lores %dx%d", self.name, *main, *lores)
        self._lores = lores
        self._scale = (main[0] / lores[0], main[1] / lores[1])
        try:
            cam.start()
        except RuntimeError as e:  # e.g. the sensor does not answer: release it so a retry can open it
            cam.close()
            raise SourceError(f"camera did not start ({e})") from None
        self._cam = cam
        log.info("%s: main %dx%d RGB888, lores %dx%d YUV420 at %g fps", self.name, *main, *lores, self.fps)

    def read(self) -> Frame:
        try:
            (main, lores), _metadata = self._cam.capture_arrays(["main", "lores"], wait=self.timeout)
        except (TimeoutError, concurrent.futures.TimeoutError):
            raise SourceError(f"no frame within {self.timeout:g} s") from None
        except (RuntimeError, concurrent.futures.CancelledError) as e:
            raise SourceError(f"capture failed ({e or type(e).__name__})") from None
        w, h = self._lores
        return Frame(main, lores[:h, :w], self._scale, time.time())

    def rewind(self) -> None:
        """A camera has no first frame to go back to: it is restarted (closed and opened again)."""
        self.close()
        self.open()

    def close(self) -> None:
        cam, self._cam = self._cam, None
        if cam is None:
            return
        # A capture that timed out is still at the head of picamera2's job list, and stop() would queue
        # behind it for good: cancel it first (picamera2's own remedy for a loose camera cable).
        for step in (cam.cancel_all_and_flush, cam.stop, cam.close):
            try:
                step()
            except Exception as e:  # a camera that has dropped out may fail to stop; it is released anyway
                log.debug("%s: %s during close: %s", self.name, step.__name__, e)
