"""Integer image resizing that C computes bit for bit: the firmware pipeline's specification.

``area_resize`` resizes a uint8 grayscale image the way OpenCV's ``INTER_AREA`` means it: each output pixel
is the mean of the source area its footprint covers, every source pixel weighted by how much of it is
covered (shrinking averages many pixels, growing blends at most two). Unlike OpenCV (float weights), every
weight here is an exact integer, so the result is defined by integer arithmetic alone and the C++ of
``firmware_export``'s pipeline reproduces it exactly. Per axis, ``S`` source pixels to ``D``: output ``i``
covers ``[i*S, (i+1)*S)`` and source pixel ``j`` covers ``[j*D, (j+1)*D)``, in units of 1/D of a source
pixel; the weight is their overlap, and each output's weights sum to ``S``. Measured against
``cv2.resize(..., INTER_AREA)`` on smooth images: equal or 1 apart when both axes shrink or both grow.

The two axes combine as a product: ``out = (sum_w wy*wx*pixel + den/2) // den`` with ``den`` the product of
the two axes' sums (round half up). Separable sums in any order give the same integer. ``den * 255`` must
fit 32 bits (``MAX_SIDE`` bounds the source). NumPy only.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from edge.core.errors import UserError

#: the largest source side (pixels) whose weighted sums fit a uint32 in C: 2048 * 2048 * 255 < 2**32
MAX_SIDE = 2048


@lru_cache(maxsize=64)
def axis_weights(src: int, dst: int) -> tuple[np.ndarray, int]:
    """(read-only ``dst`` x ``src`` int64 weight matrix, the sum of every row: ``src``) for one axis (module doc)."""
    if not (isinstance(src, (int, np.integer)) and isinstance(dst, (int, np.integer)) and 1 <= src <= MAX_SIDE
            and 1 <= dst <= MAX_SIDE):
        raise ValueError(f"axis sizes must be integers in 1..{MAX_SIDE}, got {src} -> {dst}")
    w = np.zeros((dst, src), np.int64)
    for i in range(dst):  # overlap of [i*S, (i+1)*S) with [j*D, (j+1)*D), in units of 1/D of a source pixel
        lo, hi = i * src, (i + 1) * src
        for j in range(lo // dst, -(-hi // dst)):
            w[i, j] = min(hi, (j + 1) * dst) - max(lo, j * dst)
    w.setflags(write=False)  # cached: shared by every call
    return w, src


def area_resize(gray: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 (H, W) -> uint8 (height, width), by the integer rule of the module doc."""
    gray = np.asarray(gray)
    if gray.dtype != np.uint8 or gray.ndim != 2 or 0 in gray.shape:
        raise UserError(f"area_resize expects a non-empty uint8 (H, W) image, got {gray.dtype} {gray.shape}")
    if max(gray.shape) > MAX_SIDE:
        raise UserError(f"area_resize: a {gray.shape[1]}x{gray.shape[0]} image is larger than {MAX_SIDE} pixels "
                        "on a side")
    wy, den_y = axis_weights(gray.shape[0], height)
    wx, den_x = axis_weights(gray.shape[1], width)
    den = den_y * den_x
    acc = wy @ gray.astype(np.int64) @ wx.T
    return ((acc + den // 2) // den).astype(np.uint8)
