"""A face that training cuts from an ExpW photo is, pixel for pixel, the face the live loop cuts for the
same box (and landmarks): both go through ``edge.core.preprocess``'s framing, with the spec's margin and
alignment, whether the face is aligned or not (no YuNet, ``--no-framing-align``)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from dataset_fixtures import write_expw_photos

from edge.core.preprocess import prepare
from edge.core.spec import Framing, ModelSpec
from edge.detect import FaceDetector
from edge.recognize import Recognizer
from edge.timing import StageTimer
from train.datasets import face_views, load_dataset

#: label.lst: top left right bottom; the live detector's (x, y, w, h) of the same face
TOP, LEFT, RIGHT, BOTTOM = 40, 60, 140, 130
LABEL_BOX = (LEFT, TOP, RIGHT - LEFT, BOTTOM - TOP)
#: where "YuNet" finds the face: a square box near the label box, eyes tilted by ~15 degrees
FOUND_BOX = np.array([58, 42, 86, 86], np.float32)
LANDMARKS = np.array([[85, 75], [125, 86], [104, 100], [88, 118], [120, 126]], np.float32)


def _photo() -> np.ndarray:
    rng = np.random.default_rng(7)
    return cv2.GaussianBlur(rng.integers(0, 256, (200, 240), np.uint8), (5, 5), 1.5)


def _live_crop(gray: np.ndarray, spec: ModelSpec, box, landmarks) -> np.ndarray:
    """The crop the live loop's Recognizer cuts for a detector that returns ``box`` (and ``landmarks``)."""

    class Detector(FaceDetector):
        name, model_path = "scripted", None

        def detect_faces(self, g, min_face=None):
            return np.array([box], np.int32), None if landmarks is None else landmarks[None]

    class Classifier:
        def predict(self, batch):
            return np.full((len(batch), spec.num_classes), 1 / spec.num_classes, np.float32)

    class Frame:
        scale = (1.0, 1.0)

    Frame.gray = gray
    recognize = Recognizer(Detector(), Classifier(), spec, min_face=None, timer=StageTimer(), keep_crops=True)
    recognize.timer.begin()
    (face,) = recognize(Frame())
    return face.crop


@pytest.mark.parametrize("margin, align, yunet", [
    (0.3, False, False),   # --no-framing-align: the spec's margin, not 0
    (0.3, False, True),    # align off: the label box even where YuNet is installed
    (0.3, True, False),    # align asked for, no YuNet: the label box with the margin, unrotated
    (-0.05, True, True),   # YuNet found the face: its box and landmarks, eyes levelled
    (0.3, True, True),
])
def test_training_crop_equals_the_live_loops_crop(tmp_path, monkeypatch, margin, align, yunet):
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))
    photo = _photo()
    write_expw_photos(tmp_path / "expw", {"p.png": photo}, [("p.png", TOP, LEFT, RIGHT, BOTTOM, 3)])
    monkeypatch.setattr(face_views, "have_yunet", lambda: yunet)
    monkeypatch.setattr(face_views, "yunet", lambda *a, **k: object())
    found = []

    def match_face(net, image, box):
        found.append(tuple(box))
        return FOUND_BOX.copy(), LANDMARKS.copy()

    monkeypatch.setattr(face_views, "match_face", match_face)
    spec = ModelSpec(framing=Framing(margin=margin, align=align))

    trained = load_dataset(str(tmp_path / "expw"), spec=spec, holdout=False, use_cache=False).splits["train"]

    assert len(trained) == 1
    if align and yunet:
        assert found == [LABEL_BOX]
        live = _live_crop(photo, spec, FOUND_BOX.astype(np.int32), LANDMARKS)
    else:
        live = _live_crop(photo, spec, LABEL_BOX, LANDMARKS if yunet else None)
    np.testing.assert_array_equal(trained.images[0], prepare(live, spec))
    # the framing mattered: the box as it is gives another face
    assert not np.array_equal(trained.images[0], prepare(photo[TOP:BOTTOM, LEFT:RIGHT], spec))


def test_expw_margin_is_an_alias_of_framing_margin_with_one_deprecation_line(caplog):
    import argparse
    import logging

    from edge.core.deprecated import warn_deprecated
    from train import cli
    from train.config import TrainConfig

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--expw-margin", "0.3", "--no-framing-align"])
    with caplog.at_level(logging.WARNING, logger="train.cli"):
        cfg = cli.config_from_args(args)
        warn_deprecated(args, logging.getLogger("train.cli"))  # as fer-edge does once logging is set up
    assert cfg.framing == Framing(margin=0.3, align=False)
    assert [r.message for r in caplog.records if "--expw-margin" in r.message][0].count("deprecated") == 1
    assert len(caplog.records) == 1
    assert cli.config_from_args(parser.parse_args(["--expw-margin", "0.3", "--framing-margin", "0.1"])).framing.margin == 0.1
    # a train_config.json written before the alias still loads, its margin as the framing margin
    old = {k: v for k, v in TrainConfig().to_dict().items() if k != "framing_margin"}
    assert TrainConfig.from_dict({**old, "expw_margin": 0.2}).framing.margin == 0.2
    assert TrainConfig.from_dict({**old, "expw_margin": 0.0}).framing == TrainConfig().framing
