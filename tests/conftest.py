"""Shared fixtures: tiny models built in seconds, and tools that CI must have."""

from __future__ import annotations

import os
import shutil

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before anything imports TensorFlow
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from edge.spec import DEFAULT_SPEC, spec_path_for


def require_tool(name: str) -> str:
    """Path of an external tool; skip without it locally, but fail in CI (which installs it)."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed; CI installs it with 'make system-deps'")
        pytest.skip(f"{name} not installed (apt-get install it to run this test)")
    return path


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


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """A tiny trained model as .keras, float .tflite and full-int8 .tflite, each with its spec.

    Trained for a few steps on random data: the outputs are not meaningful, the formats are real.
    """
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

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x[i:i + 1]] for i in range(64))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    int8_path = out / "model_int8.tflite"
    int8_path.write_bytes(conv.convert())
    from edge.runtime import TFLiteClassifier

    clf = TFLiteClassifier(int8_path)
    DEFAULT_SPEC.with_quant(clf.input_quant, clf.output_quant).save(spec_path_for(int8_path))
    return {"dir": out, "keras": keras_path, "float": float_path, "int8": int8_path, "x": x[:32]}


#: The real YuNet detector for tests: $FER_EDGE_DETECTOR_MODEL, else ../shared/models/ beside the checkout.
YUNET_MODEL = os.environ.get("FER_EDGE_DETECTOR_MODEL") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "shared", "models", "face_detection_yunet_2023mar.onnx")


@pytest.fixture(autouse=True)
def _no_user_detector_model(monkeypatch, tmp_path_factory):
    """Every test starts with no YuNet in sight (so --detector auto means Haar) unless it asks for
    ``yunet_model``: a developer's cache or environment does not change what a test runs."""
    monkeypatch.delenv("FER_EDGE_DETECTOR_MODEL", raising=False)
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path_factory.getbasetemp() / "empty-fer-edge-cache"))


@pytest.fixture(scope="session")
def yunet_model():
    if not os.path.isfile(YUNET_MODEL):
        pytest.skip(f"YuNet model absent ({YUNET_MODEL}): set FER_EDGE_DETECTOR_MODEL or put "
                    "face_detection_yunet_2023mar.onnx in ../shared/models/")
    from pathlib import Path

    return Path(YUNET_MODEL)
