"""Each distillation teacher alone, and weighted ensembles, on held-out faces the project never trains on.

    python -m benchmarks.teachers [--json OUT]

Sets (those found): FER2013 PublicTest with its original labels (``$FER_EDGE_DATA/fer2013/val``), FER+'s
votes on the same faces (``$FER_EDGE_DATA/ferplus``, val split; majority label), the ExpW val split that
training carves out of ``expw_train`` (seed 0, 10%, by photo), and ``expw_sample``. ExpW faces are framed
as the shipped models' spec says (``FACE_FRAMING``), and the zoo model sees them in colour, aligned
(``train.teachers``). Prints accuracy, balanced accuracy and the natural-prior accuracy (recall weighted
by full ExpW's class frequencies) per teacher and set.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np

from benchmarks.expw_faces import EXPW_SAMPLE, EXPW_TRAIN
from edge.core.spec import DEFAULT_SPEC, FACE_FRAMING

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FER_EDGE_DATA", "/work/data"))
TEACHERS = {"zoo": "zoo", "fer_micro": str(ROOT / "models" / "fer_micro.keras"),
            "fer_pi": str(ROOT / "models" / "fer_pi_int8.tflite")}
#: (name, {teacher: weight}) ensembles to score beside the teachers alone
ENSEMBLES = [("zoo+fer_micro 1:1", {"zoo": 0.5, "fer_micro": 0.5}),
             ("zoo+fer_micro 85:15", {"zoo": 0.85, "fer_micro": 0.15}),
             ("zoo+fer_pi 1:1", {"zoo": 0.5, "fer_pi": 0.5})]


def held_out_sets():
    """(name, Split) of every held-out set found."""
    from train.datasets import load_dataset

    spec = dataclasses.replace(DEFAULT_SPEC, framing=FACE_FRAMING)
    sets = []
    if (DATA / "fer2013" / "val").is_dir():
        sets.append(("FER2013 val", load_dataset(str(DATA / "fer2013" / "val"), spec=spec, holdout=False)
                     .splits["train"]))
    if (DATA / "ferplus").is_dir():
        sets.append(("FER+ val", load_dataset(str(DATA / "ferplus"), spec=spec).splits["val"]))
    if EXPW_TRAIN.is_dir():
        sets.append(("ExpW val", load_dataset(str(EXPW_TRAIN), spec=spec, teacher_views=True).splits["val"]))
    if EXPW_SAMPLE.is_dir():
        sets.append(("expw_sample", load_dataset(str(EXPW_SAMPLE), spec=spec, holdout=False, teacher_views=True)
                     .splits["train"]))
    return sets


def main(argv=None) -> int:
    from train.scoring import metrics_from_predictions
    from train.teachers import teacher_log_probs_of

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", help="also write the numbers here")
    args = p.parse_args(argv)
    sets = held_out_sets()
    rows = {}
    probs = {name: {s: np.exp(teacher_log_probs_of(path, split, DEFAULT_SPEC, what=s)) for s, split in sets}
             for name, path in TEACHERS.items() if path == "zoo" or Path(path).is_file()}
    for name, weights in ENSEMBLES:
        if all(t in probs for t in weights):
            probs[name] = {s: sum(w * probs[t][s] for t, w in weights.items()) / sum(weights.values()) for s, _ in sets}
    for name, by_set in probs.items():
        rows[name] = {}
        for s, split in sets:
            m = metrics_from_predictions(split.labels, by_set[s], DEFAULT_SPEC.labels)
            rows[name][s] = {k: round(m[k], 4) for k in ("accuracy", "balanced_accuracy", "natural_prior_accuracy")}
    header = "| teacher | " + " | ".join(f"{s} acc / bal / prior" for s, _ in sets) + " |"
    print(header)
    print("|---|" + "---:|" * len(sets))
    for name, by_set in rows.items():
        print(f"| {name} | " + " | ".join(
            f"{100 * r['accuracy']:.1f} / {100 * r['balanced_accuracy']:.1f} / {100 * r['natural_prior_accuracy']:.1f}"
            for r in by_set.values()) + " |")
    print("(n: " + ", ".join(f"{s} {len(split)}" for s, split in sets) + ")")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
