"""Presets build within their budgets, wrap for QAT, and the budget numbers match a hand computation."""

import importlib

import pytest

from edge.core.errors import UserError
from edge.core.spec import DEFAULT_SPEC

keras = pytest.importorskip("tf_keras")
budget = importlib.import_module("train.budget")  # after the skip: both import tf_keras
models = importlib.import_module("train.models")
check_fits, model_budget, parse_bytes = budget.check_fits, budget.model_budget, budget.parse_bytes
PRESETS, build_model = models.PRESETS, models.build_model

L = keras.layers
QAT_AND_TFLM_LAYERS = {"InputLayer", "Conv2D", "DepthwiseConv2D", "BatchNormalization", "ReLU", "MaxPooling2D",
                       "AveragePooling2D", "GlobalAveragePooling2D", "Dense", "Dropout", "Flatten", "Reshape",
                       "Softmax", "Add"}
# (max int8 weight bytes, max peak activation bytes, MAC range): the design targets of each preset
TARGETS = {
    "seed": (900_000, 90_000, (8e6, 11e6)),
    "micro": (150_000, 64 * 1024, (10e6, 25e6)),
    "micro_ds": (80_000, 64 * 1024, (2e6, 6e6)),
    "pi": (4_000_000, 256 * 1024, (50e6, 200e6)),
}


@pytest.fixture(scope="module", params=sorted(PRESETS))
def preset(request):
    return request.param, build_model(request.param)


def test_preset_contract_and_budget(preset):
    name, model = preset
    assert model.input_shape == (None, *DEFAULT_SPEC.input_shape)
    assert model.output_shape == (None, DEFAULT_SPEC.num_classes)
    assert type(model.layers[-1]).__name__ == "Softmax"
    assert {type(layer).__name__ for layer in model.layers} <= QAT_AND_TFLM_LAYERS
    b = model_budget(model)
    max_weights, max_act, (lo, hi) = TARGETS[name]
    assert b.params == model.count_params()
    assert b.int8_weight_bytes <= max_weights and b.peak_activation_bytes <= max_act
    assert lo <= b.macs <= hi


def test_micro_ds_is_micro_with_separable_stages():
    micro, ds = build_model("micro"), build_model("micro_ds")
    convs = [layer for layer in ds.layers if type(layer).__name__ == "Conv2D"]
    assert convs[0].name == "stem_conv" and convs[0].kernel_size == (3, 3)
    assert all(layer.kernel_size == (1, 1) for layer in convs[1:]) and len(convs) == 1 + 3 * 2
    assert [t.shape[1] for t in (ds.get_layer("s1b1_pw_relu").output, ds.get_layer("s3b1_pw_relu").output)] == [24, 6]
    assert ds.get_layer("s3b1_pw_relu").output.shape[-1] == micro.get_layer("s3b1_pw_relu").output.shape[-1] == 128
    assert model_budget(ds).macs * 4 < model_budget(micro).macs


def test_preset_wraps_for_quantization_aware_training(preset):
    tfmot = pytest.importorskip("tensorflow_model_optimization")
    name, model = preset
    qat = tfmot.quantization.keras.quantize_model(model)
    assert qat.output_shape == model.output_shape


def test_presets_take_tuner_knobs():
    small, big = build_model("micro", width=8, depth=1, dropout=0.1), build_model("micro", width=16, depth=2)
    assert model_budget(small).macs < model_budget(big).macs
    assert small.get_layer("dropout").rate == pytest.approx(0.1)
    with pytest.raises(UserError, match="no option"):
        build_model("micro", colour=3)
    with pytest.raises(UserError, match="unknown preset"):
        build_model("huge")
    with pytest.raises(UserError, match="dropout"):
        build_model("pi", dropout=1.5)


def test_budget_matches_hand_computation():
    """8x8x2 -> conv3x3(4, BN, ReLU) = A -> conv1x1(4) = B -> Add(A, B) = C -> GAP -> Dense(3) -> Softmax."""
    inputs = keras.Input((8, 8, 2))
    a = L.ReLU()(L.BatchNormalization()(L.Conv2D(4, 3, padding="same", use_bias=False)(inputs)))
    b = L.Conv2D(4, 1)(a)
    x = L.Dense(3)(L.GlobalAveragePooling2D()(L.Add(name="add")([a, b])))
    model = keras.Model(inputs, L.Softmax()(x))
    budget = model_budget(model)
    # conv1: 64 px * 4 out * 9*2 = 4608; conv2: 64 * 4 * 4 = 1024; dense: 4 * 3 = 12
    assert budget.macs == 4608 + 1024 + 12
    # int8 kernels + int32 bias per output channel (BN folds into conv1's bias): (72+16) + (16+16) + (12+12)
    assert budget.int8_weight_bytes == 144
    assert budget.params == 72 + 16 + 20 + 15  # conv1, BN (4 x 4), conv2 + bias, dense + bias
    # at the add, A (256 B, BN and ReLU fused into conv1), B (256) and C (256) are alive
    assert (budget.peak_activation_bytes, budget.peak_layer) == (768, "add")


def test_sequential_peak_is_input_plus_output():
    model = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(4, 3, padding="same"), L.MaxPooling2D(),
                              L.Flatten(), L.Dense(3), L.Softmax()])
    b = model_budget(model)
    assert b.peak_activation_bytes == 64 + 256  # conv: 8x8x1 in, 8x8x4 out
    assert b.int8_weight_bytes == 36 + 16 + 64 * 3 + 12


@pytest.mark.parametrize("text, expected", [("150KB", 150_000), ("64KiB", 65_536), ("2MB", 2_000_000),
                                            ("1.5MiB", 1_572_864), ("4096", 4096), (" 10 kb ", 10_000)])
def test_parse_bytes(text, expected):
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("bad", ["lots", "64 parsecs", "-5KB", "0"])
def test_parse_bytes_rejects(bad):
    with pytest.raises(UserError):
        parse_bytes(bad)


def test_check_fits_names_the_numbers():
    budget = model_budget(build_model("micro"))
    check_fits(budget, "micro", 150_000, 64 * 1024)
    with pytest.raises(UserError) as e:
        check_fits(budget, "micro", max_flash=50_000, max_ram=10_000)
    msg = str(e.value)
    assert f"{budget.int8_weight_bytes:,}" in msg and "50,000" in msg and "10,000" in msg
