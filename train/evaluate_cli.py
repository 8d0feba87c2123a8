"""``fer-edge evaluate MODEL_OR_RUN``: accuracy, per-class precision/recall/F1, macro-F1, confusion matrix.

A run directory means its ``model.keras`` (``--model int8``: its ``model_int8.tflite``); any other
path is a ``.keras`` or ``.tflite`` file with its spec beside it. Without ``--data`` a model is
evaluated on the data of the run it belongs to. Only the standard library is imported at top level.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.errors import UserError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL_OR_RUN", help="a .keras/.tflite model (spec beside it) or a run directory")
    p.add_argument("--model", dest="kind", choices=("float", "int8"), default="float",
                   help="which model of a run directory: float (model.keras) or int8 (model_int8.tflite)")
    p.add_argument("--data", metavar="SOURCE", default=None,
                   help="dataset to evaluate on (any format the loaders read; default: the run's own data)")
    p.add_argument("--format", default="auto", help="dataset format (default: auto)")
    p.add_argument("--split", default="val", help="split to evaluate: train, val or test (default: val)")
    p.add_argument("--threads", type=int, default=None, help="interpreter threads for .tflite models")
    p.add_argument("--json", metavar="OUT", default=None, help="also write the metrics as JSON to OUT")


def _resolve(args) -> tuple[Path, Path | None]:
    """(model path, run dir whose data to use by default or None)."""
    from train import rundir

    target = Path(args.model)
    if target.is_dir():
        return rundir.run_model_path(target, args.kind), target
    if not target.is_file():
        raise UserError(f"{target}: no such model file or run directory")
    return target, target.parent if rundir.is_run_dir(target.parent) else None


def run(args) -> int:
    from edge import atomic
    from edge.spec import load_spec_for
    from train.evaluate import evaluate_predictions_on, format_report, predict_fn_for

    model_path, run_dir = _resolve(args)
    spec = load_spec_for(model_path)
    predict = predict_fn_for(model_path, spec, num_threads=args.threads)  # a bad model fails before data loads
    if args.data is not None:
        from train.datasets import load_dataset

        dataset = load_dataset(args.data, format=args.format, spec=spec)
    elif run_dir is not None:
        from train.rundir import load_run_dataset

        dataset = load_run_dataset(run_dir)
    else:
        raise UserError(f"{model_path}: not inside a run directory, so say which data to use with --data SOURCE")
    if args.split not in dataset.splits:
        raise UserError(f"{dataset.source}: no {args.split!r} split (it has {', '.join(dataset.splits)})")
    metrics = evaluate_predictions_on(predict, dataset.splits[args.split], spec)
    metrics = {"model": str(model_path), "data": dataset.source, "split": args.split, **metrics}
    print(format_report(metrics, title=f"{model_path} on {dataset.source} [{args.split}]"))
    if args.json:
        atomic.write_json(args.json, metrics)
    return 0
