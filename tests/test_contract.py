import json

import numpy as np
import pytest

from edge.core.errors import UserError
from edge.core.preprocess import normalize, prepare, preprocess
from edge.core.spec import DEFAULT_SPEC, LABELS, ModelSpec, Quant, load_spec_for, spec_path_for


def test_labels_are_in_dataset_order():
    assert LABELS == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert DEFAULT_SPEC.input_shape == (48, 48, 1)


@pytest.mark.parametrize("shape", [(120, 90), (120, 90, 1), (120, 90, 3), (120, 90, 4), (48, 48), (20, 30, 3)])
def test_preprocess_any_crop_to_model_input(shape):
    crop = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    x = preprocess(crop)
    assert x.shape == (48, 48, 1) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0


def test_preprocess_is_prepare_then_normalize_and_gray_equals_bgr_gray():
    gray = np.random.default_rng(1).integers(0, 256, (96, 96), dtype=np.uint8)
    bgr = np.repeat(gray[:, :, None], 3, axis=2)
    np.testing.assert_array_equal(preprocess(gray), preprocess(bgr))
    np.testing.assert_array_equal(preprocess(gray), normalize(prepare(gray)))
    # an already 48x48 crop passes through untouched: pixel p -> p/255
    small = gray[:48, :48]
    np.testing.assert_allclose(preprocess(small)[..., 0], small / 255.0, rtol=1e-6)


def test_preprocess_reuses_output_buffer():
    buf = np.empty((48, 48, 1), np.float32)
    out = preprocess(np.zeros((60, 60), np.uint8), out=buf)
    assert out is buf


@pytest.mark.parametrize("bad", [np.zeros((10, 10), np.float32), np.zeros((10, 10, 2), np.uint8), np.zeros((0, 5), np.uint8)])
def test_preprocess_rejects_bad_crops(bad):
    with pytest.raises(UserError):
        preprocess(bad)


def test_spec_roundtrip_with_quant(tmp_path):
    spec = DEFAULT_SPEC.with_quant(Quant(1 / 255, -128), Quant(1 / 256, -128))
    path = spec_path_for(tmp_path / "m_int8.tflite")
    assert path.name == "m_int8.spec.json"
    spec.save(path)
    assert load_spec_for(tmp_path / "m_int8.tflite") == spec


@pytest.mark.parametrize("patch, needle", [
    ({"labels": ["a"]}, "labels"),
    ({"input_height": 0}, "input_height"),
    ({"interpolation": "lanczos9"}, "interpolation"),
    ({"input_quant": {"scale": -1, "zero_point": 0}}, "scale"),
    ({"colour": "red"}, "unknown spec fields"),
])
def test_spec_rejects_bad_fields(tmp_path, patch, needle):
    d = DEFAULT_SPEC.to_dict() | patch
    path = tmp_path / "bad.spec.json"
    path.write_text(json.dumps(d))
    with pytest.raises(UserError, match=needle):
        ModelSpec.load(path)


def test_missing_spec_is_an_error(tmp_path):
    with pytest.raises(UserError, match="no spec beside the model"):
        load_spec_for(tmp_path / "model.tflite")


def test_resolve_model_default_run_dir_and_errors(tmp_path, monkeypatch):
    from edge.core import rundir

    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(UserError, match="run directory has no model_int8.tflite"):
        rundir.resolve_model(run)
    (run / "model_int8.tflite").write_bytes(b"x")
    assert rundir.resolve_model(run) == run / "model_int8.tflite"
    (tmp_path / "m.keras").write_bytes(b"x")
    with pytest.raises(UserError, match="expected a .tflite"):
        rundir.resolve_model(tmp_path / "m.keras")
    with pytest.raises(UserError, match="no such model file"):
        rundir.resolve_model(tmp_path / "nope.tflite")
    monkeypatch.setattr(rundir, "DEFAULT_MODEL", tmp_path / "missing.tflite")
    with pytest.raises(UserError, match="no model given"):
        rundir.resolve_model(None)
    monkeypatch.setattr(rundir, "DEFAULT_MODEL", run / "model_int8.tflite")
    assert rundir.resolve_model(None) == run / "model_int8.tflite"


def test_shipped_models_by_short_name(tmp_path, monkeypatch):
    """``micro`` and ``pi`` name the shipped int8 models wherever a model is taken (the float .keras when that kind
    comes first); an existing file or folder of that name wins."""
    from edge.core import rundir

    monkeypatch.chdir(tmp_path)
    assert rundir.resolve_model("micro") == rundir.DEFAULT_MODEL
    assert rundir.resolve_model("pi") == rundir.SHIPPED_MODELS / "fer_pi_int8.tflite"
    assert rundir.resolve_model("pi", kinds=(".keras", ".tflite")).name in ("fer_pi.keras", "fer_pi_int8.tflite")
    monkeypatch.setattr(rundir, "SHIPPED_MODELS", tmp_path / "installed")  # an installed package: no .keras
    (tmp_path / "installed").mkdir()
    (tmp_path / "installed" / "fer_pi_int8.tflite").write_bytes(b"x")
    assert rundir.resolve_model("pi", kinds=(".keras", ".tflite")) == tmp_path / "installed" / "fer_pi_int8.tflite"
    with pytest.raises(UserError, match=r"pi: the shipped model has no \.keras .*checkout's models/ only"):
        rundir.resolve_model("pi", "--init model", kinds=(".keras",))
    with pytest.raises(UserError, match="micro: the shipped model has no .tflite"):
        rundir.resolve_model("micro")
    (tmp_path / "pi").mkdir()  # a folder named pi in the current folder is what the user means
    with pytest.raises(UserError, match="pi: run directory has no model_int8.tflite"):
        rundir.resolve_model("pi")
    with pytest.raises(UserError, match="shipped model's name: micro, pi"):
        rundir.resolve_model("mcro")
