"""The real YuNet detector (from ../shared/models or $FER_EDGE_DETECTOR_MODEL): faces and landmarks on
the demo frames, --detector auto picking it (or falling back to Haar with one line), models that are
not YuNet refused, the detect width widened for --min-face, and ``fer-edge run`` using it end to end."""

import json
import logging

import cv2
import numpy as np
import pytest
from edge_testkit import demo_frames, demo_video

from edge.commands.dispatch import main
from edge.config import EdgeConfig
from edge.core.errors import UserError
from edge.detect import YUNET_DETECT_PIXELS, HaarDetector, YuNetDetector, detect_width_for, make_detector
from edge.track import iou_matrix


def _gray(image):
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _field(number: int, value) -> bytes:
    """One protobuf field: an int (varint) or bytes/str (length-delimited)."""
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    value = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def identity_onnx() -> bytes:
    """A valid ONNX model (opset 13, float 1x3x8x8 -> Identity): loadable by OpenCV, but not YuNet."""
    def value_info(name):
        shape = b"".join(_field(1, _field(1, d)) for d in (1, 3, 8, 8))
        return _field(1, name) + _field(2, _field(1, _field(1, 1) + _field(2, shape)))
    node = _field(1, "x") + _field(2, "y") + _field(4, "Identity")
    graph = _field(1, node) + _field(2, "g") + _field(11, value_info("x")) + _field(12, value_info("y"))
    return _field(1, 8) + _field(8, _field(1, "") + _field(2, 13)) + _field(7, graph)


def test_finds_the_demo_faces_with_landmarks(yunet_model):
    detector = YuNetDetector(yunet_model)
    found = total = 0
    for image, truth in demo_frames(6, seed=1, faces=2)[::2] + demo_frames(6, seed=2, faces=1)[::2]:
        boxes, landmarks = detector.detect_faces(_gray(image), min_face=48)
        assert boxes.dtype == np.int32 and landmarks.shape == (len(boxes), 5, 2)
        total += len(truth)
        found += int((iou_matrix(np.array(truth), boxes).max(axis=1) >= 0.5).sum()) if len(boxes) else 0
        for (x, y, w, h), pts in zip(boxes, landmarks):
            assert np.all((pts[:, 0] >= x) & (pts[:, 0] <= x + w) & (pts[:, 1] >= y) & (pts[:, 1] <= y + h))
            right_eye, left_eye, nose, mouth_r, mouth_l = pts
            assert right_eye[0] < left_eye[0] and mouth_r[0] < mouth_l[0], "the person's right is image left"
            assert max(right_eye[1], left_eye[1]) < nose[1] < min(mouth_r[1], mouth_l[1])
    assert found == total, f"found {found} of {total} faces"


def test_landmarks_map_back_through_the_downscale(yunet_model):
    image, _ = demo_frames(6, seed=2, faces=1)[0]
    gray = _gray(image)
    full_boxes, full = YuNetDetector(yunet_model, detect_width=640).detect_faces(gray, min_face=48)
    half_boxes, half = YuNetDetector(yunet_model, detect_width=320).detect_faces(gray, min_face=48)
    assert len(full) == len(half) == 1
    np.testing.assert_allclose(half, full, atol=0.08 * full_boxes[0, 2])  # same face, 2x coarser detection
    assert iou_matrix(full_boxes, half_boxes)[0, 0] > 0.8


def test_auto_uses_yunet_when_found_else_haar_with_one_line(yunet_model, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="edge.detect")
    assert isinstance(make_detector(EdgeConfig(source="x")), HaarDetector)
    hint = [r.getMessage() for r in caplog.records if "Haar" in r.getMessage()]
    assert len(hint) == 1 and "'fer-edge fetch-models'" in hint[0] and "nothing at" in hint[0]
    assert [r.levelname for r in caplog.records if "Haar" in r.getMessage()] == ["WARNING"]
    monkeypatch.setenv("FER_EDGE_DETECTOR_MODEL", str(yunet_model))
    detector = make_detector(EdgeConfig(source="x"))
    assert isinstance(detector, YuNetDetector) and detector.model_path == yunet_model
    assert isinstance(make_detector(EdgeConfig(source="x", detector="haar")), HaarDetector)


