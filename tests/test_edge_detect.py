"""Face detection: the Haar cascade finds the demo faces (boxes on the input image), finds nothing
on face-free frames, works on a padded Y plane; the YuNet adapter maps its boxes the same way."""

import cv2
import numpy as np
import pytest
from edge_testkit import demo_frames, no_face_frame

from edge.config import EdgeConfig
from edge.core.errors import UserError
from edge.detect import HaarDetector, YuNetDetector, make_detector
from edge.track import iou_matrix


def _gray(image):
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def test_haar_finds_the_demo_faces_where_they_are():
    detector = HaarDetector(detect_width=320)
    found = total = 0
    for image, truth in demo_frames(6, seed=1, faces=2)[::2] + demo_frames(6, seed=2, faces=1)[::2]:
        boxes, landmarks = detector.detect_faces(_gray(image), min_face=48)
        assert landmarks is None, "Haar finds no landmarks"
        assert boxes.dtype == np.int32 and boxes.shape[1:] == (4,)
        assert len(boxes) >= 1, f"no face found; truth {truth}"
        total += len(truth)
        found += int((iou_matrix(np.array(truth), boxes).max(axis=1) > 0.5).sum())
        assert np.all(boxes[:-1, 2] * boxes[:-1, 3] >= boxes[1:, 2] * boxes[1:, 3]), "largest first"
    assert found >= total - 1, f"found {found} of {total} faces"


@pytest.mark.parametrize("seed", range(4))
def test_frames_without_faces_give_no_boxes(seed):
    boxes = HaarDetector().detect_faces(_gray(no_face_frame(seed)), min_face=48)[0]
    assert boxes.shape == (0, 4)


def test_downscaled_detection_maps_back_to_the_full_image():
    image, truth = demo_frames(6, seed=2, faces=1)[0]
    gray = _gray(image)
    full = HaarDetector(detect_width=320).detect_faces(gray, min_face=48)[0]  # 640 wide -> detected at 320, mapped back
    small = cv2.resize(gray, (320, 240), interpolation=cv2.INTER_AREA)
    half = HaarDetector(detect_width=320).detect_faces(small, 24)[0]
    assert len(full) == len(half) == 1
    np.testing.assert_allclose(full[0], 2 * half[0], atol=2)
    assert iou_matrix(full, np.array(truth))[0, 0] > 0.5


def test_detects_on_a_strided_y_plane_like_picamera2_lores():
    image, _ = demo_frames(6, seed=2, faces=1)[0]
    lores = cv2.resize(_gray(image), (320, 240), interpolation=cv2.INTER_AREA)
    yuv = np.full((240 * 3 // 2, 384), 99, np.uint8)  # Pi 5: 320 pixels, 384-byte rows
    yuv[:240, :320] = lores
    y_plane = yuv[:240, :320]
    assert not y_plane.flags["C_CONTIGUOUS"]
    detector = HaarDetector()
    np.testing.assert_array_equal(detector.detect_faces(y_plane)[0], detector.detect_faces(lores.copy())[0])
    assert len(detector.detect_faces(y_plane)[0]) == 1


def test_min_face_filters_small_faces():
    image, truth = demo_frames(6, seed=2, faces=1)[0]
    size = truth[0][2]
    assert len(HaarDetector().detect_faces(_gray(image), min_face=int(size * 1.6))[0]) == 0


def test_yunet_needs_a_readable_model(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        YuNetDetector(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model")
    with pytest.raises(UserError, match="not an ONNX model OpenCV can read"):
        YuNetDetector(bad)
    with pytest.raises(UserError, match="--detector yunet: no YuNet model .*run 'fer-edge fetch-models'"):
        make_detector(EdgeConfig(source="x", detector="yunet"))


class _FakeYN:
    """FaceDetectorYN's interface: setInputSize, detect(bgr) -> (1, faces (N, 15) float32 or None)."""

    def __init__(self, faces):
        self.faces, self.sizes, self.inputs = faces, [], []

    def setInputSize(self, size):  # noqa: N802 (OpenCV's name)
        self.sizes.append(size)

    def detect(self, image):
        self.inputs.append(image.shape)
        return 1, self.faces


def test_yunet_boxes_are_mapped_back_and_filtered(tmp_path, monkeypatch):
    model = tmp_path / "yunet.onnx"
    model.write_bytes(b"stand-in")
    faces = np.zeros((2, 15), np.float32)
    faces[0, :4] = (10, 20, 60, 70)   # on the 320-wide detection image
    faces[1, :4] = (200, 100, 10, 12)  # too small once mapped back
    fake = _FakeYN(faces)
    monkeypatch.setattr(cv2.FaceDetectorYN, "create", lambda *a, **k: fake)
    detector = make_detector(EdgeConfig(source="x", detector="yunet", detector_model=str(model), detect_width=320))
    assert isinstance(detector, YuNetDetector)
    boxes = detector.detect_faces(np.zeros((480, 640), np.uint8), min_face=48)[0]
    np.testing.assert_array_equal(boxes, [[10, 40, 140, 140]])  # squared about its centre (70x70), then x2
    faces[0, 4:14] = np.arange(10) + 20
    boxes, landmarks = detector.detect_faces(np.zeros((480, 640), np.uint8), min_face=48)
    np.testing.assert_allclose(landmarks, [2 * (np.arange(10).reshape(5, 2) + 20)])
    assert fake.sizes == [(64, 64), (320, 240)] and fake.inputs[:2] == [(64, 64, 3), (240, 320, 3)], "checked at load"
    fake.faces = None
    assert detector.detect_faces(np.zeros((480, 640), np.uint8))[0].shape == (0, 4)
