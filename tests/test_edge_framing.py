"""Crop framing, part of the input contract: margin around the box (clipped, as ExpW training crops
are), eyes levelled with the five landmarks, carried in the spec (absent = the box as it is), and
applied by the live loop's Recognizer."""

import json

import cv2
import numpy as np
import pytest

from edge.core.errors import UserError
from edge.core.preprocess import align_matrix, eye_angle, frame_face, framed_box, preprocess
from edge.core.spec import BOX_CROP, DEFAULT_SPEC, Framing, ModelSpec
from edge.detect import FaceDetector
from edge.recognize import Recognizer
from edge.timing import StageTimer


def _landmarks(cx, cy, eye_dist, degrees):
    """YuNet-ordered landmarks (right eye, left eye, nose, right/left mouth) of an upright face at
    (cx, cy), rotated by ``degrees`` clockwise on screen."""
    e = eye_dist
    upright = np.array([[-e / 2, -e / 3], [e / 2, -e / 3], [0, 0.1 * e], [-0.4 * e, 0.6 * e], [0.4 * e, 0.6 * e]])
    t = np.radians(degrees)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])  # y points down: + is clockwise
    return (upright @ rot.T + (cx, cy)).astype(np.float32)


def test_framed_box_grows_and_clips():
    assert framed_box((100, 50, 40, 60), 0.0, (480, 640)) == ((100, 50, 140, 110), False)
    assert framed_box((100, 50, 40, 60), 0.25, (480, 640)) == ((90, 35, 150, 125), False)
    assert framed_box((5, 5, 40, 40), 0.5, (480, 640)) == ((0, 0, 65, 65), True)
    assert framed_box((700, 5, 40, 40), 0.1, (480, 640)) == (None, True)


@pytest.mark.parametrize("degrees", [-25, -8, 0, 12, 30])
def test_alignment_levels_the_eyes_and_keeps_the_centre(degrees):
    box = (200, 120, 100, 110)
    pts = _landmarks(250, 175, 40, degrees)
    assert eye_angle(pts) == pytest.approx(degrees, abs=1e-3)
    m, (w, h) = align_matrix(box, pts, margin=0.2)
    assert (w, h) == (140, 154)
    moved = cv2.transform(pts[None], m)[0]
    assert moved[0, 1] == pytest.approx(moved[1, 1], abs=1e-3), "eyes level"
    assert moved[0, 0] < moved[1, 0] and moved[2, 1] < moved[3, 1], "upright, not flipped"
    centre = cv2.transform(np.array([[[250.0, 175.0]]]), m)[0, 0]
    np.testing.assert_allclose(centre, (w / 2, h / 2), atol=1e-6)


def test_frame_face_crops_rotates_and_falls_back_to_the_box():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 255, (240, 320), np.uint8)
    box = np.array([100, 60, 80, 90], np.int32)
    np.testing.assert_array_equal(frame_face(gray, box), gray[60:150, 100:180])
    np.testing.assert_array_equal(frame_face(gray, box, None, Framing(0.25, True)), gray[38:172, 80:200])
    level = _landmarks(140, 105, 30, 0)
    aligned = frame_face(gray, box, level, Framing(0.0, True))
    np.testing.assert_array_equal(aligned, gray[60:150, 100:180])  # level eyes: nothing to rotate
    tilted = frame_face(gray, box, _landmarks(140, 105, 30, 20), Framing(0.1, True))
    assert tilted.shape == (108, 96) and tilted.dtype == np.uint8
    assert frame_face(gray, box, _landmarks(140, 105, 30, 20), BOX_CROP).shape == (90, 80), "align off"


def test_a_drawn_tilted_bar_comes_out_level():
    gray = np.zeros((200, 200), np.uint8)
    pts = _landmarks(100, 100, 60, 25)
    cv2.line(gray, tuple(int(v) for v in pts[0]), tuple(int(v) for v in pts[1]), 255, 3)  # the "eye line"
    crop = frame_face(gray, (50, 50, 100, 100), pts, Framing(0.0, True))
    rows = np.flatnonzero(crop.max(axis=1) > 128)
    assert rows.max() - rows.min() <= 5, "the eye line is horizontal in the crop"


def test_spec_carries_framing_and_an_absent_field_means_the_box(tmp_path):
    spec = ModelSpec(framing=Framing(margin=0.15, align=True))
    path = spec.save(tmp_path / "m.spec.json")
    assert ModelSpec.load(path) == spec and ModelSpec.load(path).face_framing == Framing(0.15, True)
    old = spec.to_dict()
    del old["framing"]  # a spec written before framing existed (the shipped models' until now)
    (tmp_path / "old.spec.json").write_text(json.dumps(old))
    assert ModelSpec.load(tmp_path / "old.spec.json").face_framing == BOX_CROP == Framing(0.0, False)
    bad = dict(old, framing={"margin": 3})
    (tmp_path / "bad.spec.json").write_text(json.dumps(bad))
    with pytest.raises(UserError, match=r"bad.spec.json: spec framing margin must be a fraction .* got 3"):
        ModelSpec.load(tmp_path / "bad.spec.json")
    (tmp_path / "bad.spec.json").write_text(json.dumps(dict(old, framing={"pad": 1})))
    with pytest.raises(UserError, match=r"unknown framing fields \['pad'\]"):
        ModelSpec.load(tmp_path / "bad.spec.json")


def test_recognizer_frames_faces_with_the_detectors_landmarks():
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 255, (240, 320), np.uint8)
    box = np.array([[100, 60, 80, 90]], np.int32)
    pts = _landmarks(140, 105, 30, 18)[None]
    seen = []

    class Detector(FaceDetector):
        name, model_path = "scripted", None

        def detect_faces(self, g, min_face=None):
            return box, pts

    class Classifier:
        def predict(self, batch):
            seen.append(batch.copy())
            return np.full((len(batch), 7), 1 / 7, np.float32)

    class Frame:
        scale = (1.0, 1.0)

    Frame.gray = gray
    framing = Framing(0.2, True)
    spec = ModelSpec(framing=framing)
    recognize = Recognizer(Detector(), Classifier(), spec, timer=StageTimer(), detect_every=2)
    for _ in range(2):  # detected, then classified in the kept box with the kept landmarks
        recognize.timer.begin()
        recognize(Frame())
    expected = preprocess(frame_face(gray, box[0], pts[0], framing), spec)
    np.testing.assert_array_equal(seen[0][0], expected)
    np.testing.assert_array_equal(seen[1][0], expected)
    plain = Recognizer(Detector(), Classifier(), DEFAULT_SPEC, timer=StageTimer())
    plain.timer.begin()
    plain(Frame())
    np.testing.assert_array_equal(seen[2][0], preprocess(gray[60:150, 100:180], DEFAULT_SPEC))
