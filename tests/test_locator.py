"""The face locator end to end at a tiny size: the preset, the frame generator and its cache, a train run,
quantize with its box gate, evaluate on labelled frames, ``run --detector`` on the demo video, and the bad
inputs (a frame smaller than the locator's input, a locator without its spec, a float locator)."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from edge_testkit import demo_video, one_line_error

from edge.commands.dispatch import main
from edge.core.locator_spec import LocatorSpec
from edge.core.spec import spec_path_for
from edge.locator_eval import Counts, label_line, read_labels

pytestmark = pytest.mark.requires("tensorflow", "tf_keras")


def _labeler(yunet_path=None):
    """YuNet when its model is here, else OpenCV's bundled Haar cascade (a real detector, no download)."""
    from edge.detect import HaarDetector, YuNetDetector

    detector = YuNetDetector(yunet_path) if yunet_path else HaarDetector()
    return lambda gray: detector.detect_faces(gray)[0]


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Tiny sources in the real formats: an ExpW folder of drawn faces (label.lst boxes) and face crops."""
    from dataset_fixtures import write_expw_photos

    from edge.synthetic.faces import Pose, face_layer

    root = tmp_path_factory.mktemp("locator_sources")
    photos, faces = {}, []
    for i in range(6):
        layer, _ = face_layer(np.random.default_rng(i), i % 7, 160, Pose(0.3))
        photo = np.full((200, 260), 90, np.uint8)
        photo[20:180, 50:210] = layer
        photos[f"p{i}.png"] = photo
        faces.append((f"p{i}.png", 40, 70, 190, 160, i % 7))
    write_expw_photos(root / "expw", photos, faces)
    crops = root / "fer" / "train" / "happy"
    crops.mkdir(parents=True)
    for i in range(5):
        cv2.imwrite(str(crops / f"{i}.png"), face_layer(np.random.default_rng(50 + i), 3, 48)[0])
    return [str(root / "expw"), str(root / "fer"), "synthetic"]


def test_preset_builds_within_budget_and_trains_a_step():
    import tf_keras as keras

    from train.budget import model_budget
    from train.locator.loss import LocatorLoss
    from train.locator.targets import encode
    from train.models import build_model

    budget = model_budget(build_model("locator"))
    assert budget.macs < 2_300_000 and budget.int8_weight_bytes < 16_000  # a few M Cortex-M4 instructions
    model = build_model("locator", width=2, depth=1, input_width=32, input_height=24)
    assert model.output_shape == (None, 3, 4, 5)
    x = np.random.default_rng(0).uniform(0, 1, (4, 24, 32, 1)).astype(np.float32)
    y = np.stack([encode(np.array([[8, 4, 12, 12]]), 32, 24, 8)] * 4)
    assert y[0, 1, 1, 0] == 1 and y[0, 1, 1, 2] == 1 and np.allclose(y[0, 1, 1, 3:], [0.75, 0.25, 1.5, 1.5])
    model.compile(keras.optimizers.Adam(0.01), loss=LocatorLoss())
    first = model.train_on_batch(x, y)
    for _ in range(5):
        last = model.train_on_batch(x, y)
    assert np.isfinite(first) and last < first


def test_generator_caches_and_resumes_the_same_frames(sources, tmp_path):
    from train.datasets.locator_frames import FramesConfig, load_sources
    from train.datasets.locator_store import SHARD, generated_frames

    config = FramesConfig(frames=5, val_frames=3, width=160, height=120, seed=3)
    loaded = load_sources(sources, 3)
    assert loaded.photos and loaded.crops and loaded.synthetic
    calls = []

    def labeler(gray):
        calls.append(gray.shape)
        return _labeler()(gray)

    out = generated_frames(sources, config, labeler, "haar", root=tmp_path, sources=loaded)
    frames = read_labels(out / "train")
    assert len(frames) == 5 and len(read_labels(out / "val")) == 3 and len(calls) == 8
    sizes = {cv2.imread(str(f.path), cv2.IMREAD_GRAYSCALE).shape for f in frames}
    assert sizes <= {(120, 160), (120, 147)} and all(f.size in ((160, 120), (147, 120)) for f in frames)
    first = [f.path.read_bytes() for f in frames]
    assert generated_frames(sources, config, labeler, "haar", root=tmp_path) == out and len(calls) == 8  # cached
    # a generation killed before its val shard was labelled resumes there, and makes the same frames
    (out / "done.json").unlink()
    (out / "val" / "shards" / "00000.jsonl").unlink()
    generated_frames(sources, config, labeler, "haar", root=tmp_path, sources=loaded)
    assert len(calls) == 11 and [f.path.read_bytes() for f in read_labels(out / "train")] == first
    assert SHARD >= config.frames
    other = generated_frames(sources, FramesConfig(frames=5, val_frames=3, width=160, height=120, seed=4), labeler,
                             "haar", root=tmp_path, sources=loaded)
    assert other != out  # another seed: another folder


def test_photos_without_labels_get_their_faces_from_the_labeller(sources):
    from pathlib import Path

    from train.datasets.locator_frames import load_sources

    photos = str(Path(sources[0]) / "Images")  # the ExpW fixture's photos, without their label.lst
    loaded = load_sources([photos, sources[1]], 0, finder=_labeler())
    assert len(loaded.crops) == 5  # 48x48 images stay face crops
    assert loaded.photos and all(len(p.faces) for p in loaded.photos)  # drawn faces Haar finds


def test_yunet_labels_generated_frames(sources, tmp_path, yunet_model):
    from train.datasets.locator_frames import FramesConfig
    from train.datasets.locator_store import generated_frames, yunet_labeler

    label, sha = yunet_labeler(yunet_model)
    config = FramesConfig(frames=12, val_frames=2, weights={"synthetic": 1.0}, seed=1)
    out = generated_frames(sources, config, label, sha, root=tmp_path)
    frames = read_labels(out / "train")
    assert sum(len(f.faces) for f in frames) >= 12  # every drawn scene has 1-3 faces; YuNet finds most
    assert json.loads((out / "generator.json").read_text())["labeler"] == sha


@pytest.fixture(scope="module")
def locator_run(sources, tmp_path_factory):
    """A tiny locator trained and quantized through the commands (YuNet labels when present, else Haar)."""
    from conftest import YUNET_MODEL

    import train.locator.session as session

    runs = tmp_path_factory.mktemp("locator_runs")
    yunet = YUNET_MODEL if __import__("os").path.isfile(YUNET_MODEL) else None
    mp = pytest.MonkeyPatch()
    mp.setattr(session, "labeler", lambda: (_labeler(yunet), "yunet" if yunet else "haar"))
    mp.setenv("FER_EDGE_CACHE", str(runs / "cache"))
    try:
        argv = ["train", "--preset", "locator", *sum((["--data", s] for s in sources), []), "--frames", "24",
                "--val-frames", "8", "--epochs", "1", "--batch-size", "8", "--input-width", "32", "--input-height", "24", "--width", "2",
                "--depth", "1", "--runs-dir", str(runs), "--name", "tiny"]
        assert main(argv) == 0
        run = runs / "tiny"
        assert main(["quantize", str(run), "--rep-samples", "8", "--min-agreement", "0"]) == 0
        yield run
    finally:
        mp.undo()


def test_train_writes_a_locator_run_and_quantize_its_int8_model(locator_run, capsys):
    spec = LocatorSpec.load(locator_run / "model.spec.json")
    assert (spec.input_width, spec.input_height, spec.grid, spec.preset) == (32, 24, (3, 4), "locator")
    metrics = json.loads((locator_run / "metrics.json").read_text())
    assert "recall" in metrics["locator"]["val"] and metrics["budget"]["macs"] > 0
    int8 = LocatorSpec.load(locator_run / "model_int8.spec.json")
    assert int8.is_quantized and int8.meta["quantization"] == "ptq"
    report = json.loads((locator_run / "quant_report.json").read_text())
    assert report["gate"]["against"] == "the float model's boxes" and report["status"] == "passed"
    assert report["eval_frames"] == 8
    # resuming a finished run reads its frames back from the cache and trains nothing more
    assert main(["train", "--resume", str(locator_run)]) == 0
    assert "best model on val: recall" in capsys.readouterr().out


def test_quantize_gate_fails_on_disagreeing_boxes(locator_run, tmp_path, capsys):
    from quantize.locator import box_gate

    agree = Counts()
    agree.add(np.array([[10, 10, 40, 40]]), np.array([[10, 10, 40, 40]]), 100)
    agree.add(np.zeros((0, 4)), np.array([[50, 50, 30, 30]]), 100)
    gate = box_gate(agree, 95.0)
    assert not gate.passed and gate.recall == 0.5 and gate.precision == 1.0
    assert box_gate(agree, 50.0).passed
    run = tmp_path / "run"
    shutil.copytree(locator_run, run)
    assert main(["quantize", str(run), "--force", "--rep-samples", "8", "--min-agreement", "100.01"]) == 2
    assert main(["quantize", str(run), "--method", "qat", "--force"]) == 2
    assert "quantized after training" in capsys.readouterr().err


def test_evaluate_reports_recall_and_precision_on_labelled_frames(locator_run, tmp_path, capsys):
    frames = tmp_path / "frames"
    (frames / "f").mkdir(parents=True)
    lines = []
    for i, (image, truth) in enumerate(_demo(6)):
        cv2.imwrite(str(frames / "f" / f"{i}.png"), image)
        lines.append(label_line(f"f/{i}.png", (image.shape[1], image.shape[0]), np.array(truth)))
    (frames / "labels.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(locator_run / "model_int8.tflite"), "--data", str(frames), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["frames"] == 6 and result["faces_in_band"] > 0 and result["match_iou"] == 0.5
    assert "recall" in capsys.readouterr().out
    assert main(["evaluate", str(locator_run)]) == 0  # a run directory: its int8 model on its own val frames
    assert "on " in capsys.readouterr().out


def _demo(n):
    from edge_testkit import demo_frames

    return demo_frames(n, seed=2, faces=2)


@pytest.fixture(scope="module")
def big_locator(tmp_path_factory):
    """An int8 locator (untrained) with a 192x144 input: larger than a 160x120 camera frame."""
    from edge.runtime import TFLiteClassifier
    from quantize.convert import convert_int8
    from train.models import build_model

    folder = tmp_path_factory.mktemp("big_locator")
    model = build_model("locator", width=2, depth=1, input_width=192, input_height=144)
    rep = np.random.default_rng(0).uniform(0, 1, (4, 144, 192, 1)).astype(np.float32)
    path = folder / "big_int8.tflite"
    path.write_bytes(convert_int8(model, rep))
    runner = TFLiteClassifier(path)
    LocatorSpec(input_width=192, input_height=144).with_quant(runner.input_quant, runner.output_quant).save(
        spec_path_for(path))
    import tensorflow as tf

    float_path = folder / "float.tflite"
    float_path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    LocatorSpec(input_width=192, input_height=144).save(spec_path_for(float_path))
    bare = folder / "bare" / "nospec_int8.tflite"
    bare.parent.mkdir()
    shutil.copy(path, bare)
    return path, float_path, bare


def test_run_with_the_locator_as_detector_on_the_demo_video(locator_run, int8_model, tmp_path, capsys):
    video = tmp_path / "demo.mp4"
    demo_video(video, 6, fps=10)
    jsonl = tmp_path / "out.jsonl"
    locator = locator_run / "model_int8.tflite"
    assert main(["run", str(int8_model), "--source", str(video), "--detector", str(locator), "--jsonl", str(jsonl)]) == 0
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(records) == 6
    saved = json.loads((tmp_path / "out.config.json").read_text())
    assert saved["detector"] == saved["detector_model"] == str(locator)
    from edge.locator_detector import LocatorDetector

    detector = LocatorDetector(locator)
    gray = cv2.cvtColor(_demo(1)[0][0], cv2.COLOR_BGR2GRAY)
    boxes, landmarks = detector.detect_faces(gray)
    assert landmarks is None and boxes.dtype == np.int32 and boxes.shape[1] == 4
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 0] + boxes[:, 2] <= gray.shape[1]).all()
    areas = boxes[:, 2] * boxes[:, 3]
    assert (np.diff(areas) <= 0).all()  # largest first, as every FaceDetector
    assert sorted(map(tuple, detector.locate(gray).boxes.tolist())) == sorted(map(tuple, boxes.tolist()))


def test_bad_locators_and_frames_are_one_line_errors(big_locator, int8_model, tmp_path, capsys):
    path, float_path, bare = big_locator
    video = tmp_path / "small.mp4"
    demo_video(video, 2, fps=10)
    small = tmp_path / "small_frames"
    small.mkdir()
    cv2.imwrite(str(small / "0.png"), np.full((120, 160, 3), 80, np.uint8))
    base = ["run", str(int8_model), "--source", str(small)]
    assert main([*base, "--detector", str(path)]) == 2
    one_line_error(capsys, "160x120 is smaller than the face locator's 192x144 input")
    assert main([*base, "--detector", str(bare)]) == 2
    one_line_error(capsys, "no spec beside the face locator", "nospec_int8.spec.json")
    assert main([*base, "--detector", str(float_path)]) == 2
    one_line_error(capsys, "a float locator", "fer-edge quantize")
    assert main(["run", str(path), "--source", str(small)]) == 2  # a locator where the expression model goes
    one_line_error(capsys, "a face locator's spec, not an expression model's")
    assert main([*base, "--detector", str(path), "--detector-model", str(float_path)]) == 2
    one_line_error(capsys, "a face locator is its own model")


def test_locator_clips_benchmark_compares_with_yunet(locator_run, sources, int8_model, yunet_model, tmp_path,
                                                      monkeypatch, capsys):
    import train.datasets.locator_frames as frames
    from benchmarks.locator_clips import main as locator_clips
    from benchmarks.locator_clips import make_clips

    monkeypatch.setattr(frames, "held_out", lambda name: name in ("p0.png", "p3.png"))
    clips = tmp_path / "clips"
    counts = make_clips(clips, __import__("pathlib").Path(sources[0]), hold=3, size=(320, 240), fps=10.0, views=2)
    assert counts == {"angry": 1, "happy": 1}  # p0 (class 0) and p3 (class 3), two views of three frames each
    out = tmp_path / "result.json"
    assert locator_clips([str(locator_run / "model_int8.tflite"), "--out", str(clips), "--model", str(int8_model),
                          "--detector-model", str(yunet_model), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["detection"]["frames"] == 12 and set(result["reads"]) == {"yunet", "locator"}
    assert "through the locator" in capsys.readouterr().out


def test_mirrored_batches_carry_mirrored_targets():
    import tensorflow as tf

    from train.locator.session import _mirror
    from train.locator.targets import encode

    box = np.array([[21.0, 5.0, 9.0, 11.0]])  # centre (25.5, 10.5) in a 64x48 input: cell (1, 3), offset (0.1875, 0.3125)
    mirrored = np.array([[64 - 21.0 - 9.0, 5.0, 9.0, 11.0]])
    images = np.random.default_rng(0).uniform(0, 1, (16, 48, 64, 1)).astype(np.float32)
    targets = np.stack([encode(box, 64, 48, 8)] * 16)
    out_images, out_targets = (t.numpy() for t in _mirror(tf.constant(images), tf.constant(targets),
                                                          tf.constant([1, 2], tf.int64)))
    flipped = np.all(out_images == images[:, :, ::-1], axis=(1, 2, 3))
    assert 0 < flipped.sum() < 16 and np.all(out_images[~flipped] == images[~flipped])
    assert np.allclose(out_targets[flipped], encode(mirrored, 64, 48, 8), atol=1e-6)
    assert np.allclose(out_targets[~flipped], targets[~flipped])
