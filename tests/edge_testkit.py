"""Test material for the edge loop: the project's synthetic demo video and frames (with their true
face boxes), frames without faces, and a picamera2 stand-in.

Used by tests/test_edge_*.py and benchmarks/edge_pipeline.py.
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import time
from pathlib import Path

import cv2
import numpy as np


def demo_video(path: str | Path, frames: int, fps: float = 30.0, seed: int = 0, faces: str = "1-3") -> list:
    """``fer-edge demo-video`` (the project's synthetic test video); returns the true boxes per frame."""
    from train.demo_video import VideoConfig, truth_path, write_video

    lo, _, hi = faces.partition("-")
    write_video(path, VideoConfig(frames, 640, 480, fps, int(lo), int(hi or lo), seed))
    lines = Path(truth_path(path)).read_text().splitlines()
    return [[f["box"] for f in json.loads(line)["faces"]] for line in lines]


@functools.lru_cache(maxsize=8)
def demo_frames(frames: int, seed: int = 0, faces: int = 2) -> tuple:
    """(BGR frame, true boxes) pairs of the demo scene, in memory."""
    from train.demo_video import VideoConfig, scene

    config = VideoConfig(frames, 640, 480, 30.0, faces, faces, seed)
    return tuple((image, [f["box"] for f in truth]) for image, truth in scene(config))


def no_face_frame(seed: int = 0, width: int = 640, height: int = 480) -> np.ndarray:
    """A BGR backdrop of the kinds the demo video uses, with no face in it."""
    from train.datasets.synthetic import background

    gray = background(np.random.default_rng(seed), height, width)
    return np.dstack([gray * 0.9, gray, gray * 1.1]).clip(0, 255).astype(np.uint8)


# --- a picamera2 stand-in, behaving like the library in what the adapter relies on --------------

def _yuv420_stride(width: int, pi5: bool) -> int:
    """Pi 5: chroma rows (half the luma stride) are 64-byte aligned, so 320 pixels -> 384 bytes; Pi 4: none."""
    return -(-width // 128) * 128 if pi5 else width


class FakePicamera2:
    """``Picamera2`` as seen by the adapter. Class attributes script the hardware:

    ``cameras`` (0 -> ``Picamera2()`` raises IndexError), ``busy`` (-> RuntimeError), ``pi5`` (stride),
    ``stall_after`` (frames delivered per opening before the camera silently stops), ``instances``.
    """

    cameras = 1
    busy = False
    pi5 = True
    stall_after: int | None = None
    instances: list["FakePicamera2"] = []
    #: what the sensor sees, cycled: BGR images (any size; each stream is resized from them).
    frames: tuple = ()

    def __init__(self, camera_num: int = 0):
        if camera_num >= type(self).cameras:
            raise IndexError("list index out of range")
        if type(self).busy:
            raise RuntimeError("Camera __init__ sequence did not complete.")
        self.camera_num, self.config, self.started, self.closed = camera_num, None, False, False
        self.delivered = 0
        type(self).instances.append(self)

    @staticmethod
    def _config(main, lores, buffer_count, controls, default_main):
        main = {"format": "XBGR8888", "size": default_main, **(main or {})}
        if lores is not None:
            lores = {"format": "YUV420", **lores}
        return {"use_case": "video", "buffer_count": buffer_count, "main": main, "lores": lores, "raw": None,
                "controls": dict(controls or {})}

    def create_preview_configuration(self, main=None, lores=None, buffer_count=4, controls=None, **_):
        return self._config(main, lores, buffer_count, controls, (640, 480))

    def create_video_configuration(self, main=None, lores=None, buffer_count=6, controls=None, **_):
        config = self._config(main, lores, buffer_count, controls, (1280, 720))
        config["controls"].setdefault("FrameRate", 30.0)
        return config

    def configure(self, config):
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        for name in ("main", "lores"):
            if config.get(name) is not None:
                w, h = config[name]["size"]
                if w % 2 or h % 2:
                    raise RuntimeError(f"{name}: width and height should be even")
        if config.get("lores") is not None:
            (mw, mh), (lw, lh) = config["main"]["size"], config["lores"]["size"]
            if lw > mw or lh > mh:
                raise RuntimeError("lores stream dimensions may not exceed main stream")
            if not type(self).pi5 and config["lores"]["format"] not in ("YUV420", "YVU420"):
                raise RuntimeError("lores stream must be YUV")
        self.config = config

    def start(self):
        if self.config is None:
            raise RuntimeError("Camera has not been configured")
        self.started = True

    def stop(self):
        self.started = False

    def close(self):
        self.started, self.closed = False, True

    def _make_array(self, name: str, image: np.ndarray) -> np.ndarray:
        stream = self.config[name]
        w, h = stream["size"]
        fmt = stream["format"]
        if fmt == "YUV420":
            gray = cv2.cvtColor(cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
            arr = np.full((h * 3 // 2, _yuv420_stride(w, type(self).pi5)), 128, np.uint8)
            arr[:h, :w] = gray
            arr[:h, w:] = 7  # padding bytes: anything but image data
            return arr
        bgr = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        if fmt == "RGB888":  # B,G,R in memory
            return bgr
        if fmt == "BGR888":  # R,G,B in memory
            return bgr[:, :, ::-1].copy()
        if fmt == "XRGB8888":  # B,G,R,X
            return cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGBA)  # XBGR8888: R,G,B,X

    def _next_frame(self, wait):
        if not self.started:
            raise RuntimeError("Camera not started")
        stall = type(self).stall_after
        if stall is not None and self.delivered >= stall:
            # the real library keeps the job queued and its future never completes
            if wait is None or wait is True:
                raise AssertionError("a stalled camera blocks forever here: capture with wait=SECONDS")
            time.sleep(wait)
            raise concurrent.futures.TimeoutError()
        frames = type(self).frames or (demo_frames(8)[0][0],)
        image = frames[self.delivered % len(frames)]
        self.delivered += 1
        return image

    def capture_array(self, name="main", wait=None):
        return self._make_array(name, self._next_frame(wait))

    def capture_arrays(self, names=("main",), wait=None):
        image = self._next_frame(wait)
        return [self._make_array(n, image) for n in names], {"SensorTimestamp": time.monotonic_ns()}

    @classmethod
    def scripted(cls, **attrs):
        """A fresh subclass with its own scripted hardware (no state shared between tests)."""
        return type("FakePicamera2", (cls,), {"instances": [], **attrs})

