"""``fer-edge export-mobile``: the files load in MediaPipe Tasks' ImageClassifier (the C++ core of the Android,
iOS and web SDKs, run from the separate ``.venv-mobile``), agree with LiteRT on the plain models, carry the
spec's labels and normalisation, and bad input leaves nothing behind.

The shipped micro model (trained on FER2013) is exported: its predictions on the colour synthetic faces spread
over the classes, so top-1 agreement means something. Faces are synthetic only (no dataset, no download).
"""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from edge.commands.dispatch import main
from edge.core.errors import UserError
from edge.core.preprocess import preprocess
from edge.core.spec import load_spec_for, spec_path_for
from edge.runtime import TFLiteClassifier

# export-mobile is a workstation command (the 'mobile' extra): an edge-only environment skips this file.
pytestmark = [pytest.mark.slow, pytest.mark.requires("tensorflow", "tf_keras", "flatbuffers")]

MODELS = Path(__file__).resolve().parent.parent / "models"
MICRO, PI = MODELS / "fer_micro_int8.tflite", MODELS / "fer_pi_int8.tflite"


@pytest.fixture(scope="module")
def mobile_python():
    from mobile_export.env import mobile_python

    try:
        return mobile_python()
    except UserError as e:
        if os.environ.get("CI"):
            pytest.fail(f"{e} (CI creates it with 'make mobile-venv')")
        pytest.skip(str(e))


def run_cli(*args, capsys):
    code = main(["export-mobile", *map(str, args)])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    return code, (lines[-1] if lines else ""), captured.out


@pytest.fixture(scope="module")
def exported(mobile_python, tmp_path_factory):
    out = tmp_path_factory.mktemp("mobile") / "fer_micro_app"
    assert main(["export-mobile", str(MICRO), "--out-dir", str(out)]) == 0
    return out


def test_folder_holds_both_models_with_readme_and_report(exported):
    names = sorted(p.name for p in exported.iterdir())
    assert names == ["README.md", "export_mobile.json", "fer_micro_float16.spec.json", "fer_micro_float16.tflite",
                     "fer_micro_int8.spec.json", "fer_micro_int8.tflite"]
    readme = (exported / "README.md").read_text()
    for needle in ("```kotlin", "```swift", "Not compiled", "FaceDetector", "regionOfInterest", "(pixel - 0) / 255"):
        assert needle in readme
    report = json.loads((exported / "export_mobile.json").read_text())
    assert {f["precision"] for f in report["files"].values()} == {"int8", "float16"}
    assert all(f["agreement"] >= 0.99 and f["faces"] == 200 for f in report["files"].values())


def test_int8_file_is_at_most_5_percent_larger_than_the_plain_model(exported):
    size = (exported / "fer_micro_int8.tflite").stat().st_size
    assert size <= 1.05 * MICRO.stat().st_size, (size, MICRO.stat().st_size)


def test_metadata_reads_back_the_spec(exported, mobile_python):
    from mobile_export.verify import mediapipe_scores

    spec = load_spec_for(MICRO)
    faces = np.zeros((1, 48, 48, 3), np.uint8)
    for name in ("fer_micro_int8.tflite", "fer_micro_float16.tflite"):
        _, answer = mediapipe_scores(mobile_python, exported / name, faces)
        md = answer["metadata"]
        assert md["labels"] == list(spec.labels) and md["packed_files"] == ["labels.txt"]
        assert md["color_space"] == "RGB" and md["license"] == "Apache-2.0" and md["author"] == "fer-edge"
        assert md["name"].startswith("fer-edge fer_micro") and md["version"] and spec.labels[0] in md["description"]
        # the normalisation an app applies, (pixel - mean) / std, is the spec's pixel scaling for every pixel value
        pixels = np.arange(256, dtype=np.float32)
        app = (pixels - np.float32(md["mean"][0])) / np.float32(md["std"][0])
        ours = pixels * np.float32(spec.pixel_scale) + np.float32(spec.pixel_offset)
        assert np.abs(app - ours).max() <= 1e-7


def test_mediapipe_agrees_with_litert_on_200_fresh_colour_faces(exported, mobile_python):
    from mobile_export.verify import check, mediapipe_scores, synthetic_colour_faces

    spec = load_spec_for(MICRO)
    bgr, labels = synthetic_colour_faces(200, spec, seed=7, size=144)  # not the faces export-mobile checked on
    result = check(mobile_python, exported / "fer_micro_int8.tflite", MICRO, spec, bgr, labels)
    assert result.agreement >= 0.99
    assert result.max_abs_diff == 0.0  # grey conversion and 3x shrinking inside the model are cv2's, bit for bit
    mp_scores, _ = mediapipe_scores(mobile_python, exported / "fer_micro_int8.tflite", bgr)
    assert len(set(mp_scores.argmax(1))) >= 3, "the faces must spread over classes for agreement to mean something"
    assert result.accuracy_mediapipe == result.accuracy_litert
    float_result = json.loads((exported / "export_mobile.json").read_text())["files"]["fer_micro_float16.tflite"]
    assert float_result["agreement"] >= 0.99 and float_result["max_abs_diff"] < 0.05


