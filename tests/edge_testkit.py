"""Test material for the edge loop: drawn faces OpenCV's Haar cascade finds, scenes and videos of
them on varied backgrounds (with the true boxes), and a picamera2 stand-in.

Used by tests/test_edge_*.py and benchmarks/edge_pipeline.py.
"""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

import cv2
import numpy as np

MOUTHS = ("smile", "flat", "open")


def render_face(size: int, mouth: str = "smile", skin: int = 180) -> tuple[np.ndarray, np.ndarray]:
    """A shaded frontal cartoon face: (uint8 gray size x size, uint8 mask of the head and hair)."""
    s = size
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
    nx, ny = (xx - s / 2) / (s * 0.36), (yy - s * 0.52) / (s * 0.46)
    r = nx ** 2 + ny ** 2
    img = np.where(r <= 1, skin - 40 * np.clip(r, 0, 1) ** 2 - 15 * nx ** 2, 40).astype(np.float32)
    hair = (nx ** 2 + ((yy - s * 0.40) / (s * 0.42)) ** 2 <= 1.1) & (yy < s * 0.27)
    img[hair] = 30
    mask = ((r <= 1) | hair).astype(np.uint8) * 255

    def ellipse(cx, cy, ax, ay, value, start=0, end=360, thickness=-1):
        cv2.ellipse(img, (int(cx * s), int(cy * s)), (max(1, int(ax * s)), max(1, int(ay * s))), 0, start, end,
                    float(value), thickness, cv2.LINE_AA)

    for ex in (0.36, 0.64):  # eye socket, white, iris, brow
        ellipse(ex, 0.42, 0.09, 0.05, skin - 60)
        ellipse(ex, 0.42, 0.055, 0.025, 230)
        ellipse(ex, 0.42, 0.025, 0.025, 20)
        cv2.line(img, (int((ex - 0.08) * s), int(0.34 * s)), (int((ex + 0.08) * s), int(0.33 * s)), 40,
                 max(2, s // 30), cv2.LINE_AA)
    ellipse(0.5, 0.50, 0.035, 0.09, skin + 25)  # nose bridge and nostrils
    ellipse(0.47, 0.59, 0.015, 0.01, skin - 80)
    ellipse(0.53, 0.59, 0.015, 0.01, skin - 80)
    if mouth == "smile":
        ellipse(0.5, 0.66, 0.13, 0.06, 40, 10, 170, max(2, s // 25))
    elif mouth == "open":
        ellipse(0.5, 0.70, 0.06, 0.05, 30)
    else:
        ellipse(0.5, 0.70, 0.1, 0.02, 50)
    img = cv2.GaussianBlur(img, (0, 0), max(0.5, s / 150))
    return np.clip(img, 0, 255).astype(np.uint8), mask


def background(kind: int, width: int = 640, height: int = 480, seed: int = 0) -> np.ndarray:
    """One of five BGR backgrounds: gradient, blurred noise, stripes, tiles, plain wall."""
    rng = np.random.default_rng(seed)
    kind %= 5
    if kind == 0:
        ramp = np.linspace(40, 200, width, dtype=np.float32)[None, :, None]
        bg = np.broadcast_to(ramp * np.array([1.0, 0.8, 0.6], np.float32), (height, width, 3))
    elif kind == 1:
        noise = rng.random((height // 16, width // 16, 3), dtype=np.float32) * 200 + 30
        bg = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    elif kind == 2:
        stripes = ((np.arange(width) // 40) % 2 * 90 + 70).astype(np.float32)[None, :, None]
        bg = np.broadcast_to(stripes * np.array([0.7, 1.0, 0.9], np.float32), (height, width, 3))
    elif kind == 3:
        tiles = rng.integers(50, 210, (height // 60 + 1, width // 60 + 1, 3)).astype(np.float32)
        bg = cv2.resize(tiles, (width // 60 * 60 + 60, height // 60 * 60 + 60), interpolation=cv2.INTER_NEAREST)
        bg = bg[:height, :width]
    else:
        bg = np.full((height, width, 3), (150, 170, 190), np.float32)
    return np.clip(bg, 0, 255).astype(np.uint8).copy()


def paste_face(image: np.ndarray, x: int, y: int, size: int, mouth: str = "smile") -> tuple[int, int, int, int]:
    """Composite a face (tinted to skin colour) onto a BGR image in place; return its square box."""
    gray, mask = render_face(size, mouth)
    tint = np.array([0.80, 0.90, 1.05], np.float32)
    face = np.clip(gray[:, :, None] * tint, 0, 255).astype(np.uint8)
    region = image[y:y + size, x:x + size]
    alpha = (mask[:, :, None] / 255.0)[: region.shape[0], : region.shape[1]]
    region[:] = (face[: region.shape[0], : region.shape[1]] * alpha + region * (1 - alpha)).astype(np.uint8)
    return x, y, size, size


def face_scene(index: int, width: int = 640, height: int = 480, faces: int | None = None):
    """Frame ``index`` of a deterministic scene: 1-3 faces drifting over a background that changes
    every 60 frames. Returns (BGR image, list of true face boxes x, y, w, h)."""
    scene = index // 60
    rng = np.random.default_rng(scene)
    image = background(scene, width, height, seed=scene)
    n = faces if faces is not None else 1 + scene % 3
    boxes = []
    for k in range(n):
        size = int(rng.integers(90, 150))
        slot_w = width // n
        x0 = k * slot_w + int(rng.integers(0, max(1, slot_w - size)))
        y0 = int(rng.integers(20, height - size - 20))
        t = index % 60
        dx = int(round(20 * np.sin(t / 9 + k)))
        dy = int(round(10 * np.cos(t / 11 + k)))
        x = int(np.clip(x0 + dx, 0, width - size))
        y = int(np.clip(y0 + dy, 0, height - size))
        boxes.append(paste_face(image, x, y, size, MOUTHS[(scene + k) % len(MOUTHS)]))
    return image, boxes


def write_face_video(path: str | Path, frames: int, fps: float = 30.0, width: int = 640, height: int = 480,
                     faces: int | None = None, no_face_every: int = 0) -> list[list[tuple]]:
    """An mp4v video of ``face_scene`` frames; every ``no_face_every``-th frame is background only.
    Returns the true boxes per frame."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    truth = []
    for i in range(frames):
        if no_face_every and i % no_face_every == no_face_every - 1:
            image, boxes = background(i // 60, width, height, seed=i // 60), []
        else:
            image, boxes = face_scene(i, width, height, faces)
        writer.write(image)
        truth.append(boxes)
    writer.release()
    return truth


# --- a picamera2 stand-in, behaving like the library in what the adapter relies on --------------

def _yuv420_stride(width: int, pi5: bool) -> int:
    return -(-width // 64) * 64 if pi5 else width


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
    scene = staticmethod(face_scene)

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
        image, _ = type(self).scene(self.delivered)
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

