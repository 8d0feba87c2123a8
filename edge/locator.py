"""The face locator's pixels-to-boxes path in integer arithmetic: the specification the C++ pipeline reproduces.

Everything here is integer arithmetic on uint8 pixels and the raw int8 outputs, with the rounding written
out, so that a C++ port computes the same bytes (one algorithm in two languages, the Python one the
specification). The constants come from the locator's spec (``edge.core.locator_spec.LocatorSpec``) once,
in ``DecodeParams.from_spec`` (Python, float64); a port takes them from ``DecodeParams.to_dict()`` (and the
input table from ``input_table``) instead of recomputing them. Division ``//`` is floor division of
non-negative integers (C's ``/`` on unsigned values); ``>>`` is applied to non-negative values only.

1. Downscale (``downscale``): a W x H uint8 gray frame (W >= w, H >= h; the frame is stretched to the input,
   no crop, no padding) -> the w x h locator input by ``edge.core.area_resize.area_resize``, the integer area
   resize the pipeline also cuts faces with: each output pixel weighs the frame pixels its footprint covers
   by the exact integer overlap, ``out = (S + n // 2) // n`` with ``S`` the weighted sum and ``n = W * H``.
2. Input quantization (``input_table``): ``q_in = T[pixel]``, a 256-entry int8 table of
   ``edge.core.pixels.quantize_pixel`` (the one pixel rule of every runtime: float32, half away from zero)
   with the spec's pixel scale and offset and input quantization. For the shipped locator (pixel_scale 1/255,
   s_in 1/255, z_in -128) it is ``T[p] = p - 128``.
3. The model: int8 (1, h, w, 1) -> int8 (1, h / stride, w / stride, 5) raw outputs ``q``, channels in the order
   ``score, offset_x, offset_y, width, height`` (``edge.core.locator_spec.CHANNELS``), one output scale
   ``s`` and zero point ``z`` for all five.
4. Peaks (``decode``): cell (r, c) is a face centre when ``q_score >= score_min`` (``score_min`` = the least
   int8 value whose dequantized logit ``(q - z) * s`` has ``sigmoid >= score_threshold``) and it is a local
   maximum of ``q_score`` over its (up to) 8 neighbours inside the grid: strictly greater than a neighbour
   that comes earlier in raster order (row, then column), greater or equal to one that comes later; so of
   a plateau of equal scores the first cell in raster order is the peak.
5. Box of a peak, in 1/16 of an input pixel: ``v(q) = (max(q - z, 0) * K + 32768) >> 16`` with
   ``K = round(s * stride * 16 * 65536)`` (int64; channel values are in cells: ``v`` converts cells to
   1/16 px, rounding half up); ``ox = min(v(q_offset_x), 16 * stride - 1)``, ``oy`` likewise;
   ``cx = c * 16 * stride + ox``, ``cy = r * 16 * stride + oy``; ``bw = max(v(q_width), 32)``,
   ``bh = max(v(q_height), 32)``; ``x0 = cx - bw // 2``, ``x1 = x0 + bw``, ``y0 = cy - bh // 2``, ``y1 = y0 + bh``
   (may lie outside the input).
6. Order and NMS: peaks sorted by ``q_score`` descending, ties by raster index ascending. Greedy: a peak is
   kept unless its box overlaps an already kept box with ``inter * 100 > nms_pct * union`` (areas of the
   1/16-px boxes, int64; ``nms_pct = round(100 * nms_iou)``); stop when ``max_faces`` are kept.
7. To frame pixels: clamp ``x0, x1`` to ``[0, 16 * w]`` and ``y0, y1`` to ``[0, 16 * h]``; then
   ``X(a) = (a * W + 8 * w) // (16 * w)``, ``Y(a) = (a * H + 8 * h) // (16 * h)`` (round half up); the box is
   ``(X(x0), Y(y0), X(x1) - X(x0), Y(y1) - Y(y0))``, never empty (``bw >= 32`` leaves at least one input pixel
   inside the input, which is at least one frame pixel).
8. Square, as the detectors' boxes are (the faces the expression models learnt are square): with
   ``side = max(w, h)``, ``x = x - (side - w) // 2``, ``y = y - (side - h) // 2``, then clipped to the frame
   (``x0 = max(x, 0)``, ``x1 = min(x + side, W)``, likewise in y; the box is ``(x0, y0, x1 - x0, y1 - y0)``).
   Boxes come out in the order of step 6, with their ``q_score``.

``sigmoid((q_score - z) * s)`` is the face probability shown to a user (float, not part of the integer path).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from edge.core.area_resize import area_resize
from edge.core.errors import UserError
from edge.core.locator_spec import LocatorSpec
from edge.core.pixels import quantize_pixel

#: fixed-point fraction bits of the box multiplier K (step 5)
SHIFT = 16
#: box coordinates are decoded in 1/SUB of an input pixel
SUB = 16
#: the smallest decoded box side, in 1/SUB of an input pixel (2 input pixels)
MIN_SIDE = 32


def check_frame(gray: np.ndarray, width: int, height: int, what: str = "frame") -> None:
    """A 2-D uint8 frame at least ``width`` x ``height``, or a one-line UserError."""
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise UserError(f"{what}: expected a 2-D uint8 grayscale image, got {gray.dtype} {gray.shape}")
    h, w = gray.shape
    if w < width or h < height:
        raise UserError(f"{what}: {w}x{h} is smaller than the face locator's {width}x{height} input (the "
                        "locator only downscales: give it frames at least that large)")


def downscale(gray: np.ndarray, width: int, height: int, out: np.ndarray | None = None) -> np.ndarray:
    """Step 1: the uint8 ``height`` x ``width`` integer area resize of a larger (or equal) uint8 gray frame."""
    check_frame(gray, width, height)
    result = area_resize(gray, width, height)
    if out is None:
        return result
    out[...] = result
    return out


def input_table(spec: LocatorSpec) -> np.ndarray:
    """Step 2: the int8 model input of every uint8 pixel value (256 entries)."""
    if spec.input_quant is None:
        raise UserError("the face locator's spec has no input quantization (a float locator: quantize it with "
                        "'fer-edge quantize RUN_DIR')")
    return quantize_pixel(np.arange(256, dtype=np.uint8), spec.pixel_scale, spec.pixel_offset, spec.input_quant)


def quantize_input(small: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Step 2 applied: uint8 (h, w) -> int8 (1, h, w, 1)."""
    return table[small][None, :, :, None]


