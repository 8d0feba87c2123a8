"""Quantize stage, pure parts: config validation, representative sampling, the gate, choosing a method."""

import json

import numpy as np
import pytest

from edge.core.errors import UserError
from edge.core.spec import DEFAULT_SPEC
from quantize.config import QuantizeConfig
from quantize.gate import choose, full_integer_problems, gate
from quantize.representative import as_generator, representative_inputs, sample_indices
from train.datasets.base import Split


@pytest.mark.parametrize("field, value, needle", [
    ("method", "int4", "method"),
    ("qat_epochs", 0, "qat_epochs"),
    ("qat_lr", 0.0, "qat_lr"),
    ("qat_lr", float("nan"), "qat_lr"),
    ("rep_samples", 0, "rep_samples"),
    ("max_drop", float("nan"), "max_drop"),
    ("max_drop", "1.0", "max_drop"),
    ("eval_split", "holdout", "eval_split"),
])
def test_config_rejects_bad_values(field, value, needle):
    with pytest.raises(UserError, match=needle):
        QuantizeConfig(**{field: value})


def test_config_roundtrips_through_json(tmp_path):
    cfg = QuantizeConfig(method="qat", qat_epochs=2, max_drop=-1.0, float16=True)
    path = tmp_path / "quantize_config.json"
    path.write_text(json.dumps(cfg.to_dict()))
    assert QuantizeConfig.load(path) == cfg
    path.write_text(json.dumps({**cfg.to_dict(), "bits": 4}))
    with pytest.raises(UserError, match="unknown quantize config fields.*bits"):
        QuantizeConfig.load(path)


def test_representative_sample_is_stratified_seeded_and_normalized():
    labels = np.repeat(np.arange(7), [100, 10, 50, 200, 60, 40, 40])  # 500 images, imbalanced
    images = np.random.default_rng(0).integers(0, 256, (len(labels), 48, 48), dtype=np.uint8)
    split = Split(images, labels)
    idx = sample_indices(labels, 100, seed=3)
    assert abs(len(idx) - 100) <= 7
    # the class proportions survive (within one image per class), and the rarest class is present
    expected = np.bincount(labels) * 100 / len(labels)
    assert np.all(np.abs(np.bincount(labels[idx], minlength=7) - expected) <= 1)
    np.testing.assert_array_equal(idx, sample_indices(labels, 100, seed=3))
    assert not np.array_equal(idx, sample_indices(labels, 100, seed=4))
    x = representative_inputs(split, 100, DEFAULT_SPEC, seed=3)
    np.testing.assert_allclose(x[..., 0], images[idx] / 255.0, rtol=1e-6)
    assert x.dtype == np.float32 and x.shape == (len(idx), 48, 48, 1)
    batches = list(as_generator(x)())
    assert len(batches) == len(idx) and batches[0][0].shape == (1, 48, 48, 1)
    # asking for more than there is gives everything
    assert len(sample_indices(labels, 10_000, seed=0)) == len(labels)


def test_representative_set_cannot_be_empty():
    empty = Split(np.zeros((0, 48, 48), np.uint8), np.zeros(0, np.int64))
    with pytest.raises(UserError, match="representative set is empty"):
        representative_inputs(empty, 500, DEFAULT_SPEC)
    one = Split(np.zeros((3, 48, 48), np.uint8), np.zeros(3, np.int64))
    with pytest.raises(UserError, match="rep-samples"):
        representative_inputs(one, 0, DEFAULT_SPEC)


def test_gate_compares_accuracy_points():
    g = gate(0.80, 0.795, max_drop=1.0, method="ptq")
    assert g.passed and g.drop_points == pytest.approx(0.5)
    assert "passed" in g.message and "0.50 point" in g.message
    g = gate(0.80, 0.78, max_drop=1.0, method="qat")
    assert not g.passed and "FAILED" in g.message and "2.00" in g.message
    assert gate(0.5, 0.5, max_drop=0.0, method="ptq").passed  # no drop passes a zero gate
    assert not gate(0.5, 0.5, max_drop=-1.0, method="ptq").passed  # a negative gate always trips
    assert gate(0.5, 0.6, max_drop=-1.0, method="ptq").drop_points == pytest.approx(-10.0)


