"""Several datasets in one run: merged per split, each keeping its val split, counted, weighted, scored alone."""

import json

import numpy as np
import pytest
from dataset_fixtures import write_expw, write_folders

from edge.commands.dispatch import main
from edge.core.errors import UserError
from train.config import TrainConfig
from train.datasets.base import Dataset, Split
from train.datasets.merge import format_counts, merge, source_counts

pytest.importorskip("tf_keras")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_EDGE_CACHE", str(tmp_path / "cache"))


def _split(labels, value):
    labels = np.asarray(labels)
    return Split(np.full((len(labels), 48, 48), value, np.uint8), labels)


def test_merge_concatenates_per_split_and_tags_sources():
    a = Dataset("folders", "a", {"train": _split([0, 0, 3], 10), "val": _split([0], 10), "test": _split([3, 3], 10)})
    b = Dataset("expw", "b", {"train": _split([1, 6], 200), "val": _split([6, 1], 200)})
    m = merge([a, b])
    assert list(m.splits) == ["train", "val", "test"] and m.members == [a, b]
    assert m.splits["train"].labels.tolist() == [0, 0, 3, 1, 6]
    assert m.splits["train"].sources.tolist() == [0, 0, 0, 1, 1]
    assert m.splits["val"].sources.tolist() == [0, 1, 1] and m.splits["test"].sources.tolist() == [0, 0]
    assert (m.splits["train"].images[3:] == 200).all()
    counts = source_counts(m)
    assert counts[1]["source"] == "b" and counts[1]["counts"]["val"]["neutral"] == 1
    assert counts[0]["counts"]["train"]["angry"] == 2
    table = format_counts(m)
    assert "merged [train]" in table and "b [val]" in table
    assert merge([a]) is a


def test_source_weights_set_the_share_of_each_source_in_batches():
    import tensorflow as tf

    from train.pipeline import _strata_order, class_weights, strata

    labels = np.array([0] * 90 + [1] * 10 + [2] * 20)
    sources = np.array([0] * 100 + [1] * 20)  # source 1 is a sixth of the data
    ids, probs = strata(labels, sources, [1.0, 1.0], False, 7)
    order = _strata_order(ids, probs, 20_000, tf.constant([3, 4], tf.int64)).numpy()
    assert abs((sources[order] == 1).mean() - 0.5) < 0.02  # weighted 1:1, drawn half the time
    # class-balanced within each source: source 0's two classes get a quarter each
    ids, probs = strata(labels, sources, [1.0, 1.0], True, 7)
    order = _strata_order(ids, probs, 20_000, tf.constant([3, 4], tf.int64)).numpy()
    assert abs((labels[order] == 1).mean() - 0.25) < 0.02 and abs((labels[order] == 2).mean() - 0.5) < 0.02
    # loss weights follow the drawn class mix, not the stored one
    p = probs[ids] / np.bincount(ids, minlength=len(probs))[ids]
    w = class_weights(labels, 7, "weights", p)
    assert w[0] == pytest.approx(w[1]) and w[2] == pytest.approx(w[0] / 2)


def test_config_checks_one_weight_per_source():
    assert TrainConfig(data=["x"]).data == "x"  # one source stays a plain string (older configs read the same)
    cfg = TrainConfig(data=["x", "y"], source_weights=[1, 3])
    assert cfg.sources == ["x", "y"] and cfg.source_weights == [1.0, 3.0]
    with pytest.raises(UserError, match="one positive number per --data source"):
        TrainConfig(data=["x", "y"], source_weights=[1])
    with pytest.raises(UserError, match="one positive number per --data source"):
        TrainConfig(data=["x", "y"], source_weights=[1, 0])


@pytest.mark.slow
def test_train_on_two_sources_counts_weights_and_scores_each(tmp_path, capsys, caplog):
    caplog.set_level("INFO")
    write_folders(tmp_path / "fer", 4, 40)
    write_expw(tmp_path / "expw", 5)
    args = ["train", "--data", str(tmp_path / "fer"), "--data", str(tmp_path / "expw"),
            "--source-weight", "1", "--source-weight", "2", "--monitor", "val_source_accuracy", "--width", "8", "--epochs", "2", "--no-augment",
            "--name", "two", "--runs-dir", str(tmp_path / "runs")]
    assert main(args) == 0
    run = tmp_path / "runs" / "two"
    cfg = json.loads((run / "train_config.json").read_text())
    assert cfg["data"] == [str(tmp_path / "fer"), str(tmp_path / "expw")] and cfg["source_weights"] == [1.0, 2.0]
    data = json.loads((run / "data.json").read_text())
    fer, expw = data["sources"]
    assert fer["counts"]["train"] == dict.fromkeys(fer["counts"]["train"], 4)
    assert sum(expw["counts"]["train"].values()) + sum(expw["counts"]["val"].values()) == 35  # val carved by photo
    assert sum(expw["counts"]["val"].values()) >= 1
    metrics = json.loads((run / "metrics.json").read_text())
    assert [s["source"] for s in metrics["sources"]] == [str(tmp_path / "fer"), str(tmp_path / "expw")]
    assert metrics["sources"][0]["val"]["n"] == 28
    assert metrics["val"]["n"] == 28 + metrics["sources"][1]["val"]["n"]
    out = capsys.readouterr()
    assert "merged [train]" in caplog.text and f"{tmp_path / 'expw'} [val]: accuracy" in out.out
    # evaluate without --data: every source of the run on its own val split, then merged
    assert main(["evaluate", str(run), "--json", str(tmp_path / "e.json")]) == 0
    e = json.loads((tmp_path / "e.json").read_text())
    assert [s["n"] for s in e["sources"]] == [s["val"]["n"] for s in metrics["sources"]]
    assert e["confusion"] == metrics["val"]["confusion"]
    # a missing source fails before anything is trained
    assert main(["train", "--data", str(tmp_path / "fer"), "--data", str(tmp_path / "nope"),
                 "--runs-dir", str(tmp_path / "runs"), "--name", "bad"]) == 2
    assert "nope" in capsys.readouterr().err
    # every epoch records each source's own val accuracy and their mean, which chose the best epoch
    import csv

    with open(run / "history.csv") as f:
        rows = list(csv.DictReader(f))
    per_source = [[float(v) for v in r["val_accuracy_per_source"].split()] for r in rows]
    assert all(len(p) == 2 for p in per_source)
    means = [float(r["val_source_accuracy"]) for r in rows]
    assert means == pytest.approx([sum(p) / 2 for p in per_source], abs=1e-4)
    assert metrics["best_epoch"] == 1 + int(np.argmax(means))
    assert per_source[metrics["best_epoch"] - 1] == pytest.approx(
        [metrics["sources"][0]["val"]["accuracy"], metrics["sources"][1]["val"]["accuracy"]], abs=1e-4)
