"""The card's text, written from fixed inputs, is the reviewed one in tests/model_card_golden.md.

A deliberate change to the card's wording or layout: regenerate the golden file with
``FER_EDGE_REGENERATE_GOLDEN=1 pytest tests/test_model_card_text.py`` (the test then rewrites it and skips), review
``git diff tests/model_card_golden.md`` and commit it with the change."""

import os
from pathlib import Path

import pytest

from edge.core.atomic import write_text
from edge.core.spec import DEFAULT_SPEC
from model_card.card import CardInputs, card_text
from quantize.config import QuantizeConfig
from train.config import TrainConfig

GOLDEN = Path(__file__).with_name("model_card_golden.md")

labels = list(DEFAULT_SPEC.labels)
conf = [[(i * 7 + j * 3) % 11 + (20 if i == j else 0) for j in range(7)] for i in range(7)]
pc = {c: {"precision": 0.5 + i / 20, "recall": 0.4 + i / 30, "f1": 0.45 + i / 25, "support": 10 + i} for i, c in enumerate(labels)}
report = {"models": {"float": {"accuracy": 0.61, "macro_f1": 0.55},
                     "qat": {"accuracy": 0.6, "macro_f1": 0.54, "agreement_with_float": 0.97, "bytes": 123456,
                             "metrics": {"per_class": pc, "confusion": conf}}},
          "chosen": "qat", "eval_split": "val", "eval_images": 3589, "labels": labels,
          "input_quant": {"scale": 0.00392157, "zero_point": -128}, "seconds": {"ptq": 30, "qat": 200}}
export = {"boards": [{"id": "esp32s3", "flash_needed": 300000, "ram_needed": 120000, "fits": True, "latency_ms": 41.2},
                     {"id": "nano33", "flash_needed": 900000, "ram_needed": 300000, "fits": False, "latency_ms": 180}],
          "arena": {"used": 70000, "recommended": 81920},
          "parity": {"bit_identical": 98, "samples": 100, "max_abs_diff": 1}}
def metrics(data):
    return {"budget": {"params": 54321, "macs": 4.2e6}, "data": data, "epochs_completed": 30, "stop_reason": "early stop",
            "best_epoch": 25, "train_seconds": 1800}
single = {"source": "/data/fer2013", "format": "fer2013-csv", "sizes": {"train": 28709, "val": 3589}}
multi = {"source": "/data/fer2013+/data/expw_train", "format": "mixed", "sizes": {},
         "sources": [{"source": "/data/fer2013", "format": "folders", "counts": {"train": {"a": 10, "b": 5}, "val": {"a": 2}}},
                     {"source": "/data/expw_train", "format": "expw", "counts": {"train": {"a": 7}, "val": {"a": 1}}}],
         "teacher": {"train_accuracy": 0.8, "members": [{"model": "zoo", "train_accuracy": 0.7},
                                                         {"model": "models/fer_pi.keras", "train_accuracy": 0.75}],
                     "weights": [[0.5, 0.5]]}}
cases = [
    ("a", Path("runs/r1"), TrainConfig(data="/data/fer2013"), QuantizeConfig(), metrics(single), None, "", ""),
    ("b", Path("runs/r2"), TrainConfig(data=["/data/fer2013", "/data/expw_train"], teacher=["zoo", "models/fer_pi.keras"],
                                       source_weights=[1.0, 2.0]),
     QuantizeConfig(method="qat"), metrics(multi), 5_000_000, "\n## Side\n\ntable\n", " --eval <x>"),
]



#: set to 1 to rewrite tests/model_card_golden.md from the card as it is now
REGENERATE = "FER_EDGE_REGENERATE_GOLDEN"


def test_card_text_is_the_reviewed_one():
    cards = [card_text(CardInputs(name, run, DEFAULT_SPEC, cfg, qcfg, m, report, export, fb, sbs, args))
             for name, run, cfg, qcfg, m, fb, sbs, args in cases]
    text = "\n=====\n".join(cards)
    if os.environ.get(REGENERATE) == "1":
        write_text(GOLDEN, text)
        pytest.skip(f"{REGENERATE}=1: rewrote {GOLDEN}; review its diff and commit it")
    assert text == GOLDEN.read_text(encoding="utf-8"), (f"the card's text changed; if that is intended, regenerate "
                                                         f"{GOLDEN.name} with {REGENERATE}=1 and review its diff")
