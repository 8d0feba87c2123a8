"""``<name>_settings.h``: every constant the firmware needs, read from the model, its spec and the arena
measurement; nothing typed by hand.

Macros (``<NAME>_INPUT_ROWS`` ...) work from C and C++; C++ code also gets the same values as
``constexpr`` in ``namespace <name>`` (``kTensorArenaSize`` ...), and both get
``<name>_quantize_pixel(p)`` (the spec's pixel scaling and the input quantization of one pixel),
``<name>_top_class(scores)`` and ``<name>_label(index)`` for the class names.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.core.pixels import c_float, c_quantize_pixel
from edge.core.spec import ModelSpec, Quant


@dataclass(frozen=True)
class Settings:
    """The numbers written into the header (also saved in DIR/export.json)."""

    rows: int
    cols: int
    channels: int
    input_quant: Quant
    output_quant: Quant
    labels: tuple[str, ...]
    pixel_scale: float
    pixel_offset: float
    interpolation: str
    arena_size: int
    arena_note: str  # how arena_size was obtained, one line


def c_string(text: str) -> str:
    """A C string literal: printable ASCII kept, everything else (UTF-8 bytes, quotes) escaped."""
    out = []
    for b in text.encode("utf-8"):
        ch = chr(b)
        out.append(f"\\{ch}" if ch in '"\\' else ch if 32 <= b < 127 and ch != "?" else f"\\{b:03o}")
    return '"' + "".join(out) + '"'


def settings_from(spec: ModelSpec, input_quant: Quant, output_quant: Quant, arena_size: int, arena_note: str) -> Settings:
    return Settings(spec.input_height, spec.input_width, spec.input_channels, input_quant, output_quant,
                    tuple(spec.labels), spec.pixel_scale, spec.pixel_offset, spec.interpolation, arena_size, arena_note)


def emit_settings_header(name: str, s: Settings, banner: str) -> str:
    N = name.upper()
    guard = f"{N}_SETTINGS_H_"
    labels = ", ".join(c_string(label) for label in s.labels)
    fma_note = ("" if s.pixel_offset == 0 else "\n// Build with -ffp-contract=off: a fused multiply-add of p * PIXEL_SCALE + "
                "PIXEL_OFFSET rounds differently.")
    return f"""{banner}
#ifndef {guard}
#define {guard}

// Input: one {s.rows}x{s.cols}x{s.channels} int8 tensor. Preprocessing, as in training: resize the grayscale
// face crop to {s.cols}x{s.rows} ('{s.interpolation}' interpolation), then for each pixel p (0..255)
//   x = p * {N}_PIXEL_SCALE + {N}_PIXEL_OFFSET
//   q = round(x / {N}_INPUT_SCALE) + {N}_INPUT_ZERO_POINT, clamped to -128..127
// in float arithmetic, rounding half away from zero: {name}_quantize_pixel below, the same computation as
// fer-edge's Python (edge.core.pixels.quantize_pixel) on a Pi.{fma_note}
#define {N}_INPUT_ROWS {s.rows}
#define {N}_INPUT_COLS {s.cols}
#define {N}_INPUT_CHANNELS {s.channels}
#define {N}_PIXEL_SCALE {c_float(s.pixel_scale)}
#define {N}_PIXEL_OFFSET {c_float(s.pixel_offset)}
#define {N}_INPUT_SCALE {c_float(s.input_quant.scale)}
#define {N}_INPUT_ZERO_POINT ({s.input_quant.zero_point})

// Output: {len(s.labels)} int8 class scores; score = (q - {N}_OUTPUT_ZERO_POINT) * {N}_OUTPUT_SCALE.
#define {N}_NUM_CLASSES {len(s.labels)}
#define {N}_OUTPUT_SCALE {c_float(s.output_quant.scale)}
#define {N}_OUTPUT_ZERO_POINT ({s.output_quant.zero_point})

// Recommended tensor arena in bytes: {s.arena_note}
#define {N}_TENSOR_ARENA_SIZE {s.arena_size}

// One pixel (0..255) of the resized grayscale crop -> the model's int8 input value.
{c_quantize_pixel(name, N)}

// Index of the highest of the {N}_NUM_CLASSES int8 output scores (the first one on a tie).
static inline int {name}_top_class(const signed char* scores) {{
  int best = 0;
  int i;
  for (i = 1; i < {N}_NUM_CLASSES; ++i) {{
    if (scores[i] > scores[best]) best = i;
  }}
  return best;
}}

// Class name of output index 0..{N}_NUM_CLASSES-1 ("?" outside that range).
static inline const char* {name}_label(int index) {{
  static const char* const kLabels[{N}_NUM_CLASSES] = {{{labels}}};
  return (index >= 0 && index < {N}_NUM_CLASSES) ? kLabels[index] : "?";
}}

#ifdef __cplusplus
namespace {name} {{
constexpr int kNumRows = {N}_INPUT_ROWS;
constexpr int kNumCols = {N}_INPUT_COLS;
constexpr int kNumChannels = {N}_INPUT_CHANNELS;
constexpr int kNumClasses = {N}_NUM_CLASSES;
constexpr float kInputScale = {N}_INPUT_SCALE;
constexpr int kInputZeroPoint = {N}_INPUT_ZERO_POINT;
constexpr float kOutputScale = {N}_OUTPUT_SCALE;
constexpr int kOutputZeroPoint = {N}_OUTPUT_ZERO_POINT;
constexpr int kTensorArenaSize = {N}_TENSOR_ARENA_SIZE;
}}  // namespace {name}
#endif

#endif  // {guard}
"""
