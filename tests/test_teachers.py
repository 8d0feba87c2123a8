"""The zoo teacher (the real OpenCV Zoo expression model from ../shared/models), its five-point views, weighted
ensembles per source, ExpW faces framed by the spec from YuNet's box and landmarks, and a run distilling both."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from edge_testkit import demo_frames

from edge.core.errors import UserError
from edge.core.spec import DEFAULT_SPEC, FACE_FRAMING, LABELS
from train import teachers
from train.datasets import load_dataset
from train.datasets.base import Split

ZOO_MODEL = Path(os.environ.get("FER_EDGE_TEACHER_MODEL") or Path(__file__).resolve().parents[2] / "shared" / "models"
                 / "facial_expression_recognition_mobilefacenet_2022july_int8.onnx")


@pytest.fixture
def zoo(monkeypatch, yunet_model):
    if not ZOO_MODEL.is_file():
        pytest.skip(f"zoo expression model absent ({ZOO_MODEL})")
    monkeypatch.setenv("FER_EDGE_TEACHER_MODEL", str(ZOO_MODEL))
    monkeypatch.setenv("FER_EDGE_DETECTOR_MODEL", str(yunet_model))
    return ZOO_MODEL


def write_demo_expw(root: Path, frames: int = 3) -> tuple[Path, int]:
    """An ExpW folder of demo-scene photos (faces YuNet finds) with their true boxes in label.lst."""
    (root / "Images").mkdir(parents=True)
    lines = []
    for i, (image, boxes) in enumerate(demo_frames(frames, seed=3)):
        cv2.imwrite(str(root / "Images" / f"{i}.png"), image)
        for j, (x, y, w, h) in enumerate(boxes):
            lines.append(f"{i}.png {j} {y} {x} {x + w} {y + h} 90.0 {(i + j) % 7}")
    (root / "label.lst").write_text("\n".join(lines) + "\n")
    return root, len(lines)


def test_zoo_labels_are_remapped_to_ours():
    logits = np.arange(7, dtype=np.float32)  # in the zoo's order: angry .. surprise, neutral at 4
    ours = logits[teachers.ZOO_TO_OURS]
    assert [teachers.ZOO_LABELS[int(v)] for v in ours] == ["angry", "disgust", "fear", "happy", "sad", "surprise",
                                                          "neutral"]
    assert tuple(name.replace("fearful", "fear") for name in LABELS) == LABELS


def test_weights_per_source():
    np.testing.assert_array_equal(teachers.weights_per_source(None, 2, 3), np.ones((2, 3)))
    np.testing.assert_array_equal(teachers.weights_per_source([[0.5], [1, 2, 3]], 2, 3), [[.5, .5, .5], [1, 2, 3]])
    with pytest.raises(UserError, match="one weight .or one per --data source, 3. for each of the 2 teacher"):
        teachers.weights_per_source([[1, 2]], 2, 3)


def test_ensemble_mixes_probabilities_per_source(monkeypatch):
    a, b = np.log(np.full((1, 7), 1 / 7)), np.log(np.eye(7)[[3]] * 0.94 + 0.01)
    monkeypatch.setattr(teachers, "teacher_log_probs_of",
                        lambda t, split, spec, what="": np.repeat(a if t == "A" else b, len(split), axis=0))
    members = [Split(np.zeros((2, 48, 48), np.uint8), [0, 1]), Split(np.zeros((1, 48, 48), np.uint8), [2])]
    mixed, own = teachers.ensemble_log_probs(members, ["A", "B"], np.array([[1.0, 0.0], [1.0, 3.0]]), DEFAULT_SPEC)
    p = np.exp(mixed)
    np.testing.assert_allclose(p[0], 0.5 * np.exp(a[0]) + 0.5 * np.exp(b[0]), rtol=1e-5)  # source 0: 1:1
    np.testing.assert_allclose(p[2], np.exp(b[0]), rtol=1e-5)  # source 1: B only
    assert len(own) == 2 and own[0].shape == (3, 7)


def test_a_teacher_of_weight_zero_on_a_source_is_not_run_on_it(monkeypatch):
    runs = []

    def fake(t, split, spec, what=""):
        runs.append((t, len(split)))
        return np.log(np.full((len(split), 7), 1 / 7))

    monkeypatch.setattr(teachers, "teacher_log_probs_of", fake)
    members = [Split(np.zeros((2, 48, 48), np.uint8), [0, 1]), Split(np.zeros((1, 48, 48), np.uint8), [2])]
    mixed, own = teachers.ensemble_log_probs(members, ["A", "B"], np.array([[0.0, 1.0], [1.0, 1.0]]), DEFAULT_SPEC)
    assert runs == [("A", 1), ("B", 2), ("B", 1)]
    assert np.isnan(own[0][:2]).all() and not np.isnan(own[0][2:]).any()
    np.testing.assert_allclose(np.exp(mixed), 1 / 7, rtol=1e-5)


def test_zoo_not_installed_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.delenv("FER_EDGE_TEACHER_MODEL", raising=False)
    with pytest.raises(UserError, match="fer-edge fetch-models --which teacher"):
        teachers.check_teachers(["zoo"], DEFAULT_SPEC)
    with pytest.raises(UserError, match="no such file"):
        teachers.check_teachers([str(tmp_path / "nope.onnx")], DEFAULT_SPEC)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(UserError, match="not an ONNX model OpenCV can run"):
        teachers.check_teachers([str(bad)], DEFAULT_SPEC)


def test_zoo_scores_crops_once_and_caches(zoo, tmp_path, monkeypatch):
    crops = np.stack([cv2.resize(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)[y:y + h, x:x + w], (48, 48))
                      for img, boxes in demo_frames(2, seed=1) for x, y, w, h in boxes])
    split = Split(crops, np.zeros(len(crops)))
    logp = teachers.zoo_log_probs("zoo", split)
    assert logp.shape == (len(crops), 7) and np.isfinite(logp).all()
    np.testing.assert_allclose(np.exp(logp).sum(axis=1), 1, rtol=1e-5)
    monkeypatch.setattr(teachers, "load_zoo", lambda path: pytest.fail("scored again instead of read from the cache"))
    np.testing.assert_array_equal(teachers.zoo_log_probs("zoo", split), logp)


def test_expw_faces_framed_from_yunet_landmarks_with_colour_views(zoo, tmp_path):
    root, n = write_demo_expw(tmp_path / "expw")
    spec = dataclasses.replace(DEFAULT_SPEC, framing=FACE_FRAMING)
    framed = load_dataset(str(root), spec=spec, holdout=False, teacher_views=True).splits["train"]
    boxed = load_dataset(str(root), holdout=False).splits["train"]  # no framing in the spec: the labelled box
    assert len(framed) == len(boxed) == n
    assert framed.views.shape == (n, 112, 112, 3) and boxed.views is None
    assert not np.array_equal(framed.images, boxed.images)  # cut from YuNet's box, eyes levelled, 5% inside
    logp = teachers.zoo_log_probs("zoo", framed)  # the colour views, not the grey crops
    assert logp.shape == (n, 7)


@pytest.mark.slow
def test_train_distils_an_ensemble_per_source(zoo, tmp_path, tiny_models):
    pytest.importorskip("tf_keras")
    from dataset_fixtures import write_folders

    from edge.commands.dispatch import main

    write_folders(tmp_path / "folders", per_class=6, value=90)
    root, _ = write_demo_expw(tmp_path / "expw", frames=14)
    argv = ["train", "--data", str(tmp_path / "folders"), "--data", str(root), "--epochs", "1", "--runs-dir",
            str(tmp_path / "runs"), "--name", "ens", "--teacher", "zoo", "--teacher", str(tiny_models["keras"]),
            "--teacher-weight", "0.2,1", "--teacher-weight", "0.8,0", "--framing-margin", "0.1"]
    assert main(argv) == 0
    data = json.loads((tmp_path / "runs" / "ens" / "data.json").read_text())
    assert data["teacher"]["weights"] == [[0.2, 1.0], [0.8, 0.0]]
    assert [m["model"] for m in data["teacher"]["members"]] == ["zoo", str(tiny_models["keras"])]
    spec = json.loads((tmp_path / "runs" / "ens" / "model.spec.json").read_text())
    assert spec["framing"] == {"margin": 0.1, "align": True}


def test_train_refuses_bad_teacher_weights_before_writing(zoo, tmp_path):
    pytest.importorskip("tf_keras")
    from edge.commands.dispatch import main

    argv = ["train", "--epochs", "1", "--runs-dir", str(tmp_path / "runs"), "--teacher", "zoo",
            "--teacher-weight", "1,2"]
    assert main(argv) == 2
    assert not (tmp_path / "runs").exists()


def test_model_card_reproduces_an_ensemble_command():
    from model_card.card import train_command
    from train.config import TrainConfig

    cfg = TrainConfig(data=["/d/fer2013", "/d/expw_train"], teacher=["zoo", "/x/models/fer_pi_int8.tflite"],
                      teacher_weights=[[0.3, 0.85], [0.7, 0.15]], framing_align=False)
    line = train_command(cfg, "n")
    assert ("--teacher zoo --teacher models/fer_pi_int8.tflite --teacher-weight 0.3,0.85 --teacher-weight 0.7,0.15"
            in line)
    assert "--no-framing-align" in line and "--data <FER2013 folder> --data <ExpW folder: expw_train>" in line


def test_a_corrupt_cached_zoo_model_is_refused(monkeypatch, tmp_path):
    from edge.detector_model import ZOO_FER

    monkeypatch.delenv("FER_EDGE_TEACHER_MODEL", raising=False)
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path))
    (tmp_path / ZOO_FER.name).write_bytes(b"\0" * 100)
    with pytest.raises(UserError, match=r"corrupt cached copy .*fetch-models --force"):
        teachers.zoo_model_path("zoo")
