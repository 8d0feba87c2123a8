"""The "hardware" behind the fake ``libcamera``: one camera module whose sensor sees a video.

This directory (tests/fake_libcamera) goes first on ``sys.path``/``PYTHONPATH`` so that the real
``picamera2`` package (from PyPI) imports these stand-ins for its native parts: ``libcamera`` (the
C++ library's Python bindings), ``pykms``, ``prctl`` and the kernel's DMA heap. Everything else is
picamera2's own code.

The camera is set by environment variables (read by ``reset()``, so a subprocess picks them up) or by
``reset(**switches)`` in a test:

``FAKE_CAMERA_VIDEO``       what the sensor sees: each frame the sensor produces is the next frame of
                            this video (cycled); without it, a grey test pattern.
``FAKE_CAMERA_COUNT``       cameras attached (default 1; 0 = none, ``Picamera2()`` then fails).
``FAKE_CAMERA_BUSY``        1 = another process holds the camera (``acquire()`` fails with EBUSY).
``FAKE_CAMERA_STALL_AFTER`` the link (the ribbon cable) drops after this many delivered frames ...
``FAKE_CAMERA_OUTAGE_S``    ... and comes back this many seconds later (unset: never). A stream that
                            lost its link, or was started while it was down, stays silent until the
                            camera is stopped and started again, as a real CSI receiver does.
``FAKE_CAMERA_FRAME_S``     a slow camera: at least this many seconds between frames.
``FAKE_CAMERA_PLATFORM``    ``vc4`` (Pi 4, default) or ``pisp`` (Pi 5): the row alignment of buffers.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass
class Switches:
    video: str | None = None
    count: int = 1
    busy: bool = False
    stall_after: int | None = None
    outage_s: float | None = None
    frame_s: float = 0.0
    platform: str = "vc4"

    @classmethod
    def from_env(cls) -> Switches:
        env = os.environ.get

        def number(name, kind):
            value = env(name)
            return None if value in (None, "") else kind(value)

        count = number("FAKE_CAMERA_COUNT", int)
        return cls(video=env("FAKE_CAMERA_VIDEO") or None, count=1 if count is None else count,
                   busy=env("FAKE_CAMERA_BUSY", "") == "1", stall_after=number("FAKE_CAMERA_STALL_AFTER", int),
                   outage_s=number("FAKE_CAMERA_OUTAGE_S", float), frame_s=number("FAKE_CAMERA_FRAME_S", float) or 0.0,
                   platform=env("FAKE_CAMERA_PLATFORM", "vc4"))


@dataclass
class Sensor:
    """State that outlives any one ``Picamera2`` object: the camera module and its cable."""

    switches: Switches
    frames: list = field(default_factory=list)  # BGR images the sensor sees, in order
    produced: int = 0  # frames the sensor has produced (delivered or not): the index into ``frames``
    delivered: int = 0  # frames delivered to the application, all openings together
    delivered_since_up: int = 0
    down_until: float | None = None  # the link is down until this time.monotonic(); inf = for good
    starts: int = 0  # camera.start() calls
    dropouts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def link_up(self, now: float) -> bool:
        if self.down_until is not None and now >= self.down_until:
            self.down_until = None
        return self.down_until is None

    def next_image(self) -> np.ndarray:
        image = self.frames[self.produced % len(self.frames)]
        self.produced += 1
        return image

    def count_delivered(self, now: float) -> None:
        self.delivered += 1
        self.delivered_since_up += 1
        stall = self.switches.stall_after
        if stall is not None and self.delivered_since_up >= stall:
            outage = self.switches.outage_s
            self.down_until = float("inf") if outage is None else now + outage
            self.delivered_since_up = 0
            self.dropouts += 1


def _load_frames(path: str | None) -> list:
    if path is None:
        ramp = np.tile(np.linspace(0, 255, 640, dtype=np.uint8), (480, 1))
        return [cv2.merge([ramp, ramp[:, ::-1], np.full_like(ramp, 128)])]
    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    if not frames:
        raise RuntimeError(f"FAKE_CAMERA_VIDEO={path}: no frames could be read")
    return frames


SENSOR: Sensor


def reset(**switches) -> Sensor:
    """New hardware: from the environment, with ``switches`` (Switches fields) overriding it."""
    global SENSOR
    base = Switches.from_env()
    chosen = Switches(**{**base.__dict__, **switches})
    SENSOR = Sensor(chosen, _load_frames(chosen.video))
    return SENSOR


reset()
