"""The pipeline's image arithmetic in C++ (``fer_image.h``) against its Python specification, byte for byte.

``edge.core.area_resize`` (integer area resize) and ``edge.frame_pipeline.face_crop_box`` (the expression
model's framing) are the specification; the C++ header the export ships is compiled here with the host's
g++ (skipped without one) and must give the same crop rectangles and the same pixels.
"""

from __future__ import annotations

import shutil
import subprocess
from importlib import resources

import cv2
import numpy as np
import pytest

from edge.core.area_resize import area_resize, axis_weights
from edge.core.spec import Framing, ModelSpec
from edge.frame_pipeline import face_crop_box, face_pixels

DRIVER = r"""
#include <cstdio>
#include <cstdint>
#include <vector>
#include "fer_image.h"
// stdin: W H, W*H pixels, then lines "x y w h margin dw dh"; stdout per line: "ok x0 y0 x1 y1" + dw*dh bytes
int main() {
  int W, H;
  if (std::fread(&W, 4, 1, stdin) != 1 || std::fread(&H, 4, 1, stdin) != 1) return 1;
  std::vector<uint8_t> frame(W * H);
  if (std::fread(frame.data(), 1, frame.size(), stdin) != frame.size()) return 1;
  uint8_t identity[256];
  for (int i = 0; i < 256; ++i) identity[i] = static_cast<uint8_t>(i);
  int box[4], size[2];
  double margin;
  while (std::fread(box, 4, 4, stdin) == 4 && std::fread(&margin, 8, 1, stdin) == 1 &&
         std::fread(size, 4, 2, stdin) == 2) {
    fer_image::Box b{0, 0, 0, 0};
    const int ok = fer_image::FaceCropBox(box[0], box[1], box[2], box[3], margin, W, H, &b) ? 1 : 0;
    const int head[5] = {ok, b.x0, b.y0, b.x1, b.y1};
    std::fwrite(head, 4, 5, stdout);
    if (!ok) continue;
    std::vector<uint8_t> out(size[0] * size[1]);
    std::vector<fer_image::Tap> taps(size[0]);
    std::vector<uint32_t> acc(size[0]);
    fer_image::AreaResize<uint8_t>(frame.data() + b.y0 * W + b.x0, W, b.x1 - b.x0, b.y1 - b.y0, size[0], size[1],
                                   identity, out.data(), taps.data(), acc.data());
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  return 0;
}
"""


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ not installed (apt-get install g++)")
    work = tmp_path_factory.mktemp("fer_image")
    header = resources.files("firmware_export").joinpath("templates", "fer_image.h").read_text(encoding="utf-8")
    (work / "fer_image.h").write_text(header, encoding="utf-8")
    (work / "driver.cc").write_text(DRIVER, encoding="utf-8")
    subprocess.run([gxx, "-std=c++11", "-O2", "-Wall", "-Werror", f"-I{work}", str(work / "driver.cc"), "-o",
                    str(work / "driver")], check=True)
    return work / "driver"


def run_driver(driver, frame: np.ndarray, jobs: list[tuple]) -> list[tuple]:
    """[(box, margin, (dw, dh))] through the C++ -> [(crop or None, pixels or None)]."""
    blob = np.array(frame.shape[::-1], np.int32).tobytes() + frame.tobytes()
    for box, margin, size in jobs:
        blob += np.array(box, np.int32).tobytes() + np.float64(margin).tobytes() + np.array(size, np.int32).tobytes()
    out = subprocess.run([str(driver)], input=blob, capture_output=True, check=True).stdout
    results, at = [], 0
    for _, _, (dw, dh) in jobs:
        ok, *crop = np.frombuffer(out[at:at + 20], np.int32).tolist()
        at += 20
        if not ok:
            results.append((None, None))
            continue
        results.append((tuple(crop), np.frombuffer(out[at:at + dw * dh], np.uint8).reshape(dh, dw)))
        at += dw * dh
    assert at == len(out)
    return results


