"""Bad input to ``fer-edge quantize``: one clear line, a non-zero exit, nothing half-written in the run dir."""



import numpy as np
import pytest
from conftest import build_tiny_keras

from edge.commands.dispatch import main
from edge.core.spec import DEFAULT_SPEC, spec_path_for

pytestmark = [pytest.mark.slow, pytest.mark.requires("tensorflow", "tf_keras", "tensorflow_model_optimization")]


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    """A few noise images per class in the image-folder format (train/ and val/)."""
    import cv2

    root = tmp_path_factory.mktemp("folders")
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for label in DEFAULT_SPEC.labels:
            (root / split / label).mkdir(parents=True)
            for i in range(4):
                cv2.imwrite(str(root / split / label / f"{i}.png"), rng.integers(0, 256, (48, 48), dtype=np.uint8))
    return root


@pytest.fixture
def make_run(tmp_path, tiny_dataset, monkeypatch):
    """make_run(model) -> a run dir with train_config.json and, unless model is None, model.keras + spec."""
    from train.config import TrainConfig

    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))

    def make(model=None):
        run = tmp_path / "run"
        run.mkdir()
        TrainConfig(data=str(tiny_dataset), epochs=1).save(run)
        if model is not None:
            model.save(run / "model.keras")
            DEFAULT_SPEC.save(spec_path_for(run / "model.keras"))
        return run
    return make


def run_quantize(run, *extra, capsys):
    """Exit code and the last stderr line of an in-process ``fer-edge quantize``."""
    code = main(["quantize", str(run), "--qat-epochs", "1", *extra])
    lines = capsys.readouterr().err.strip().splitlines()
    return code, lines[-1] if lines else ""


def nothing_written(run) -> bool:
    from quantize.pipeline import artifact_names

    return not [p.name for p in run.iterdir() if p.name in artifact_names() or p.name.startswith(".")]


def test_run_dir_without_a_model(make_run, capsys):
    run = make_run(None)
    code, err = run_quantize(run, capsys=capsys)
    assert code == 2 and f"{run}: no model.keras" in err and nothing_written(run)
    code, err = run_quantize(run / "nope", capsys=capsys)
    assert code == 2 and "not a directory" in err


def test_keras_file_that_fails_to_load(make_run, capsys):
    run = make_run(None)
    (run / "model.keras").write_bytes(b"this is not a zip archive")
    DEFAULT_SPEC.save(spec_path_for(run / "model.keras"))
    code, err = run_quantize(run, capsys=capsys)
    assert code == 2 and "model.keras: cannot load the Keras model" in err and nothing_written(run)


def _model_with(make_layer):
    import tf_keras as keras

    L = keras.layers
    inputs = keras.Input(DEFAULT_SPEC.input_shape)
    x = make_layer(L.Conv2D(4, 3, strides=4, name="stem")(inputs))
    return keras.Model(inputs, L.Softmax()(L.Dense(7)(L.GlobalAveragePooling2D()(x))))


def test_layer_qat_cannot_wrap(make_run, capsys):
    import tf_keras as keras

    run = make_run(_model_with(lambda x: keras.layers.PReLU(name="learned_relu")(x)))
    code, err = run_quantize(run, capsys=capsys)
    assert code == 2 and "'learned_relu' (PReLU) cannot be wrapped for QAT" in err and "--method ptq" in err
    assert nothing_written(run)
    # ...PTQ needs no wrapping (and TFLite has an int8 PReLU): --method ptq quantizes the same model
    code, err = run_quantize(run, "--method", "ptq", "--max-drop", "100", capsys=capsys)
    assert code == 0 and (run / "model_int8.tflite").is_file(), err


def test_layer_without_int8_kernel_is_refused(make_run, capsys):
    """LayerNormalization: QAT cannot wrap it, and PTQ leaves an int64 tensor -> not full-integer."""
    import tf_keras as keras

    run = make_run(_model_with(lambda x: keras.layers.LayerNormalization(name="odd_norm")(x)))
    code, err = run_quantize(run, capsys=capsys)
    assert code == 2 and "'odd_norm' (LayerNormalization)" in err and nothing_written(run)
    code, err = run_quantize(run, "--method", "ptq", capsys=capsys)
    assert code == 2 and "model_ptq_int8.tflite (PTQ of" in err and "not a full-integer model" in err
    assert ".quantize" not in err and nothing_written(run)


def test_empty_representative_set(make_run, capsys, monkeypatch):
    import train.run_artifacts
    from train.datasets.base import Split

    run = make_run(build_tiny_keras())
    real = train.run_artifacts.load_run_dataset

    def without_train_images(run_dir):
        dataset = real(run_dir)
        dataset.splits["train"] = Split(np.zeros((0, 48, 48), np.uint8), np.zeros(0, np.int64))
        return dataset

    monkeypatch.setattr(train.run_artifacts, "load_run_dataset", without_train_images)
    code, err = run_quantize(run, "--method", "ptq", capsys=capsys)
    assert code == 2 and "no 'train' split with images" in err and nothing_written(run)
    code, err = run_quantize(run, "--rep-samples", "0", capsys=capsys)
    assert code == 2 and "rep_samples must be an integer >= 1" in err and nothing_written(run)


@pytest.mark.parametrize("value", ["abc", "nan", "1.0pt"])
def test_max_drop_not_a_number(make_run, capsys, value):
    run = make_run(None)
    with pytest.raises(SystemExit) as e:
        main(["quantize", str(run), "--max-drop", value])
    assert e.value.code == 2
    assert "--max-drop: expected a" in capsys.readouterr().err and nothing_written(run)


def test_failure_after_conversion_leaves_nothing_behind(make_run, capsys, monkeypatch):
    """PTQ converted and evaluated, then the float16 step fails: the run dir is as it was."""
    import quantize.convert
    from edge.core.errors import UserError

    run = make_run(build_tiny_keras())

    def broken(*args, **kwargs):
        raise UserError("float16 conversion failed (simulated)")

    monkeypatch.setattr(quantize.convert, "convert_float16", broken)
    code, err = run_quantize(run, "--method", "ptq", "--float16", capsys=capsys)
    assert code == 2 and "simulated" in err
    assert nothing_written(run)
    assert sorted(p.name for p in run.iterdir()) == ["model.keras", "model.spec.json", "train_config.json"]
