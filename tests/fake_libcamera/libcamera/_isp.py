"""The Pi's ISP as the fake camera needs it: the row stride of each output format, and writing an
image into a buffer in that format's memory layout."""

from __future__ import annotations

import cv2
import fake_camera
import numpy as np

PROCESSED = ("YUV420", "YVU420", "RGB888", "BGR888", "XRGB8888", "XBGR8888")
BYTES_PER_PIXEL = {"RGB888": 3, "BGR888": 3, "XRGB8888": 4, "XBGR8888": 4}


def _align(n: int, a: int) -> int:
    return -(-n // a) * a


def stride(fmt: str, width: int) -> int:
    pi5 = fake_camera.SENSOR.switches.platform == "pisp"
    row_align = 64 if pi5 else 32
    if fmt in ("YUV420", "YVU420"):  # Pi 5: chroma rows (half a luma row) 64-byte aligned; Pi 4: luma rows 32
        return 2 * _align(width // 2, 64) if pi5 else _align(width, 32)
    if fmt in BYTES_PER_PIXEL:
        return _align(width * BYTES_PER_PIXEL[fmt], row_align)
    return _align(width * 5 // 4, row_align)  # 10-bit CSI-2 packed raw


def frame_size(fmt: str, width: int, height: int, stride: int) -> int:
    return stride * height * 3 // 2 if fmt in ("YUV420", "YVU420") else stride * height


def render(image: np.ndarray, fmt: str, size, stride: int, out: np.ndarray) -> None:
    """Write the BGR ``image``, scaled to ``size``, into ``out`` as the ISP lays out ``fmt`` rows."""
    w, h = size
    if fmt not in PROCESSED:
        return  # raw Bayer data: nothing here reads it
    img = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA) if image.shape[:2] != (h, w) else image
    if fmt in ("YUV420", "YVU420"):
        i420 = cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420)
        u = i420[h:h + h // 4].reshape(h // 2, w // 2)
        v = i420[h + h // 4:].reshape(h // 2, w // 2)
        if fmt == "YVU420":
            u, v = v, u
        out[:] = 16  # row padding: never image data
        out[:stride * h].reshape(h, stride)[:, :w] = i420[:h]
        chroma = stride // 2
        half = chroma * (h // 2)
        out[stride * h:stride * h + half].reshape(h // 2, chroma)[:, :w // 2] = u
        out[stride * h + half:stride * h + 2 * half].reshape(h // 2, chroma)[:, :w // 2] = v
        return
    pixels = {"RGB888": lambda: img, "BGR888": lambda: img[:, :, ::-1],  # RGB888 is B,G,R in memory
              "XRGB8888": lambda: cv2.cvtColor(img, cv2.COLOR_BGR2BGRA),  # B,G,R,X
              "XBGR8888": lambda: cv2.cvtColor(img, cv2.COLOR_BGR2RGBA)}[fmt]()  # R,G,B,X
    bpp = BYTES_PER_PIXEL[fmt]
    out[:stride * h].reshape(h, stride)[:, :w * bpp] = pixels.reshape(h, w * bpp)