def test_grafted_front_is_bit_exact_with_cv2(tiny_models, tmp_path):
    """No MediaPipe needed: LiteRT on the grafted model == LiteRT on the plain model fed fer-edge's preprocessing
    (cv2 grey, INTER_AREA shrink), for the int8 model (uint8 RGB in) and a float one (float32 RGB in,
    normalised as the metadata says), at the model's size and at 2x and 3x."""
    from mobile_export.model import for_apps, normalization

    rng = np.random.default_rng(3)
    for plain_path in (MICRO, tiny_models["float"]):
        spec = load_spec_for(plain_path)
        plain = TFLiteClassifier(plain_path, spec, delegates=False)
        mean, std = normalization(spec)
        for factor in (1, 2, 3):
            app = tmp_path / f"app{factor}_{plain_path.name}"
            app.write_bytes(for_apps(plain_path.read_bytes(), spec, factor=factor))
            grafted = TFLiteClassifier(app, delegates=False)
            assert grafted.input_shape == (1, 48 * factor, 48 * factor, 3)
            for _ in range(5):  # colour noise: every rounding case of the grey conversion and the shrinking
                bgr = rng.integers(0, 256, (48 * factor, 48 * factor, 3), dtype=np.uint8)
                want = plain.invoke_raw(plain.quantize_input(preprocess(bgr, spec)))
                rgb = np.ascontiguousarray(bgr[:, :, ::-1])
                if grafted.input_dtype == np.uint8:
                    got, want = grafted.invoke_raw(rgb).astype(np.int32), want.astype(np.int32) + 128
                else:
                    got = grafted.invoke_raw((rgb.astype(np.float32) - np.float32(mean)) / np.float32(std))
                assert np.array_equal(got, want), (plain_path.name, factor)
    with pytest.raises(UserError, match="input-factor"):
        for_apps(MICRO.read_bytes(), load_spec_for(MICRO), factor=4)


def test_run_directory_and_model_file_find_their_float_model(tiny_models, tmp_path):
    from mobile_export.export import find_source

    src = find_source(tiny_models["dir"])  # model_int8.tflite + model.keras: a run's layout
    assert src.int8.name == "model_int8.tflite" and src.float_model.name == "model.keras"
    assert find_source(MICRO).float_model == MODELS / "fer_micro.keras" and find_source(MICRO).name == "fer_micro"
    assert find_source(PI).float_model == MODELS / "fer_pi.keras"
    assert find_source(_int8_only(PI, tmp_path)).float_model is None


def _int8_only(model, folder):
    """A copy of a shipped int8 model and its spec with no float model beside it."""
    from edge.core.spec import spec_path_for

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model, folder / model.name)
    shutil.copyfile(spec_path_for(model), spec_path_for(folder / model.name))
    return folder / model.name


def test_an_int8_model_without_float_model_gives_the_int8_file(mobile_python, tmp_path, capsys):
    """What an installed package has (the int8 models only): the default writes the int8 file and says why."""
    out, pi = tmp_path / "pi", _int8_only(PI, tmp_path / "int8_only")
    code, err, _ = run_cli(pi, "--out-dir", out, "--precision", "float16", capsys=capsys)
    assert code == 2 and "no float model" in err and "--precision int8" in err and not out.exists()
    code, err, stdout = run_cli(pi, "--out-dir", out, "--verify-faces", "50", capsys=capsys)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "export_mobile.json", "fer_pi_int8.spec.json",
                                                     "fer_pi_int8.tflite"]
    assert "100.0% of 50 faces" in stdout and "only the int8 file is written" in stdout


def test_bad_input_is_one_line_and_writes_nothing(mobile_python, tmp_path, capsys):
    lonely = tmp_path / "lonely_int8.tflite"
    lonely.write_bytes(MICRO.read_bytes())
    out = tmp_path / "out"
    code, err, _ = run_cli("--precision", "int8", lonely, "--out-dir", out, capsys=capsys)  # MODEL after the option
    assert code == 2 and "no spec beside the model" in err and not out.exists()

    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, err, _ = run_cli(MICRO, "--out-dir", out, capsys=capsys)
    assert code == 2 and "already exists" in err and [p.name for p in out.iterdir()] == ["keep.txt"]

    fresh = tmp_path / "fresh"
    code, err, _ = run_cli(MICRO, "--out-dir", fresh, "--precision", "int8", "--mobile-python", tmp_path / "nope",
                           capsys=capsys)
    assert code == 3 and "make mobile-venv" in err and not fresh.exists()

    truncated = tmp_path / "cut_int8.tflite"
    truncated.write_bytes(MICRO.read_bytes()[:1000])
    load_spec_for(MICRO).save(spec_path_for(truncated))
    code, err, _ = run_cli(truncated, "--out-dir", fresh, "--precision", "int8", capsys=capsys)
    assert code == 2 and "cut_int8.tflite" in err and "not a readable TFLite model" in err and not fresh.exists()
    assert "(error)" not in err and "truncated or corrupt" in err
    assert len(err.splitlines()) == 1
    assert not list(tmp_path.glob(".*"))  # no staging folder left behind