@dataclass(frozen=True)
class DecodeParams:
    """The integer constants of steps 4-7, derived once from the spec (what a C++ port is given)."""

    input_width: int
    input_height: int
    stride: int
    grid_rows: int
    grid_cols: int
    zero_point: int
    score_min: int
    box_mult: int
    nms_pct: int
    max_faces: int

    @classmethod
    def from_spec(cls, spec: LocatorSpec) -> DecodeParams:
        if spec.output_quant is None:
            raise UserError("the face locator's spec has no output quantization (a float locator: quantize it "
                            "with 'fer-edge quantize RUN_DIR')")
        s, z = spec.output_quant.scale, spec.output_quant.zero_point
        return cls(spec.input_width, spec.input_height, spec.stride, *spec.grid, z,
                   score_min_q(spec.score_threshold, s, z), round(s * spec.stride * SUB * (1 << SHIFT)),
                   round(100 * spec.nms_iou), spec.max_faces)

    def to_dict(self) -> dict:
        return asdict(self)


def score_min_q(threshold: float, scale: float, zero_point: int) -> int:
    """The least int8 q with ``sigmoid((q - zero_point) * scale) >= threshold`` (128 if none is)."""
    logit = math.log(threshold / (1.0 - threshold))
    q = math.ceil(logit / scale + zero_point - 1e-9)
    while q > -128 and (q - 1 - zero_point) * scale >= logit:  # float safety: the least such q
        q -= 1
    while q <= 127 and (q - zero_point) * scale < logit:
        q += 1
    return int(min(max(q, -128), 128))


def peaks(score: np.ndarray, score_min: int) -> np.ndarray:
    """Step 4: raster indices of the cells that are face centres, in raster order."""
    rows, cols = score.shape
    s = score.astype(np.int32)
    padded = np.full((rows + 2, cols + 2), -1000, np.int32)
    padded[1:-1, 1:-1] = s
    ok = s >= score_min
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr == 0 and dc == 0:
                continue
            neighbour = padded[1 + dr:1 + dr + rows, 1 + dc:1 + dc + cols]
            earlier = dr < 0 or (dr == 0 and dc < 0)
            ok &= (s > neighbour) if earlier else (s >= neighbour)
    return np.flatnonzero(ok.reshape(-1))


def _value(q: int, zero_point: int, mult: int) -> int:
    """Step 5's ``v(q)``: a channel value (in cells) in 1/16 input pixels, rounded half up."""
    return (max(q - zero_point, 0) * mult + (1 << (SHIFT - 1))) >> SHIFT


def _iou_exceeds(a, b, pct: int) -> bool:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return False
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter * 100 > pct * union


@dataclass(frozen=True)
class Located:
    """Decoded faces: int32 (N, 4) x, y, w, h in frame pixels (square unless clipped) and their int8 scores, in
    decode order;
    ``sub_boxes`` are the same faces as int64 (N, 4) x0, y0, x1, y1 in 1/16 input pixels (step 5)."""

    boxes: np.ndarray
    scores: np.ndarray
    sub_boxes: np.ndarray

    def __len__(self) -> int:
        return len(self.boxes)


