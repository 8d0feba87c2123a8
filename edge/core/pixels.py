"""Pixel -> model input integer: the one rule of every runtime, and the C that firmware compiles from it.

A pixel ``p`` (0..255) of the resized grayscale crop becomes the model's integer input as the exported
``<name>_quantize_pixel`` computes it in C, step by step in ``float`` (IEEE single precision)::

    x = (float)p * PIXEL_SCALE + PIXEL_OFFSET     (what preprocess.normalize gives the float model)
    r = x / INPUT_SCALE
    q = (long)(r >= 0 ? r + 0.5f : r - 0.5f) + INPUT_ZERO_POINT, clamped to the integer type

that is, rounding half away from zero after float32 arithmetic (``r + 0.5f`` itself rounds). The Python
below is that computation in NumPy float32, so the Pi (LiteRT) and a microcontroller (TFLM) feed the same
bytes; ``tests/test_pixels.py`` compiles :func:`c_quantize_pixel` and compares all 256 pixels byte for byte.

The C is bit-exact with this module when the compiler does not fuse ``p * PIXEL_SCALE + PIXEL_OFFSET`` into
one multiply-add (a core with an FPU and ``-ffp-contract=fast``, GCC's default); with ``PIXEL_OFFSET`` 0
fusing changes nothing, otherwise build the firmware with ``-ffp-contract=off``.
"""

from __future__ import annotations

import math

import numpy as np

from edge.core.spec import Quant


def quantize(x: np.ndarray, quant: Quant, dtype: np.dtype | type = np.int8) -> np.ndarray:
    """float32 model input (``normalize``'s ``p * pixel_scale + pixel_offset``) -> ``dtype`` integers, as the C:
    ``r = x / scale`` in float32, ``trunc(r +- 0.5f)`` (half away from zero), ``+ zero_point``, clamped."""
    info = np.iinfo(dtype)
    r = np.asarray(x, dtype=np.float32) / np.float32(quant.scale)
    rounded = np.trunc(r + np.where(r >= 0, np.float32(0.5), np.float32(-0.5)))
    q = rounded.astype(np.float64) + quant.zero_point  # integers held exactly; clamped before the cast
    return np.clip(q, info.min, info.max).astype(dtype)


def quantize_pixel(pixels: np.ndarray, pixel_scale: float, pixel_offset: float, quant: Quant,
                   dtype: np.dtype | type = np.int8) -> np.ndarray:
    """uint8 pixels -> the model's integer inputs, exactly as ``<name>_quantize_pixel`` in C (module doc)."""
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        raise ValueError(f"quantize_pixel expects uint8 pixels, got {pixels.dtype}")
    x = pixels.astype(np.float32) * np.float32(pixel_scale) + np.float32(pixel_offset)
    return quantize(x, quant, dtype)


def c_float(value: float) -> str:
    """A C ``float`` literal of ``np.float32(value)``: the same single-precision number the Python uses (9
    significant digits round-trip any float32, so the compiler reads back exactly that value). Finite only: C
    has no literal for nan or inf."""
    if not math.isfinite(value) or not math.isfinite(float(np.float32(value))):
        raise ValueError(f"{value!r} has no C float literal")
    text = f"{float(np.float32(value)):.9g}"
    if not any(c in text for c in ".en"):
        text += ".0"
    return f"{text}f"


def c_quantize_pixel(name: str, prefix: str) -> str:
    """The C of :func:`quantize_pixel` as ``static inline signed char <name>_quantize_pixel(unsigned char)``,
    reading the macros ``<prefix>_PIXEL_SCALE``, ``_PIXEL_OFFSET``, ``_INPUT_SCALE`` and ``_INPUT_ZERO_POINT``
    (int8 input), written as :func:`c_float` literals."""
    return f"""static inline signed char {name}_quantize_pixel(unsigned char pixel) {{
  const float r = ((float)pixel * {prefix}_PIXEL_SCALE + {prefix}_PIXEL_OFFSET) / {prefix}_INPUT_SCALE;
  const long q = (long)(r >= 0.0f ? r + 0.5f : r - 0.5f) + {prefix}_INPUT_ZERO_POINT;
  return (signed char)(q < -128 ? -128 : (q > 127 ? 127 : q));
}}"""
