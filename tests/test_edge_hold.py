"""A face the detector misses for a few detections keeps its box, track and smoothed label; after
``hold`` misses it is dropped; a face that moved is not held twice."""

import numpy as np

from edge.core.spec import DEFAULT_SPEC
from edge.detect import FaceDetector
from edge.recognize import Recognizer
from edge.timing import StageTimer


class ScriptedDetector(FaceDetector):
    """Returns the scripted boxes (and landmarks) one detection after another."""

    def __init__(self, script):
        self.name, self.model_path = "scripted", None
        self.script, self.calls = list(script), 0

    def detect_faces(self, gray, min_face=None):
        boxes = np.array(self.script[self.calls % len(self.script)], np.int32).reshape(-1, 4)
        self.calls += 1
        points = np.array([[10, 10], [30, 10], [20, 20], [12, 30], [28, 30]], np.float32)
        return boxes, np.tile(points, (len(boxes), 1, 1))


class Classifier:
    def __init__(self):
        self.batches = []

    def predict(self, batch):
        self.batches.append(len(batch))
        p = np.zeros((len(batch), 7), np.float32)
        p[:, 3] = 1
        return p


class Frame:
    gray, scale = np.zeros((120, 160), np.uint8), (1.0, 1.0)


def _run(script, frames, hold, detect_every=1):
    clf = Classifier()
    recognize = Recognizer(ScriptedDetector(script), clf, DEFAULT_SPEC, timer=StageTimer(),
                           detect_every=detect_every, hold=hold)
    out = []
    for _ in range(frames):
        recognize.timer.begin()
        out.append([(f.box, f.track_id, f.label) for f in recognize(Frame())])
    return out, clf


def test_a_missed_face_keeps_its_box_track_and_label_for_hold_detections():
    face = [10, 10, 50, 50]
    out, clf = _run([[face], [], [], [], [face]], 5, hold=3)
    assert all(o == [((10, 10, 50, 50), 1, "happy")] for o in out), out
    assert clf.batches == [1, 1, 1, 1, 1], "the held face is classified every frame"


def test_a_face_missed_longer_than_hold_is_dropped():
    out, _ = _run([[[10, 10, 50, 50]], [], [], [], []], 5, hold=2)
    assert [len(o) for o in out] == [1, 1, 1, 0, 0]


def test_no_hold_means_what_the_detector_saw_and_a_moved_face_is_not_doubled():
    out, _ = _run([[[10, 10, 50, 50]], []], 2, hold=0)
    assert [len(o) for o in out] == [1, 0]
    out, _ = _run([[[10, 10, 50, 50]], [[14, 12, 50, 50]]], 2, hold=3)
    assert out[1] == [((14, 12, 50, 50), 1, "happy")], "the moved face matches its old box: one face, one track"


def test_holding_counts_detections_not_frames_with_detect_every():
    out, _ = _run([[[10, 10, 50, 50]], [], []], 6, hold=1, detect_every=2)
    assert [len(o) for o in out] == [1, 1, 1, 1, 0, 0]
