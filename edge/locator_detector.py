"""The face locator as a face detector of the live loop: ``fer-edge run --detector face_locator_int8.tflite``.

``LocatorDetector`` runs the int8 .tflite with ``edge.runtime`` (LiteRT, no TensorFlow) between the integer
steps of ``edge.locator``: downscale the gray frame into the locator's input, quantize it with the input
table, invoke, decode the raw int8 grid into boxes in frame pixels. It has the detector interface the loop
uses (``edge.detect.FaceDetector``: ``detect_faces(gray, min_face) -> (boxes, landmarks)``, ``name``, which is
the --detector value, here the file, and ``model_path``); it finds no landmarks, so faces are framed without
levelling the eyes (as with Haar). It returns the decoded boxes (square unless clipped) largest first, as every
detector does; ``locate`` gives them in decode order with their int8 scores (what the C++ pipeline returns).

Refused, one line each: a model without its locator spec, a spec that is not a locator's, a float (not full
int8) locator, a model whose tensors do not match its spec, and frames smaller than the locator's input.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from edge.core.errors import UserError
from edge.core.locator_spec import load_locator_spec_for
from edge.detect import FaceDetector
from edge.locator import DecodeParams, Located, check_frame, decode, downscale, input_table, quantize_input

log = logging.getLogger(__name__)


class LocatorDetector(FaceDetector):
    def __init__(self, model_path: str | Path, num_threads: int | None = None, delegates: bool = True,
                 label: str | None = None):
        from edge.runtime import TFLiteClassifier

        self.model_path = Path(model_path)
        self.name = str(model_path)  # the --detector value that selects it
        self.label = label or f"--detector {self.model_path}"
        if not self.model_path.is_file():
            raise UserError(f"{self.label}: no such file (expected a face locator .tflite with its .spec.json)")
        try:
            spec = load_locator_spec_for(self.model_path)
        except UserError as e:
            raise UserError(f"{self.label}: {e}") from None
        runner = TFLiteClassifier(self.model_path, None, num_threads=num_threads, delegates=delegates)
        if runner.input_quant is None or runner.output_quant is None or runner.input_dtype != np.int8:
            raise UserError(f"{self.label}: a float locator ({runner.input_dtype} input); the live loop and the "
                            "firmware run the full-int8 one: quantize it with 'fer-edge quantize RUN_DIR'")
        if runner.input_shape[1:] != spec.input_shape or tuple(runner.interpreter.get_output_details()[0]["shape"][1:]) \
                != spec.output_shape:
            raise UserError(f"{self.label}: model tensors {runner.input_shape[1:]} -> "
                            f"{tuple(runner.interpreter.get_output_details()[0]['shape'][1:])} do not match its spec "
                            f"({spec.input_shape} -> {spec.output_shape})")
        if spec.input_quant != runner.input_quant or spec.output_quant != runner.output_quant:
            raise UserError(f"{self.label}: the spec's int8 quantization ({spec.input_quant}, {spec.output_quant}) "
                            f"is not the model's ({runner.input_quant}, {runner.output_quant})")
        self.spec, self.runner = spec, runner
        self.params = DecodeParams.from_spec(spec)
        self.table = input_table(spec)
        self._small = np.empty((spec.input_height, spec.input_width), np.uint8)
        log.info("face locator %s: %dx%d input, %dx%d grid, score >= %d (int8), %s", self.model_path,
                 spec.input_width, spec.input_height, self.params.grid_cols, self.params.grid_rows,
                 self.params.score_min, runner.backend)

    def raw(self, gray: np.ndarray) -> np.ndarray:
        """The model's raw int8 (rows, cols, 5) output for a gray frame (steps 1-3 of ``edge.locator``)."""
        try:
            check_frame(gray, self.spec.input_width, self.spec.input_height)
        except UserError as e:
            raise UserError(f"{self.label}: {e}") from None
        small = downscale(gray, self.spec.input_width, self.spec.input_height, out=self._small)
        return self.runner.invoke_raw(quantize_input(small, self.table))[0]

    def locate(self, gray: np.ndarray) -> Located:
        return decode(self.raw(gray), self.params, gray.shape[1], gray.shape[0])

    def detect_faces(self, gray: np.ndarray, min_face: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Faces at least ``min_face`` pixels wide, largest first (ties in decode order); no landmarks."""
        boxes = self.locate(gray).boxes
        if min_face:
            boxes = boxes[boxes[:, 2] >= min_face]
        return boxes[np.argsort(-(boxes[:, 2].astype(np.int64) * boxes[:, 3]), kind="stable")], None