def decode(raw: np.ndarray, params: DecodeParams, frame_width: int, frame_height: int) -> Located:
    """Steps 4-8: raw int8 outputs (rows, cols, 5) (or (1, rows, cols, 5)) -> faces in a frame of that size."""
    raw = np.asarray(raw)
    if raw.ndim == 4:
        raw = raw[0]
    p = params
    if raw.shape != (p.grid_rows, p.grid_cols, 5) or raw.dtype != np.int8:
        raise ValueError(f"expected int8 outputs of shape ({p.grid_rows}, {p.grid_cols}, 5), got {raw.dtype} {raw.shape}")
    q = raw.astype(np.int64)
    found = peaks(raw[:, :, 0], p.score_min)
    order = sorted(found.tolist(), key=lambda i: (-int(raw.reshape(-1, 5)[i, 0]), i))
    cell, top = SUB * p.stride, SUB * p.stride - 1
    kept: list[tuple[int, int, int, int]] = []
    scores: list[int] = []
    for i in order:
        if len(kept) >= p.max_faces:
            break
        r, c = divmod(i, p.grid_cols)
        _, qx, qy, qw, qh = (int(v) for v in q[r, c])
        cx = c * cell + min(_value(qx, p.zero_point, p.box_mult), top)
        cy = r * cell + min(_value(qy, p.zero_point, p.box_mult), top)
        bw = max(_value(qw, p.zero_point, p.box_mult), MIN_SIDE)
        bh = max(_value(qh, p.zero_point, p.box_mult), MIN_SIDE)
        box = (cx - bw // 2, cy - bh // 2, cx - bw // 2 + bw, cy - bh // 2 + bh)
        if any(_iou_exceeds(box, k, p.nms_pct) for k in kept):
            continue
        kept.append(box)
        scores.append(int(q[r, c, 0]))
    sub = np.array(kept, np.int64).reshape(-1, 4)
    boxes = square_in_frame(to_frame(sub, p, frame_width, frame_height), frame_width, frame_height)
    return Located(boxes, np.array(scores, np.int8), sub)


def to_frame(sub_boxes: np.ndarray, params: DecodeParams, frame_width: int, frame_height: int) -> np.ndarray:
    """Step 7: int64 (N, 4) x0, y0, x1, y1 in 1/16 input pixels -> int32 (N, 4) x, y, w, h in frame pixels."""
    w, h = params.input_width, params.input_height
    b = np.asarray(sub_boxes, np.int64).reshape(-1, 4)
    xs = (np.clip(b[:, 0::2], 0, SUB * w) * frame_width + SUB // 2 * w) // (SUB * w)
    ys = (np.clip(b[:, 1::2], 0, SUB * h) * frame_height + SUB // 2 * h) // (SUB * h)
    return np.stack([xs[:, 0], ys[:, 0], xs[:, 1] - xs[:, 0], ys[:, 1] - ys[:, 0]], axis=1).astype(np.int32)


def square_in_frame(boxes: np.ndarray, frame_width: int, frame_height: int) -> np.ndarray:
    """Step 8: int32 (N, 4) x, y, w, h -> the square of side max(w, h) around the same centre (integer), clipped."""
    b = np.asarray(boxes, np.int64).reshape(-1, 4)
    side = np.maximum(b[:, 2], b[:, 3])
    x, y = b[:, 0] - (side - b[:, 2]) // 2, b[:, 1] - (side - b[:, 3]) // 2
    x0, y0 = np.maximum(x, 0), np.maximum(y, 0)
    x1, y1 = np.minimum(x + side, frame_width), np.minimum(y + side, frame_height)
    return np.stack([x0, y0, x1 - x0, y1 - y0], axis=1).astype(np.int32)


def face_probability(q_score: np.ndarray | int, spec: LocatorSpec) -> np.ndarray:
    """The face probability of int8 scores (for display; not part of the integer path)."""
    s, z = spec.output_quant.scale, spec.output_quant.zero_point
    return 1.0 / (1.0 + np.exp(-(np.asarray(q_score, np.float64) - z) * s))


def quantize_output(values: np.ndarray, spec: LocatorSpec) -> np.ndarray:
    """A float locator's outputs as the int8 model's output tensor would hold them (round half to even, as
    TFLite quantizes): so a float model's boxes are decoded by the same integer path (the quantize gate)."""
    s, z = spec.output_quant.scale, spec.output_quant.zero_point
    return np.clip(np.round(np.asarray(values, np.float64) / s) + z, -128, 127).astype(np.int8)
