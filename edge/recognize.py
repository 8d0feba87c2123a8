"""One frame -> recognised faces: detect on the gray image, frame each face as the model's spec says
(margin, eyes levelled with the detector's landmarks), preprocess, one batch predict, track.

No I/O here. The interpreter is created once (``load_classifier``) and the crop buffers are reused.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.core.errors import UserError
from edge.core.preprocess import frame_face, preprocess
from edge.core.rundir import resolve_model
from edge.core.spec import ModelSpec, load_spec_for
from edge.detect import FaceDetector
from edge.timing import StageTimer
from edge.track import Tracker, iou_matrix

log = logging.getLogger(__name__)


def load_classifier(model: str | Path, threads: int | None = None):
    """(TFLiteClassifier, ModelSpec) for a model file or run dir; shapes checked against the spec."""
    from edge.runtime import TFLiteClassifier

    path = resolve_model(model)
    spec = load_spec_for(path)
    if spec.input_channels != 1:
        raise UserError(f"{path}: spec asks for {spec.input_channels}-channel input; "
                        "the edge loop feeds grayscale faces (1 channel)")
    classifier = TFLiteClassifier(path, spec, num_threads=threads)
    log.info("model %s (%s, %s input %s, %d classes)", path, classifier.backend,
             classifier.input_dtype, "x".join(map(str, spec.input_shape)), spec.num_classes)
    return classifier, spec


def time_inference(model: str | Path, threads: int | None = None, runs: int = 200) -> float:
    """Single-face predictions per second: quantize, invoke, dequantize (no detection, no preprocessing)."""
    classifier, spec = load_classifier(model, threads)
    x = np.full((1, *spec.input_shape), 0.5, np.float32)
    classifier.predict(x)  # warm-up
    start = time.perf_counter()
    for _ in range(runs):
        classifier.predict(x)
    return runs / (time.perf_counter() - start)


@dataclass
class Face:
    #: x, y, w, h in display-image pixels.
    box: tuple[int, int, int, int]
    track_id: int
    #: smoothed class probabilities, or None when running without a model.
    probs: np.ndarray | None
    labels: tuple[str, ...] = ()
    #: the gray face as the model's spec frames it (before resizing), when the Recognizer keeps crops.
    crop: np.ndarray | None = None

    @property
    def class_index(self) -> int:
        return int(np.argmax(self.probs))

    @property
    def label(self) -> str | None:
        return None if self.probs is None else self.labels[self.class_index]

    @property
    def confidence(self) -> float | None:
        return None if self.probs is None else float(self.probs[self.class_index])

    def to_json(self) -> dict:
        d = {"box": list(self.box), "track": self.track_id}
        if self.probs is not None:
            d["label"] = self.label
            d["confidence"] = round(self.confidence, 4)
            d["scores"] = {name: round(float(p), 4) for name, p in zip(self.labels, self.probs)}
        return d


class Recognizer:
    """detect -> frame -> preprocess -> predict -> track, timing each stage on ``timer``.

    Between detections (``detect_every``) faces are classified in the last detected boxes (and framed
    with the last landmarks); a face a detection misses keeps its last box for up to ``hold`` detections.
    The tracker keeps their identity and smoothed label throughout. With ``keep_crops`` each Face
    carries a copy of its framed crop (what ``fer-edge collect`` saves).
    """

    def __init__(self, detector: FaceDetector, classifier=None, spec: ModelSpec | None = None, tracker: Tracker | None = None,
                 min_face: int | None = 48, max_faces: int = 8, timer: StageTimer | None = None, detect_every: int = 1,
                 hold: int = 0, keep_crops: bool = False):
        self.detector, self.classifier, self.spec = detector, classifier, spec
        self.tracker = tracker or Tracker()
        self.min_face, self.max_faces = min_face, max_faces
        self.timer = timer or StageTimer()
        self.detect_every, self._frames, self._boxes, self._shape = detect_every, 0, None, None
        self._landmarks = None
        self.hold, self._misses = hold, np.zeros(0, np.int32)
        self.framing = None if spec is None else spec.face_framing
        self.keep_crops = keep_crops
        self._batch = None if spec is None else np.empty((max_faces, *spec.input_shape), np.float32)

    def forget(self) -> None:
        """Start afresh: the next frame is detected, and no box, track or smoothed score of earlier frames carries
        over to it (its faces get new track ids). For sources of unrelated stills (an image folder)."""
        self._frames, self._boxes, self._landmarks, self._shape = 0, None, None, None
        self._misses = np.zeros(0, np.int32)
        self.tracker.tracks = []

    def _hold_missed(self, boxes: np.ndarray, landmarks: np.ndarray | None):
        """Add the previous boxes this detection missed (no new box overlaps them) that have been missed
        fewer than ``hold`` times; ``self._misses`` counts the misses of every returned box."""
        prev = self._boxes
        fresh = np.zeros(len(boxes), np.int32)
        if not self.hold or prev is None or not len(prev):
            self._misses = fresh
            return boxes, landmarks
        seen = (iou_matrix(prev, boxes).max(axis=1) >= self.tracker.iou_threshold) if len(boxes) else False
        keep = ~np.asarray(seen, bool) & (self._misses < self.hold)
        self._misses = np.concatenate([fresh, self._misses[keep] + 1])
        if landmarks is not None and self._landmarks is not None:
            landmarks = np.concatenate([landmarks, self._landmarks[keep]])
        return np.concatenate([boxes, prev[keep]]).astype(np.int32), landmarks

    def __call__(self, frame) -> list[Face]:
        timer = self.timer
        sx, sy = frame.scale
        if self._frames % self.detect_every == 0 or frame.gray.shape != self._shape:
            min_face = None if self.min_face is None else round(self.min_face / sx)
            boxes, landmarks = self.detector.detect_faces(frame.gray, min_face=min_face)
            if frame.gray.shape == self._shape:
                boxes, landmarks = self._hold_missed(boxes, landmarks)
            else:
                self._misses = np.zeros(len(boxes), np.int32)
            self._boxes = boxes[: self.max_faces]
            self._landmarks = None if landmarks is None else landmarks[: self.max_faces]
            self._misses = self._misses[: self.max_faces]
            self._shape = frame.gray.shape
            timer.lap("detect")
        self._frames += 1
        boxes = self._boxes
        probs = None
        crops = [None] * len(boxes)
        if self.classifier is not None and len(boxes):
            batch = self._batch[: len(boxes)]
            for i, box in enumerate(boxes):
                landmarks = None if self._landmarks is None else self._landmarks[i]
                crop = frame_face(frame.gray, box, landmarks, self.framing)
                preprocess(crop, self.spec, out=batch[i])
                if self.keep_crops and crop is not None:
                    crops[i] = crop.copy()
            timer.lap("preprocess")
            probs = self.classifier.predict(batch)
            timer.lap("infer")
        if sx != 1.0 or sy != 1.0:
            boxes = np.round(boxes * np.array([sx, sy, sx, sy])).astype(np.int32)
        tracked = self.tracker.update(boxes, probs)
        timer.lap("track")
        labels = () if self.spec is None else self.spec.labels
        return [Face(tuple(int(v) for v in box), tid, p, labels, crop)
                for box, (tid, p), crop in zip(boxes, tracked, crops)]
