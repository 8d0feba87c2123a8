"""Quantization-aware training: wrapping, fine-tuning, save/reload in quantize_scope, and what QAT refuses."""



import numpy as np
import pytest
from conftest import build_tiny_keras

from edge.core.errors import UserError

pytestmark = [pytest.mark.slow, pytest.mark.requires("tensorflow", "tf_keras", "tensorflow_model_optimization")]


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 48, 48, 1), dtype=np.float32)
    y = np.eye(7, dtype=np.float32)[rng.integers(0, 7, n)]
    return x, y


def test_qat_model_reloads_in_quantize_scope_with_equal_outputs(tmp_path):
    import tensorflow as tf

    from quantize.convert import convert_int8
    from quantize.gate import verify_full_integer
    from quantize.qat import fine_tune, load_qat_model, make_qat_model, save_qat_model

    float_model = build_tiny_keras(seed=2)
    qat = make_qat_model(float_model)
    assert any(type(layer).__name__ == "QuantizeWrapperV2" for layer in qat.layers)
    x, y = _data()
    history = fine_tune(qat, tf.data.Dataset.from_tensor_slices((x, y)).batch(16), epochs=1, lr=1e-4, verbose=0)
    assert len(history.history["loss"]) == 1
    path = save_qat_model(qat, tmp_path / "model_qat.h5")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model_qat.h5"]  # no temp file left behind
    reloaded = load_qat_model(path)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), qat.predict(x, verbose=0))
    # the reloaded model converts to the same full-integer model
    out = tmp_path / "qat_int8.tflite"
    out.write_bytes(convert_int8(reloaded, x[:16]))
    verify_full_integer(out)
    assert out.read_bytes() == convert_int8(qat, x[:16])


def _model_with(layer_factory):
    import tf_keras as keras

    L = keras.layers
    inputs = keras.Input((48, 48, 1))
    x = L.Conv2D(4, 3, name="conv")(inputs)
    x = layer_factory(x)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, L.Softmax()(L.Dense(7)(x)), name="odd")


def test_layer_qat_cannot_wrap_is_named_with_what_to_do():
    import tf_keras as keras

    from quantize.qat import make_qat_model

    model = _model_with(lambda x: keras.layers.LayerNormalization(name="norm")(x))
    with pytest.raises(UserError) as e:
        make_qat_model(model)
    msg = str(e.value)
    assert "'norm' (LayerNormalization)" in msg and "--method ptq" in msg and "\n" not in msg

    # BatchNormalization is fine after a convolution (folded), but not on its own after pooling

    L = keras.layers
    inputs = keras.Input((48, 48, 1))
    x = L.GlobalAveragePooling2D()(L.Conv2D(4, 3)(inputs))
    x = L.BatchNormalization(name="lonely_bn")(x)
    with pytest.raises(UserError, match="'lonely_bn' \\(BatchNormalization\\)"):
        make_qat_model(keras.Model(inputs, L.Dense(7, activation="softmax")(x)))


def test_nested_model_is_refused_by_name():
    import tf_keras as keras

    from quantize.qat import make_qat_model

    inner = build_tiny_keras()
    outer = keras.Sequential([keras.Input((48, 48, 1)), inner])
    with pytest.raises(UserError, match="'tiny' .*nested"):
        make_qat_model(outer)


def test_float_model_that_fails_to_load(tmp_path):
    import tf_keras as keras

    from quantize.float_model import load_float_model

    with pytest.raises(UserError, match="model file not found"):
        load_float_model(tmp_path / "missing.keras")
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(UserError, match="broken.keras: cannot load the Keras model"):
        load_float_model(broken)
    # safe_mode: a Lambda layer's pickled bytecode is not executed on load
    unsafe = tmp_path / "lambda.keras"
    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    keras.Model(inputs, keras.layers.Dense(7)(keras.layers.Flatten()(x))).save(unsafe)
    with pytest.raises(UserError, match="lambda.keras: cannot load.*safe_mode"):
        load_float_model(unsafe)
