"""One pixel quantization (``edge.core.pixels``): the C that the firmware header carries gives, byte for byte,
what the Python gives (the Pi's LiteRT path included), over all 256 pixels and several scales and zero points,
ties and float32 rounding corner cases among them."""

from __future__ import annotations

import subprocess
from dataclasses import replace

import numpy as np
import pytest
from conftest import require_tool

from edge.core.pixels import c_float, quantize, quantize_pixel
from edge.core.preprocess import normalize
from edge.core.spec import DEFAULT_SPEC, Quant
from firmware_export.settings import Settings, emit_settings_header

_rng = np.random.default_rng(38)
#: (pixel_scale, pixel_offset, input scale, input zero point)
CASES = [
    (1 / 255, 0.0, float(np.float32(1 / 255)), -128),  # the shipped models
    (1.0, 0.0, 2.0, 0),  # r = p / 2: a tie on every odd pixel, clamped above 255
    (1.0, -127.5, 1.0, 0),  # a tie on every pixel, half of them negative
    (2 / 255, -1.0, float(np.float32(2 / 255)), 0),  # [-1, 1] inputs
    (1 / 127.5, -1.0, 0.0078125, 3),
    (1.0, float(np.nextafter(np.float32(0.5), np.float32(0))), 1.0, -5),  # r + 0.5f rounds up to 1 at p = 0
    (1 / 255, 0.0, 0.5 / 255, -128),  # half steps: a tie on every pixel, the upper half clamped
    *[(float(_rng.uniform(1e-3, 2e-2)), float(_rng.uniform(-1, 1)), float(_rng.uniform(1e-3, 5e-2)),
       int(_rng.integers(-128, 128))) for _ in range(4)],
]
ALL_PIXELS = np.arange(256, dtype=np.uint8)


def _settings(pixel_scale, pixel_offset, scale, zero_point) -> Settings:
    return Settings(48, 48, 1, Quant(scale, zero_point), Quant(1 / 256, -128), DEFAULT_SPEC.labels,
                    pixel_scale, pixel_offset, "area", 4096, "test")


def test_the_emitted_c_equals_quantize_pixel_byte_for_byte(tmp_path):
    gcc = require_tool("gcc")
    calls = []
    for i, case in enumerate(CASES):
        (tmp_path / f"q{i}_settings.h").write_text(emit_settings_header(f"q{i}", _settings(*case), "// test"))
        calls.append(f'  for (i = 0; i < 256; ++i) putchar((unsigned char)q{i}_quantize_pixel((unsigned char)i));')
    includes = "\n".join(f'#include "q{i}_settings.h"' for i in range(len(CASES)))
    (tmp_path / "probe.c").write_text(f"#include <stdio.h>\n{includes}\nint main(void) {{\n  int i;\n"
                                      + "\n".join(calls) + "\n  return 0;\n}\n")
    # -ffp-contract=off: what the header asks for when PIXEL_OFFSET is not 0 (no fused multiply-add)
    subprocess.run([gcc, "-std=c99", "-O2", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror", "-pedantic",
                    "-I", str(tmp_path), str(tmp_path / "probe.c"), "-o", str(tmp_path / "probe")], check=True)
    out = subprocess.run([str(tmp_path / "probe")], capture_output=True, check=True).stdout
    assert len(out) == 256 * len(CASES)
    for i, (pixel_scale, pixel_offset, scale, zp) in enumerate(CASES):
        c = np.frombuffer(out[256 * i:256 * (i + 1)], np.int8)
        py = quantize_pixel(ALL_PIXELS, pixel_scale, pixel_offset, Quant(scale, zp))
        assert py.tobytes() == c.tobytes(), f"case {i} {CASES[i]}: pixels {np.flatnonzero(py != c).tolist()} differ"


def test_rounding_is_half_away_from_zero_not_half_to_even():
    # r = p / 2: 1 -> 0.5 -> 1, 3 -> 1.5 -> 2, 5 -> 2.5 -> 3 (NumPy's np.round gives 0, 2, 2)
    assert quantize_pixel(np.array([1, 3, 5], np.uint8), 1.0, 0.0, Quant(2.0, 0)).tolist() == [1, 2, 3]
    # r = p - 127.5: 0 -> -127.5 -> -128, 1 -> -126.5 -> -127, 255 -> 127.5 -> 128 clamped to 127
    assert quantize_pixel(np.array([0, 1, 255], np.uint8), 1.0, -127.5, Quant(1.0, 0)).tolist() == [-128, -127, 127]


def test_r_plus_a_half_rounds_in_float32_as_the_c_does():
    below_half = float(np.nextafter(np.float32(0.5), np.float32(0)))
    # 0.49999997f + 0.5f is 1.0f in single precision, so the C gives 1 where exact rounding gives 0
    assert quantize(np.array([below_half], np.float32), Quant(1.0, 0)).tolist() == [1]


@pytest.mark.parametrize("case", CASES)
def test_the_pi_path_normalize_then_quantize_is_quantize_pixel(case):
    pixel_scale, pixel_offset, scale, zp = case
    spec = replace(DEFAULT_SPEC, pixel_scale=pixel_scale, pixel_offset=pixel_offset)
    pi = quantize(normalize(ALL_PIXELS, spec).reshape(-1), Quant(scale, zp))
    assert pi.tobytes() == quantize_pixel(ALL_PIXELS, pixel_scale, pixel_offset, Quant(scale, zp)).tobytes()


def test_uint8_inputs_clamp_to_0_255():
    assert quantize(np.array([-3.0, 0.5, 300.0], np.float32), Quant(1.0, 0), np.uint8).tolist() == [0, 1, 255]


def test_c_float_literals_are_the_float32_the_python_uses():
    for value in (1 / 255, 2 / 255, 0.1, -1.0, 0.0, 3e-9, *(v for case in CASES for v in case[:3])):
        assert np.float32(c_float(value)[:-1]) == np.float32(value)
    assert c_float(0.0) == "0.0f" and c_float(2.0) == "2.0f"