def test_models_that_are_not_yunet_are_refused(tmp_path, yunet_model):
    other = tmp_path / "identity.onnx"
    other.write_bytes(identity_onnx())
    assert cv2.dnn.readNet(str(other)) is not None, "a valid ONNX file"
    with pytest.raises(UserError, match=r"identity.onnx: an ONNX model, but not the YuNet face detector"):
        YuNetDetector(other)
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(yunet_model.read_bytes()[:50_000])
    with pytest.raises(UserError, match=r"cut.onnx: not an ONNX model OpenCV can read"):
        YuNetDetector(cut)
    with pytest.raises(UserError, match=r"--detector-model .*gone.onnx: no such file"):
        make_detector(EdgeConfig(source="x", detector_model=str(tmp_path / "gone.onnx")))


@pytest.mark.parametrize("size, min_face, detect_width, expected", [
    ((640, 480), None, None, 320),   # default: 320x240 pixels' worth; a 48 px face is the 24 px minimum
    ((480, 270), None, None, 370),   # the 480x270 camera: 370x208 (faces from 31 px)
    ((320, 240), None, None, 320),   # a lores Y plane is detected as it is
    ((1280, 720), None, None, 370),
    ((640, 480), 48, None, 320),     # a 48 px face is 24 px at 320: as small as the detectors go
    ((640, 480), 32, None, 480),     # smaller faces asked for: detect wider
    ((480, 270), 24, 320, 480),      # ... never shrinking them below 24 px
    ((640, 480), 16, None, 640),     # never wider than the frame
    ((640, 480), 200, 256, 256),     # an explicit width when --min-face allows it
])
def test_detect_width_never_shrinks_min_face_below_the_detector(size, min_face, detect_width, expected):
    assert detect_width_for(*size, min_face, 24, detect_width) == expected


@pytest.mark.parametrize("size, min_face, expected", [
    ((640, 480), None, 480),    # YuNet's default: 480x360 pixels' worth (faces from 32 px)
    ((480, 270), None, 480),    # the 480x270 camera at its own width (faces from 24 px)
    ((320, 240), None, 320),    # a lores Y plane as it is
    ((1280, 720), None, 554),
    ((640, 480), 24, 640),      # widened for smaller faces, never past the frame
])
def test_yunet_detects_at_480x360_pixels_by_default(size, min_face, expected):
    assert detect_width_for(*size, min_face, 24, None, YUNET_DETECT_PIXELS) == expected


def test_widening_is_said_once(yunet_model, caplog):
    caplog.set_level(logging.INFO, logger="edge.detect")
    detector = YuNetDetector(yunet_model)
    for _ in range(3):
        detector.detect_faces(np.zeros((480, 640), np.uint8), min_face=24)
    said = [r.getMessage() for r in caplog.records if "instead of" in r.getMessage()]
    assert said == ["yunet: detecting at 640 px wide instead of 480 so that 24 px faces stay at least 24 px "
                    "(its smallest)"]


def test_run_uses_yunet_by_default_once_it_is_found(yunet_model, tmp_path, monkeypatch, capsys):
    video = tmp_path / "faces.mp4"
    truth = demo_video(video, 12, fps=15, faces="2")
    jsonl = tmp_path / "out.jsonl"
    monkeypatch.setenv("FER_EDGE_DETECTOR_MODEL", str(yunet_model))
    assert main(["run", "--source", str(video), "--jsonl", str(jsonl)]) == 0
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert sum(len(r["faces"]) for r in records) == sum(len(t) for t in truth)
    saved = json.loads((tmp_path / "out.config.json").read_text())
    assert saved["detector"] == "yunet" and saved["detector_model"] == str(yunet_model)
    monkeypatch.delenv("FER_EDGE_DETECTOR_MODEL")
    assert main(["run", "--source", str(video), "--jsonl", str(jsonl), "--max-frames", "2"]) == 0
    assert json.loads((tmp_path / "out.config.json").read_text())["detector"] == "haar"


def test_detects_on_a_strided_y_plane_like_picamera2_lores(yunet_model):
    image, truth = demo_frames(6, seed=2, faces=1)[0]
    lores = cv2.resize(_gray(image), (320, 240), interpolation=cv2.INTER_AREA)
    yuv = np.full((240 * 3 // 2, 384), 99, np.uint8)  # Pi 5: 320 pixels, 384-byte rows
    yuv[:240, :320] = lores
    y_plane = yuv[:240, :320]
    detector = YuNetDetector(yunet_model)
    boxes, landmarks = detector.detect_faces(y_plane)
    np.testing.assert_array_equal(boxes, detector.detect_faces(lores.copy())[0])
    assert len(boxes) == 1 and iou_matrix(boxes * 2, np.array(truth))[0, 0] > 0.5