def test_browser_runs_the_same_file_from_a_fake_camera(exported, tmp_path):
    """MediaPipe Tasks for web (npm @mediapipe/tasks-vision, served on 127.0.0.1) in headless Chromium: a fake
    camera plays face crops into a video element; every classified crop agrees with LiteRT on the same pixels."""
    from conftest import require_tool
    from mobile_webkit import TASKS_VISION, run_browser_check

    from mobile_export.verify import synthetic_colour_faces

    chromium = require_tool("chromium")
    if not (TASKS_VISION / "vision_bundle.mjs").is_file():
        pytest.skip(f"{TASKS_VISION} not installed ('make mobile-web' needs npm)")
    spec = load_spec_for(MICRO)
    bgr, _ = synthetic_colour_faces(40, spec, seed=11, size=144)
    answer = run_browser_check(chromium, exported / "fer_micro_int8.tflite", bgr, tmp_path)
    assert answer["ok"], answer.get("error")
    frames = sorted(answer["frames"], key=lambda f: f["index"])
    assert [f["index"] for f in frames] == list(range(40))
    pixels = np.asarray([f["rgb"] for f in frames], np.uint8).reshape(40, 144, 144, 3)
    assert np.abs(pixels[..., ::-1].astype(int) - bgr).mean() < 12  # the camera showed these faces (YUV 4:2:0)
    ref = TFLiteClassifier(MICRO, spec).predict(np.stack([preprocess(p[:, :, ::-1], spec) for p in pixels]))
    web = np.zeros_like(ref)
    for i, f in enumerate(frames):
        for c in f["categories"]:
            web[i, c["index"]] = c["score"]
            assert c["name"] == spec.labels[c["index"]]  # labels read from the file's metadata in the browser
    assert np.array_equal(web.argmax(1), ref.argmax(1))
    assert np.abs(web - ref).max() <= 1e-6
    assert len(set(ref.argmax(1))) >= 3


#: what the train extra adds to the mobile one: export-mobile must not need them
NOT_IN_MOBILE_EXTRA = ("tensorflow_model_optimization", "sklearn", "matplotlib", "keras_tuner", "scipy")


def test_the_float16_conversion_needs_only_the_mobile_extra(tmp_path):
    """Loading and converting the shipped float model (export-mobile's default float16 file) with no tfmot, scikit-learn
    or matplotlib importable: the mobile extra installs none of them."""
    import subprocess
    import sys
    import textwrap

    from edge_testkit import import_blocker

    script = import_blocker(NOT_IN_MOBILE_EXTRA, "not in the mobile extra") + textwrap.dedent("""
        from pathlib import Path
        from mobile_export.export import _float_spec, _plain_model, find_source
        source = find_source("micro")  # the shipped model, by its short name
        path, spec = _plain_model("float16", source, _float_spec(source), Path(sys.argv[1]))
        print(source.float_model.name, path.stat().st_size, spec.input_shape)
    """)
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0, done.stderr[-2000:]
    name, size, shape = done.stdout.split(maxsplit=2)
    assert name == "fer_micro.keras" and int(size) > 100_000 and shape.strip() == "(48, 48, 1)"


def test_a_qat_keras_file_is_told_apart_from_a_float_one(tmp_path):
    import zipfile

    from quantize.float_model import has_qat_wrappers

    assert not has_qat_wrappers(MODELS / "fer_micro.keras")
    qat = tmp_path / "qat.keras"
    with zipfile.ZipFile(qat, "w") as z:
        z.writestr("config.json", '{"class_name": "Sequential", "config": {"layers": [{"class_name": "QuantizeWrapperV2"}]}}')
    assert has_qat_wrappers(qat)


@pytest.mark.requires("tensorflow", "flatbuffers")
@pytest.mark.parametrize("size", [100, 1000, 20000])
def test_export_mobile_on_a_truncated_model_says_what_is_wrong(int8_model, size):
    from edge.core.spec import load_spec_for
    from mobile_export.model import for_apps

    with pytest.raises(UserError) as e:
        for_apps(int8_model.read_bytes()[:size], load_spec_for(int8_model), what="cut_int8.tflite")
    message = str(e.value)
    assert message.startswith("cut_int8.tflite: not a readable TFLite model") and "(error)" not in message
    assert "truncated or corrupt" in message and "\n" not in message
