"""``export-firmware --locator``: the camera pipeline exported, its bad inputs, and its parity in the real TFLM.

A tiny locator (the ``locator`` preset's network at width 4, untrained, its score bias spread so that a few
cells of every frame are peaks) is quantized here in seconds; the expression model is the shipped micro
(``int8_model``). The parity test builds the pipeline against ``FER_EDGE_TFLM_DIR`` (skipped without one,
as the other TFLM tests) and runs a demo video's frames at 160x120 and 320x240 through the C++ and the
Python reference (``edge.frame_pipeline``).
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from conftest import full_int8_tflite, require_tool, tflm_builds

from edge.commands.dispatch import main as fer_edge
from edge.core.errors import UserError
from edge.core.locator_spec import LocatorSpec
from edge.core.spec import ModelSpec, spec_path_for

pytestmark = pytest.mark.requires("tflite_micro", "tensorflow")
TFLM_DIR = os.environ.get("FER_EDGE_TFLM_DIR")
needs_tflm = pytest.mark.skipif(not TFLM_DIR, reason="set FER_EDGE_TFLM_DIR to a tflite-micro checkout "
                                                      "(with its downloads) to build against it")
LOCATOR_SPEC = LocatorSpec(input_width=96, input_height=72, stride=8, score_threshold=0.5, nms_iou=0.4, max_faces=3)


def build_tiny_locator(out_dir, seed: int = 0, width: int = 4, depth: int = 1, score_bias: float = 0.0,
                       spec: LocatorSpec = LOCATOR_SPEC):
    """(int8 .tflite path, float .tflite path) of an untrained locator (the preset's network) with spread face
    logits: its face-score kernel scaled up, its bias ``score_bias``."""
    import tensorflow as tf
    import tf_keras as keras

    from edge.runtime import TFLiteClassifier
    from train.locator.model import build_locator

    keras.utils.set_random_seed(seed)
    model = build_locator(width=width, depth=depth, input_width=spec.input_width, input_height=spec.input_height)
    kernel, bias = model.get_layer("grid").get_weights()
    kernel[:, :, :, 0] *= 40.0  # the face logit varies over the frame: some cells are peaks above 0
    bias[0] = score_bias
    model.get_layer("grid").set_weights([kernel, bias])
    rng = np.random.default_rng(seed)
    frames = rng.random((32, spec.input_height, spec.input_width, 1), dtype=np.float32)
    float_path = out_dir / "locator_float.tflite"
    float_path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    spec.save(spec_path_for(float_path))
    int8_path = out_dir / "locator_int8.tflite"
    int8_path.write_bytes(full_int8_tflite(model, frames))
    clf = TFLiteClassifier(int8_path)
    spec.with_quant(clf.input_quant, clf.output_quant).save(spec_path_for(int8_path))
    return int8_path, float_path


@pytest.fixture(scope="module")
def locators(tmp_path_factory):
    return build_tiny_locator(tmp_path_factory.mktemp("locator"))


def export(model, out, *extra: str) -> int:
    return fer_edge(["export-firmware", str(model), "--out-dir", str(out), "--parity-samples", "4", *extra])


def test_the_export_holds_the_pipeline_and_the_locator(int8_model, locators, tmp_path):
    out = tmp_path / "fw"
    assert export(int8_model, out, "--locator", str(locators[0])) == 0
    for rel in ("fer_model_pipeline.h", "fer_model_pipeline.cc", "fer_image.h", "fer_model_locator_data.cc",
                "fer_model_locator_ops.h", "fer_model_locator_settings.h"):
        assert (out / rel).is_file(), rel
    record = json.loads((out / "export.json").read_text())["pipeline"]["locator"]
    assert record["input"] == [1, 72, 96, 1] and record["output"] == [1, 9, 12, 5]
    assert record["arena"]["recommended"] > record["arena"]["used"] > 0
    settings = (out / "fer_model_locator_settings.h").read_text()
    assert f"#define FER_MODEL_LOCATOR_SCORE_MIN ({record['decode']['score_min']})" in settings
    assert "constexpr double kMargin = -0.05;" in (out / "fer_model_pipeline.cc").read_text()


def one_line_error(capsys, code: int, *needles: str) -> None:
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err


def test_a_locator_without_its_spec_is_one_line(int8_model, locators, tmp_path, capsys):
    bare = tmp_path / "bare.tflite"
    shutil.copy(locators[0], bare)
    one_line_error(capsys, export(int8_model, tmp_path / "fw", "--locator", str(bare)),
                   "--locator", "no spec beside the face locator (expected bare.spec.json")
    assert not (tmp_path / "fw").exists()


def test_a_float_locator_is_one_line(int8_model, locators, tmp_path, capsys):
    one_line_error(capsys, export(int8_model, tmp_path / "fw", "--locator", str(locators[1])),
                   f"--locator {locators[1]}: a float model", "full-int8")


def test_an_expression_model_is_not_a_locator(int8_model, tmp_path, capsys):
    one_line_error(capsys, export(int8_model, tmp_path / "fw", "--locator", str(int8_model)),
                   "not a face locator's spec")


def test_frames_smaller_than_the_locator_input_are_refused(int8_model, locators, tmp_path, capsys):
    from edge.frame_pipeline import FramePipeline

    pipe = FramePipeline(LocatorSpec.load(spec_path_for(locators[0])), ModelSpec.load(spec_path_for(int8_model)),
                         lambda x: np.zeros((1, 9, 12, 5), np.int8), lambda x: np.zeros(7, np.int8))
    with pytest.raises(UserError, match=r"frame: 95x72 is smaller than the face locator's 96x72 input"):
        pipe(np.zeros((72, 95), np.uint8))
    tree = tmp_path / "tflm"  # enough of a checkout to pass its check: the sizes are refused before any build
    for rel in ("tensorflow/lite/micro/tools/make/Makefile", "tensorflow/lite/micro/micro_interpreter.h"):
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text("")
    code = export(int8_model, tmp_path / "fw", "--locator", str(locators[0]), "--parity-sizes", "160x120,80x60",
                  "--verify-tflm", str(tree))
    one_line_error(capsys, code, "--parity-sizes: 80x60 is smaller than the face locator's 96x72 input")
    code = fer_edge(["export-firmware", str(int8_model), "--out-dir", str(tmp_path / "fw"), "--parity-video",
                     str(tmp_path / "clip.mp4")])
    one_line_error(capsys, code, "--parity-video", "needs --locator")


@pytest.fixture(scope="module")
def verified(int8_model, locators, tmp_path_factory):
    if not TFLM_DIR:
        pytest.skip("set FER_EDGE_TFLM_DIR to a tflite-micro checkout (with its downloads) to build against it")
    require_tool("make")
    require_tool("g++")
    from edge.synthetic.video import VideoConfig, write_video

    work = tmp_path_factory.mktemp("pipeline")
    clip = work / "clip.mp4"
    write_video(clip, VideoConfig(frames=12, width=640, height=480, fps=5.0, seed=3))
    out = work / "fw"
    with tflm_builds():
        assert export(int8_model, out, "--locator", str(locators[0]), "--verify-tflm", TFLM_DIR, "--parity-video",
                      str(clip), "--parity-frames", "6") == 0
    return out


@needs_tflm
def test_the_cpp_pipeline_equals_the_python_reference_on_every_frame(verified):
    parity = json.loads((verified / "export.json").read_text())["pipeline"]["parity"]
    assert parity["sizes"] == ["160x120", "320x240"]
    assert parity["frames_compared"] == parity["frames_identical"] == 12
    assert parity["faces"] > 0  # the spread logits make faces of every frame: the crop and classifier ran
    assert 0 < parity["locator_arena_used"] and 0 < parity["classifier_arena_used"]


@pytest.fixture(scope="module")
def measured(int8_model, locators, tmp_path_factory):
    if not TFLM_DIR:
        pytest.skip("set FER_EDGE_TFLM_DIR to a tflite-micro checkout (with its downloads) to build for a Cortex-M4")
    for tool in ("make", "arm-none-eabi-gcc", "qemu-system-arm"):
        require_tool(tool)
    out = tmp_path_factory.mktemp("pipeline_m4") / "fw"
    with tflm_builds():
        assert export(int8_model, out, "--locator", str(locators[0]), "--measure-m4", TFLM_DIR, "--parity-frames",
                      "3") == 0
    return out


@needs_tflm
def test_the_pipeline_is_counted_per_part_on_a_cortex_m4(measured):
    pipeline = json.loads((measured / "export.json").read_text())["pipeline"]
    m = pipeline["measure_m4"]
    assert m["python_identical"] == len(m["frames"]) == 4  # two frames at each size, as the Python reference
    assert {f["size"] for f in m["frames"]} == {"160x120", "320x240"}
    for kernels in ("reference", "cmsis_nn"):
        per_size = pipeline["instructions_per_frame"][kernels]
        for parts in per_size.values():
            assert parts["locator"] > parts["downscale"] > 0 and parts["decode"] > 0
            parts_sum = sum(parts[p] for p in ("downscale", "locator", "decode", "crop", "classifier"))
            assert abs(parts["total"] - parts_sum) < 0.01 * parts["total"]  # the parts are the whole frame
            if parts["faces"][0]:
                assert parts["classifier"] > parts["crop"] > 0
        # the frame's shrink grows with the frame; the locator's input does not
        assert per_size["320x240"]["downscale"] > per_size["160x120"]["downscale"]
    assert m["agreement"]["frames"] == 4
    readme = (measured / "README.md").read_text()
    assert "instructions per frame" in readme and "| CMSIS-NN | 160x120 |" in readme