def test_choose_prefers_accuracy_then_macro_f1_then_ptq():
    assert choose({"ptq": {"accuracy": 0.7, "macro_f1": 0.6}, "qat": {"accuracy": 0.72, "macro_f1": 0.5}}) == "qat"
    assert choose({"ptq": {"accuracy": 0.7, "macro_f1": 0.6}, "qat": {"accuracy": 0.7, "macro_f1": 0.5}}) == "ptq"
    assert choose({"ptq": {"accuracy": 0.7, "macro_f1": 0.5}, "qat": {"accuracy": 0.7, "macro_f1": 0.6}}) == "qat"
    assert choose({"ptq": {"accuracy": 0.7, "macro_f1": 0.6}, "qat": {"accuracy": 0.7, "macro_f1": 0.6}}) == "ptq"
    assert choose({"qat": {"accuracy": 0.1, "macro_f1": 0.1}}) == "qat"


def test_gate_checks_every_source_of_a_multi_source_run():
    # merged within the gate, but the small source alone drops 2 points: the gate fails and names it
    g = gate(0.70, 0.698, max_drop=1.0, method="qat",
             sources=[("/d/fer2013", 0.72, 0.72), ("/d/expw_train", 0.40, 0.38)])
    assert not g.passed and g.drop_points == pytest.approx(0.2)
    assert [round(s["drop_points"], 6) for s in g.sources] == [0.0, 2.0]
    assert "FAILED" in g.message and "expw_train 38.00% vs float 40.00%" in g.message and "2.00 > --max-drop 1" in g.message
    assert gate(0.70, 0.698, max_drop=2.0, method="qat",
                sources=[("/d/fer2013", 0.72, 0.72), ("/d/expw_train", 0.40, 0.38)]).passed
    assert gate(0.70, 0.698, 1.0, "ptq").to_dict()["sources"] == []  # one source: the merged check only


def test_choose_by_the_mean_of_the_sources_when_there_are_several():
    src = lambda *accs: {"sources": [{"accuracy": a} for a in accs]}  # noqa: E731
    # PTQ is better merged (the big source), QAT better on the mean of the two sources' own accuracies
    ptq = {"accuracy": 0.70, "macro_f1": 0.6, "metrics": src(0.72, 0.38)}
    qat = {"accuracy": 0.69, "macro_f1": 0.6, "metrics": src(0.71, 0.41)}
    assert choose({"ptq": ptq, "qat": qat}) == "qat"


def test_full_integer_problems_names_float_tensors_and_io():
    t = lambda name, dtype: {"name": name, "dtype": dtype}  # noqa: E731
    ok = [t("in", np.int8), t("conv/bias", np.int32), t("out", np.int8)]
    assert full_integer_problems(ok, [ok[0]], [ok[2]]) == []
    bad = ok + [t("dequant", np.float32)]
    problems = full_integer_problems(bad, [t("in", np.float32)], [ok[2]])
    assert problems == ["input 'in' is float32, not int8", "tensor 'dequant' is float32"]


def test_report_lists_every_source_of_a_run_on_several():
    from quantize import report as rpt

    def metrics(acc_a, acc_b):
        per = {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
        src = [{"source": "/d/fer2013", "n": 10, "accuracy": acc_a, "balanced_accuracy": acc_a, "macro_f1": 0.5},
               {"source": "/d/expw_train/", "n": 4, "accuracy": acc_b, "balanced_accuracy": acc_b, "macro_f1": 0.25}]
        return {"accuracy": 0.6, "macro_f1": 0.5, "per_class": {"a": per, "b": per}, "sources": src}

    models = {"float": rpt.model_entry("model.keras", 100, metrics(0.7, 0.25), None),
              "ptq": rpt.model_entry("model_ptq_int8.tflite", 50, metrics(0.6, 0.5), 0.9)}
    report = rpt.build_report(run_dir="r", eval_split="val", eval_images=14, labels=("a", "b"), models=models,
                              chosen="ptq", gate={"passed": True, "message": "ok"}, int8_spec={},
                              config={"method": "auto"}, seconds={})
    md = rpt.to_markdown(report)
    assert "| fer2013: accuracy (n=10) | 70.00% | 60.00% |" in md
    assert "| expw_train: balanced accuracy | 25.00% | 50.00% |" in md
    assert "| expw_train: macro-F1 | 0.2500 | 0.2500 |" in md