def camera_frame(rng, width: int, height: int) -> np.ndarray:
    """A frame with structure at every scale (smoothed noise plus edges), uint8."""
    frame = cv2.GaussianBlur(rng.integers(0, 256, (height, width), dtype=np.uint8), (0, 0), 2.0)
    cv2.rectangle(frame, (width // 5, height // 4), (width // 2, height // 2), 250, -1)
    cv2.circle(frame, (2 * width // 3, height // 2), height // 5, 10, -1)
    return frame


def test_axis_weights_are_overlaps_summing_to_the_source_size():
    w, den = axis_weights(5, 3)  # outputs cover [0,5) [5,10) [10,15) in thirds of a source pixel
    assert den == 5 and w.tolist() == [[3, 2, 0, 0, 0], [0, 1, 3, 1, 0], [0, 0, 0, 2, 3]]
    w, den = axis_weights(2, 4)  # growing: each output covers half a source pixel
    assert den == 2 and w.tolist() == [[2, 0], [2, 0], [0, 2], [0, 2]]
    for src, dst in ((320, 96), (37, 48), (48, 48), (7, 48)):
        w, den = axis_weights(src, dst)
        assert (w.sum(axis=1) == den).all() and den == src


def test_area_resize_rounds_half_up_and_stays_within_one_of_opencv():
    assert area_resize(np.array([[1, 2]], np.uint8), 1, 1).tolist() == [[2]]  # 1.5 -> 2
    assert area_resize(np.array([[0, 0, 1]], np.uint8), 1, 1).tolist() == [[0]]  # 1/3 -> 0
    rng = np.random.default_rng(1)
    for (h, w), (dh, dw) in (((240, 320), (72, 96)), ((120, 160), (72, 96)), ((100, 100), (48, 48)),
                             ((30, 30), (48, 48))):
        frame = camera_frame(rng, w, h)
        ours = area_resize(frame, dw, dh).astype(int)
        theirs = cv2.resize(frame, (dw, dh), interpolation=cv2.INTER_AREA).astype(int)
        assert np.abs(ours - theirs).max() <= 1


def test_face_crop_box_squares_grows_rounds_and_clips():
    framing = Framing(margin=-0.05, align=True)
    # 40x50 box: square of side 50 centred at (30, 45): x 5..55; shrunk by 2.5 -> 7.5..52.5 -> 8, 52 (ties to even)
    assert face_crop_box((10, 20, 40, 50), framing, (120, 160)) == (8, 22, 52, 68)
    assert face_crop_box((150, 100, 40, 40), Framing(margin=0.25), (120, 160)) == (140, 90, 160, 120)
    assert face_crop_box((170, 10, 20, 20), Framing(margin=0.0), (120, 160)) is None


@pytest.mark.parametrize("width, height", [(160, 120), (320, 240), (176, 144)])
def test_the_cpp_crop_equals_the_python_crop_pixel_for_pixel(driver, width, height):
    rng = np.random.default_rng(width)
    frame = camera_frame(rng, width, height)
    spec = ModelSpec()
    jobs = []
    for margin in (-0.05, 0.0, 0.2, -0.25, 1.5):
        for _ in range(40):
            w = int(rng.integers(2, height))
            h = int(rng.integers(2, height))
            x = int(rng.integers(-w // 2, width))
            y = int(rng.integers(-h // 2, height))
            jobs.append(((x, y, w, h), margin, (spec.input_width, spec.input_height)))
    # rounding ties (x.5 edges) and the locator's input size
    jobs += [((10, 20, 40, 50), -0.05, (48, 48)), ((0, 0, width, height), 0.0, (96, 72)),
             ((3, 3, 10, 10), -0.05, (48, 48)), ((1, 1, 21, 20), -0.05, (48, 48))]
    got = run_driver(driver, frame, jobs)
    seen = 0
    for (box, margin, (dw, dh)), (crop, pixels) in zip(jobs, got):
        expected = face_crop_box(box, Framing(margin=margin), frame.shape)
        assert crop == expected, (box, margin)
        if expected is not None:
            seen += 1
            assert np.array_equal(pixels, face_pixels(frame, expected, ModelSpec(input_width=dw, input_height=dh)))
    assert seen > 150
