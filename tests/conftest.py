"""Shared fixtures: tiny models built in seconds, and tools that CI must have.

The suite runs in two environments. The full one (``make test``: every extra) runs everything. An
edge-only one, what a Raspberry Pi installs (``pip install '.[edge,dev]'``, no TensorFlow; ``make
test-edge``), runs the edge tests and skips the rest: a test that needs an extra says so with
``@pytest.mark.requires("tensorflow", ...)`` (or calls ``require_modules``), and is skipped only when
that module is not installed at all. A module that is installed but fails to import is a failure, and
in CI's full run a missing module fails too.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

import train  # noqa: F401  (sets TF_USE_LEGACY_KERAS before any test imports TensorFlow)
from edge.core.spec import DEFAULT_SPEC, spec_path_for


def require_tool(name: str) -> str:
    """Path of an external tool; skip without it locally, but fail in CI (which installs it)."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed; CI installs it with 'make system-deps'")
        pytest.skip(f"{name} not installed (apt-get install it to run this test)")
    return path


def missing_modules(*names: str) -> list[str]:
    """The top-level modules among ``names`` that are not installed here (import errors are not hidden)."""
    return [name for name in names if importlib.util.find_spec(name) is None]


def require_modules(*names: str) -> None:
    """Skip unless every module is installed; in CI's full environment (every extra) fail instead."""
    missing = missing_modules(*names)
    if not missing:
        return
    message = f"needs {', '.join(missing)}, not installed in this environment"
    if os.environ.get("CI") and os.environ.get("FER_EDGE_TEST_ENV") != "edge":
        pytest.fail(f"{message}; CI's full run installs every extra ('.[train,edge,micro,dev]')")
    pytest.skip(message)


def pytest_configure(config):
    config.addinivalue_line("markers", "requires(*modules): skip unless these Python modules are installed "
                                       "(an edge-only environment has no TensorFlow)")


@pytest.hookimpl(tryfirst=True)  # before the test's fixtures are set up
def pytest_runtest_setup(item):
    for mark in item.iter_markers("requires"):
        require_modules(*mark.args)


def build_tiny_keras(seed: int = 0):
    """A tiny tf_keras CNN with the ops our presets use: conv, depthwise conv, pool, dense, softmax."""
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    L = keras.layers
    return keras.Sequential([
        L.Input(DEFAULT_SPEC.input_shape),
        L.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
        L.DepthwiseConv2D(3, padding="same", activation="relu"),
        L.MaxPooling2D(),
        L.Conv2D(16, 3, padding="same", activation="relu"),
        L.GlobalAveragePooling2D(),
        L.Dense(DEFAULT_SPEC.num_classes),
        L.Softmax(),
    ], name="tiny")


def full_int8_tflite(model, representative: np.ndarray) -> bytes:
    """A Keras model as full-int8 .tflite bytes (int8 input and output), calibrated on ``representative``."""
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([representative[i:i + 1]] for i in range(len(representative)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """A tiny trained model as .keras, float .tflite and full-int8 .tflite, each with its spec.

    Trained for a few steps on random data: the outputs are not meaningful, the formats are real.
    """
    require_modules("tensorflow", "tf_keras")
    import tensorflow as tf

    out = tmp_path_factory.mktemp("tiny_models")
    rng = np.random.default_rng(0)
    x = rng.random((256, *DEFAULT_SPEC.input_shape), dtype=np.float32)
    y = np.eye(DEFAULT_SPEC.num_classes, dtype=np.float32)[rng.integers(0, DEFAULT_SPEC.num_classes, 256)]
    model = build_tiny_keras()
    model.compile("adam", "categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    keras_path = out / "model.keras"
    model.save(keras_path)
    DEFAULT_SPEC.save(spec_path_for(keras_path))

    float_path = out / "model_float.tflite"
    float_path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    DEFAULT_SPEC.save(spec_path_for(float_path))

    int8_path = out / "model_int8.tflite"
    int8_path.write_bytes(full_int8_tflite(model, x[:64]))
    from edge.runtime import TFLiteClassifier

    clf = TFLiteClassifier(int8_path)
    DEFAULT_SPEC.with_quant(clf.input_quant, clf.output_quant).save(spec_path_for(int8_path))
    return {"dir": out, "keras": keras_path, "float": float_path, "int8": int8_path, "x": x[:32]}


def find_yunet(shared: str | None = None) -> str:
    """The real YuNet detector for tests: $FER_EDGE_DETECTOR_MODEL, else ../shared/models/ beside the checkout, else
    the copy 'fer-edge fetch-models' put in the user's cache (looked up now, before any test points the cache
    elsewhere); the first of them that exists (the first named, when none does)."""
    from edge import detector_model

    shared = shared or os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                    "shared", "models", detector_model.YUNET.name)
    if os.environ.get(detector_model.ENV_MODEL):
        return os.environ[detector_model.ENV_MODEL]
    cached = str(detector_model.cached_path())
    return next((p for p in (shared, cached) if os.path.isfile(p)), shared)


YUNET_MODEL = find_yunet()


@pytest.fixture(autouse=True)
def _no_user_detector_model(monkeypatch, tmp_path_factory):
    """Every test starts with no YuNet in sight (so --detector auto means Haar) unless it asks for
    ``yunet_model``: a developer's cache or environment does not change what a test runs."""
    monkeypatch.delenv("FER_EDGE_DETECTOR_MODEL", raising=False)
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path_factory.getbasetemp() / "empty-fer-edge-cache"))


@contextlib.contextmanager
def tflm_builds():
    """TFLM builds (``--verify-tflm``, ``--measure-m4``) go into ``FER_EDGE_TFLM_CACHE`` when it is set (a folder
    kept between runs: the builds take minutes), else into the test's own empty cache folder."""
    cache = os.environ.get("FER_EDGE_TFLM_CACHE")
    with pytest.MonkeyPatch.context() as mp:
        if cache:
            mp.setenv("FER_EDGE_CACHE", cache)
        yield


@pytest.fixture(scope="session")
def yunet_model():
    if not os.path.isfile(YUNET_MODEL):
        pytest.skip(f"YuNet model absent ({YUNET_MODEL}): run 'fer-edge fetch-models', set FER_EDGE_DETECTOR_MODEL or "
                    "put face_detection_yunet_2023mar.onnx in ../shared/models/")
    from pathlib import Path

    return Path(YUNET_MODEL)


@pytest.fixture(scope="session")
def int8_model(tmp_path_factory):
    """A full-int8 model with its spec that needs no TensorFlow: a copy of the shipped micro model.

    What the edge tests run, in the full environment and in an edge-only one (a Pi) alike.
    """
    from edge.core.rundir import DEFAULT_MODEL

    out = tmp_path_factory.mktemp("int8_model") / "model_int8.tflite"
    shutil.copy(DEFAULT_MODEL, out)
    shutil.copy(spec_path_for(DEFAULT_MODEL), spec_path_for(out))
    return out


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory):
    """(a copy of the checkout, the fer-edge wheel built from it offline): built once for the wheel tests. The copy
    holds a float model that must stay out of the wheel."""
    if missing_modules("setuptools") or (missing_modules("wheel")
                                         and importlib.util.find_spec("setuptools.command.bdist_wheel") is None):
        pytest.skip("building the wheel offline needs setuptools (and wheel, before setuptools 70.1) installed here")
    from wheel_kit import build_wheel, copy_source

    tmp = tmp_path_factory.mktemp("wheel")
    src = copy_source(tmp / "src")
    (src / "models" / "fer_pi.keras").write_bytes(b"a float model that must stay out of the wheel")
    return src, build_wheel(src, tmp / "dist")
