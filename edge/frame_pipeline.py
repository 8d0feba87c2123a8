"""From a grayscale camera frame to expressions, as the microcontroller computes it: the specification.

``fer-edge export-firmware --locator`` emits a C++ ``process_frame`` that does, on the chip, what
``process_frame`` here does; the firmware tests and ``--verify-tflm --parity-video`` require the two to give
the same boxes and bit-identical int8 scores on every frame. So every step below is written the way the C++
computes it, in integers wherever the C++ uses integers:

1. ``FramePipeline.locator_input``: the frame shrunk to the locator's input by ``edge.core.area_resize`` (exact integer
   area weights), each pixel mapped to the locator's int8 input by ``quantize_pixel`` (through a 256-entry
   table, which is what the C++ holds);
2. the locator runs (any callable int8 tensor -> int8 output: tflite-micro's interpreter for parity, LiteRT
   on a Pi) and ``edge.locator`` decodes its grid into square boxes in the frame's pixels, in integers;
3. ``face_crop_box``: each box framed as the expression model's spec says, by the functions the live loop
   frames YuNet's and Haar's boxes with (``edge.detect.square``, ``edge.core.preprocess.framed_box``; the
   locator gives no landmarks, so the eyes are not levelled): the square of side max(w, h) around the box's
   centre, grown by the spec's margin, rounded to whole pixels (ties to even, Python's ``round``), clipped;
4. ``FramePipeline.face_input``: that rectangle of the FULL-resolution frame shrunk (or grown) to the model's input by the
   same integer area resize and quantized by the model's table; the classifier runs on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge.core.area_resize import area_resize
from edge.core.errors import UserError
from edge.core.locator_spec import LocatorSpec
from edge.core.pixels import quantize_pixel
from edge.core.preprocess import framed_box
from edge.core.spec import Framing, ModelSpec, Quant
from edge.detect import square
from edge.locator import DecodeParams, Located, decode, downscale, input_table, quantize_input

#: int8 tensor in, int8 output out (flattened or shaped as the model's)
Runner = Callable[[np.ndarray], np.ndarray]


def quantize_table(pixel_scale: float, pixel_offset: float, quant: Quant) -> np.ndarray:
    """The 256 int8 inputs of pixels 0..255: the C++ pipeline's lookup table of ``quantize_pixel``."""
    return quantize_pixel(np.arange(256, dtype=np.uint8), pixel_scale, pixel_offset, quant)


def face_crop_box(box, framing: Framing, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) the expression model sees of the face ``box`` (x, y, w, h, integers) in a frame of
    ``shape``: squared, grown by ``framing.margin``, rounded and clipped (module doc, step 3); None if empty."""
    squared = square(np.asarray([box[:4]], np.float64))[0]
    got, _ = framed_box(squared, framing.margin, shape)
    return got


def face_pixels(gray: np.ndarray, crop: tuple[int, int, int, int], spec: ModelSpec) -> np.ndarray:
    """The uint8 (rows, cols) model-sized image of the ``crop`` rectangle of ``gray`` (integer area resize)."""
    x0, y0, x1, y1 = crop
    return area_resize(gray[y0:y1, x0:x1], spec.input_width, spec.input_height)


def check_pipeline_spec(spec: ModelSpec, source: str = "the expression model") -> None:
    """The pipeline resizes with integer area weights and feeds one grayscale channel of int8."""
    if spec.interpolation != "area":
        raise UserError(f"{source}: its spec resizes faces with {spec.interpolation!r} interpolation; the firmware "
                        "pipeline computes 'area' (edge.core.area_resize) only")
    if spec.input_channels != 1:
        raise UserError(f"{source}: the firmware pipeline feeds one grayscale channel, its spec asks for "
                        f"{spec.input_channels}")
    if spec.input_quant is None or spec.output_quant is None:
        raise UserError(f"{source}: its spec records no int8 quantization (a float model?); the firmware pipeline "
                        "needs the full-int8 model 'fer-edge quantize' writes")


@dataclass(frozen=True)
class FaceResult:
    box: tuple[int, int, int, int]  # the locator's face, x, y, w, h in frame pixels
    crop: tuple[int, int, int, int]  # x0, y0, x1, y1: what the expression model saw
    face_score: int  # the locator's int8 score
    scores: np.ndarray  # the classifier's int8 outputs

    @property
    def label(self) -> int:
        """The first index of the highest int8 score (as the C++ ``top_class``)."""
        return int(np.argmax(self.scores))


class FramePipeline:
    """``process_frame`` of the firmware in Python: a gray frame -> [FaceResult], in the locator's order.

    ``locate`` and ``classify`` run the two int8 models (tflite-micro's interpreter to compare with the
    firmware bit for bit, LiteRT on a Pi); they take the int8 input tensor and return the int8 output."""

    def __init__(self, locator_spec: LocatorSpec, spec: ModelSpec, locate: Runner, classify: Runner,
                 source: str = "the expression model"):
        check_pipeline_spec(spec, source)
        self.locator_spec, self.spec = locator_spec, spec
        self.params = DecodeParams.from_spec(locator_spec)
        self.locator_table = input_table(locator_spec)
        self.face_table = quantize_table(spec.pixel_scale, spec.pixel_offset, spec.input_quant)
        self.locate, self.classify = locate, classify

    def locator_input(self, gray: np.ndarray) -> np.ndarray:
        """Step 1: the int8 (1, h, w, 1) locator input of a frame (refuses a frame smaller than it)."""
        s = self.locator_spec
        return quantize_input(downscale(gray, s.input_width, s.input_height), self.locator_table)

    def faces(self, gray: np.ndarray) -> Located:
        """Steps 1-2: the faces the locator finds in ``gray``."""
        raw = np.asarray(self.locate(self.locator_input(gray)), np.int8)
        p = self.params
        return decode(raw.reshape(p.grid_rows, p.grid_cols, 5), p, gray.shape[1], gray.shape[0])

    def face_input(self, gray: np.ndarray, crop: tuple[int, int, int, int]) -> np.ndarray:
        """Step 4's input: the int8 (1, rows, cols, 1) tensor of the ``crop`` rectangle of ``gray``."""
        return self.face_table[face_pixels(gray, crop, self.spec)][None, :, :, None]

    def __call__(self, gray: np.ndarray) -> list[FaceResult]:
        found = self.faces(gray)
        results = []
        for box, face_score in zip(found.boxes, found.scores):
            crop = face_crop_box(box, self.spec.face_framing, gray.shape)
            if crop is None:  # nothing of the framed square inside the frame: the C++ skips it too
                continue
            scores = np.asarray(self.classify(self.face_input(gray, crop)), np.int8).reshape(-1)
            results.append(FaceResult(tuple(int(v) for v in box), crop, int(face_score), scores))
        return results
