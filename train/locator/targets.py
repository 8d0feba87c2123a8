"""Face boxes -> the grid the locator learns: a centre heatmap, and offsets and sizes at the centre cells.

Per frame, an array (rows, cols, 7): ``heat`` (1 at a face's centre cell, a Gaussian of the distance in cells
around it, sigma = max(0.5, 0.15 * face size in cells); the largest value where faces meet), ``weight`` (0 where
a face too small to learn, under ``MIN_FACE`` of the frame height, lies: neither face nor background there,
else 1), ``reg`` (1 at centre cells), then the targets of the four box channels at the centre cells: the
centre's offset inside its cell (x, y in cells, 0..1) and the box size (w, h in cells). When two faces share
a centre cell, the larger one is its target. Boxes are in input pixels.
"""

from __future__ import annotations

import numpy as np

HEAT, WEIGHT, REG = 0, 1, 2
CHANNELS = 7
#: faces smaller than this share of the frame height are not learnt (nor punished)
MIN_FACE = 0.09


def encode(boxes: np.ndarray, input_width: int, input_height: int, stride: int) -> np.ndarray:
    """float32 (rows, cols, 7) targets of boxes (N, 4) x, y, w, h in input pixels."""
    rows, cols = input_height // stride, input_width // stride
    out = np.zeros((rows, cols, CHANNELS), np.float32)
    out[:, :, WEIGHT] = 1.0
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    rr, cc = np.mgrid[0:rows, 0:cols]
    for x, y, w, h in sorted(boxes.tolist(), key=lambda b: b[2] * b[3]):  # larger faces last: they win a cell
        if w <= 0 or h <= 0:
            continue
        cx, cy = (x + w / 2) / stride, (y + h / 2) / stride
        c, r = min(int(cx), cols - 1), min(int(cy), rows - 1)
        if h < MIN_FACE * input_height:
            out[max(0, r - 1):r + 2, max(0, c - 1):c + 2, WEIGHT] = 0.0
            continue
        sigma = max(0.5, 0.15 * max(w, h) / stride)
        heat = np.exp(-((rr - r) ** 2 + (cc - c) ** 2) / (2 * sigma * sigma))
        out[:, :, HEAT] = np.maximum(out[:, :, HEAT], heat)
        out[r, c, HEAT] = 1.0
        out[r, c, REG] = 1.0
        out[r, c, 3:] = (min(max(cx - c, 0.0), 0.999), min(max(cy - r, 0.0), 0.999), w / stride, h / stride)
    return out


def frame_to_input(faces: np.ndarray, frame_size: tuple[int, int], input_width: int, input_height: int) -> np.ndarray:
    """Boxes in frame pixels -> input pixels (the downscale stretches the frame onto the input)."""
    fw, fh = frame_size
    b = np.asarray(faces, np.float64).reshape(-1, 4)
    return b * np.array([input_width / fw, input_height / fh, input_width / fw, input_height / fh])
