"""``fer-edge model-card RUN_DIR --name NAME [--out-dir models]``: publish a quantized, exported run."""

from __future__ import annotations

import argparse

HELP = "publish a trained, quantized and exported run as a model with its card"  # fer-edge --help
NEEDS = ("tensorflow", "tf_keras", "matplotlib")  # what run() imports, which this extra installs:
EXTRA = "train"  # pip install 'fer-edge[train]'


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run that was trained, quantized and exported")
    p.add_argument("--name", required=True, help="file name prefix, e.g. fer_micro")
    from edge.core.deprecated import add_alias

    p.add_argument("--out-dir", dest="out", metavar="DIR", default="models", help="output folder (default: models)")
    add_alias(p, "--out", "--out-dir", "out", metavar="DIR")
    p.add_argument("--firmware", metavar="DIR", default=None,
                   help="the export-firmware output with export.json (default: RUN_DIR/firmware)")
    p.add_argument("--max-float-size", metavar="BYTES", default="1MB",
                   help="ship the float .keras only up to this size (1MB); the int8 model is always shipped")
    p.add_argument("--eval", metavar="SOURCE", action="append", default=[],
                   help="also score the models on this labelled folder (its val or test split, or the whole folder "
                        "when it has none); repeatable")
    p.add_argument("--baseline", metavar="MODEL", action="append", default=[],
                   help="an earlier .keras/.tflite model (e.g. the one this run replaces) to score beside it on the "
                        "same faces; copy it aside first when publishing over it; repeatable")


def run(args) -> int:
    from edge.core.paths import plain_name

    plain_name(args.name, "--name", "the files are written inside --out-dir as NAME_int8.tflite, NAME.md, ...")
    from model_card.card import publish
    from train.budget import parse_bytes

    limit = parse_bytes(args.max_float_size)
    for path in publish(args.run_dir, args.out, args.name, args.firmware, max_float_bytes=limit,
                         evals=args.eval, baselines=args.baseline):
        print(f"wrote {path}")
    return 0
