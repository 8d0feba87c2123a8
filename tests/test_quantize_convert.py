"""Full-int8 and float16 conversion of a tiny trained model, run through the real LiteRT interpreter."""



import numpy as np
import pytest
from conftest import build_tiny_keras

from edge.core.errors import UserError
from edge.core.preprocess import normalize
from edge.runtime import TFLiteClassifier

pytestmark = [pytest.mark.slow, pytest.mark.requires("tensorflow", "tf_keras", "tensorflow_model_optimization")]

#: LiteRT's dequantized int8 probabilities vs the float model's on the same inputs. Measured on this
#: tiny model: max 0.013, mean 0.0014; the int8 softmax output itself has a step of 1/256.
MAX_PROB_DIFF = 0.05
MEAN_PROB_DIFF = 0.01


def patterned_faces(n_per_class: int, seed: int, noise: float = 25, min_amplitude: float = 90):
    """uint8 48x48 images whose class is a texture (stripes of one orientation and period) over noise."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(7), n_per_class)
    yy, xx = np.mgrid[0:48, 0:48]
    textures = [np.sin(2 * np.pi * (xx * np.cos(a) + yy * np.sin(a)) / period)
                for a, period in [(0, 4), (0, 10), (np.pi / 2, 4), (np.pi / 2, 10), (np.pi / 4, 6), (-np.pi / 4, 6)]]
    textures.append(np.zeros((48, 48)))
    phase = rng.integers(0, 10, len(labels))
    amplitude = rng.uniform(min_amplitude, 90, len(labels))
    pixels = rng.normal(0, noise, (len(labels), 48, 48))
    pixels += [127 + a * np.roll(textures[c], p, axis=(0, 1)) for c, p, a in zip(labels, phase, amplitude)]
    return np.clip(pixels, 0, 255).astype(np.uint8), labels


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import tf_keras as keras

    images, labels = patterned_faces(60, seed=0)
    x, y = normalize(images), keras.utils.to_categorical(labels, 7)
    model = build_tiny_keras(seed=1)
    model.compile(keras.optimizers.Adam(3e-3), "categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=10, batch_size=32, verbose=0, shuffle=True)
    test_images, test_labels = patterned_faces(10, seed=1)
    return {"model": model, "rep": x[::4], "x_test": normalize(test_images), "y_test": test_labels,
            "dir": tmp_path_factory.mktemp("convert")}


def test_int8_model_is_full_integer_and_close_to_float(trained):
    from quantize.convert import convert_int8
    from quantize.gate import verify_full_integer

    path = trained["dir"] / "m_int8.tflite"
    path.write_bytes(convert_int8(trained["model"], trained["rep"]))
    verify_full_integer(path)
    clf = TFLiteClassifier(path)
    interp = clf.interpreter
    dtypes = {np.dtype(d["dtype"]) for d in interp.get_tensor_details()}
    assert dtypes <= {np.dtype(np.int8), np.dtype(np.int32)}, dtypes
    assert interp.get_input_details()[0]["dtype"] == np.int8
    assert interp.get_output_details()[0]["dtype"] == np.int8
    # the int32 tensors are biases (quantized: they carry scales) or shape operands
    int32 = [d for d in interp.get_tensor_details() if np.dtype(d["dtype"]) == np.int32]
    biases = [d for d in int32 if len(d["quantization_parameters"]["scales"])]
    assert len(biases) == 4  # conv, depthwise conv, conv, dense

    x = trained["x_test"]
    p_float = trained["model"].predict(x, verbose=0)
    p_int8 = clf.predict(x)
    diff = np.abs(p_int8 - p_float)
    assert diff.max() <= MAX_PROB_DIFF and diff.mean() <= MEAN_PROB_DIFF, (diff.max(), diff.mean())
    assert np.allclose(p_int8.sum(axis=1), 1.0, atol=0.05)
    assert (p_int8.argmax(1) == p_float.argmax(1)).mean() >= 0.95
    assert (p_float.argmax(1) == trained["y_test"]).mean() >= 0.9  # the model did learn the textures (measured 1.0)


def test_float16_model_keeps_float_io(trained):
    from quantize.convert import convert_float16

    path = trained["dir"] / "m_float16.tflite"
    path.write_bytes(convert_float16(trained["model"]))
    clf = TFLiteClassifier(path)
    assert clf.input_dtype == np.float32 and clf.output_dtype == np.float32
    p = clf.predict(trained["x_test"][:16])
    np.testing.assert_allclose(p, trained["model"].predict(trained["x_test"][:16], verbose=0), atol=5e-3)


def test_float_tflite_is_not_full_integer(tiny_models):
    from quantize.gate import verify_full_integer

    with pytest.raises(UserError, match="not a full-integer model.*float32"):
        verify_full_integer(tiny_models["float"])
    verify_full_integer(tiny_models["int8"])


def test_empty_representative_set_is_refused(trained):
    from quantize.convert import convert_int8

    with pytest.raises(UserError, match="representative set is empty"):
        convert_int8(trained["model"], np.zeros((0, 48, 48, 1), np.float32))
