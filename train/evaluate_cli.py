"""``fer-edge evaluate MODEL_OR_RUN``: accuracy, per-class precision/recall/F1, macro-F1, confusion matrix.

A run directory means its ``model.keras`` (``--variant int8``: its ``model_int8.tflite``); any other
path is a ``.keras`` or ``.tflite`` file with its spec beside it. Without ``--data`` a model is
evaluated on the data of the run it belongs to. ``--data`` may be repeated: each source is scored on
its own, then all of them merged. Which split is scored: see ``train.eval_data``. Only the standard
library is imported at top level.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from edge.core.errors import UserError

HELP = "evaluate a .keras or .tflite model (or a run dir) on a dataset"  # fer-edge --help
NEEDS = ()  # a .tflite is scored with the edge extra alone (numpy metrics); a .keras says it needs the train extra
EXTRA = ""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL_OR_RUN", help="a .keras/.tflite model (spec beside it) or a run directory")
    from edge.core.deprecated import add_alias

    p.add_argument("--variant", dest="kind", choices=("float", "int8"), default="float",
                   help="which model of a run directory: float (model.keras) or int8 (model_int8.tflite)")
    add_alias(p, "--model", "--variant", "kind", choices=("float", "int8"))
    p.add_argument("--data", metavar="SOURCE", action="append", default=None,
                   help="dataset to evaluate on (any format the loaders read; repeat for several sources, each "
                        "scored alone and merged; default: the run's own data)")
    p.add_argument("--format", default="auto", help="dataset format (default: auto)")
    p.add_argument("--split", default="auto", choices=("auto", "all", "train", "val", "test"),
                   help="split to evaluate (default auto: the source's val split, else its test split, else the "
                        "whole folder when it has no split folders; all: every face)")
    p.add_argument("--threads", type=int, default=None, help="interpreter threads for .tflite models")
    p.add_argument("--json", metavar="OUT", default=None, help="also write the metrics as JSON to OUT")


def _resolve(args) -> tuple[Path, Path | None]:
    """(model path, run dir whose data to use by default or None)."""
    from edge.core.rundir import is_run_dir
    from train import run_artifacts

    target = Path(args.model)
    if target.is_dir():
        return run_artifacts.run_model_path(target, args.kind), target
    if not target.is_file():
        raise UserError(f"{target}: no such model file or run directory")
    return target, target.parent if is_run_dir(target.parent) else None


def _eval_sets(args, spec, run_dir):
    from train.eval_data import eval_set

    if args.data:
        sets = [eval_set(d, args.split, spec=spec, format=args.format) for d in args.data]
        for s in sets:
            if s.carved:
                logging.getLogger(__name__).warning(
                    "%s: has no %s split of its own; scoring the %d faces training would hold out of it "
                    "(--split all scores every face)", s.source, s.split, len(s.faces))
        return sets
    if run_dir is None:
        raise UserError(f"{args.model}: not inside a run directory, so say which data to use with --data SOURCE")
    from train.config import TrainConfig

    cfg = TrainConfig.load(run_dir)
    split = "val" if args.split == "auto" else args.split  # the run's own held-out faces
    return [eval_set(s, split, spec=spec, **{k: v for k, v in cfg.loader_options_for(s).items() if k != "source"})
            for s in cfg.sources]


def _refuse_repeated_data(data: list[str]) -> None:
    """The same source twice (also as a folder and a file inside it, e.g. ds/expw and ds/expw/label.lst)
    would count every face twice."""
    seen: dict[Path, str] = {}
    for d in data:
        p = Path(d).expanduser()
        key = p.resolve() if p.exists() else Path(d)
        for other, name in seen.items():
            if key == other or other in key.parents or key in other.parents:
                same = f" (as {name} and {d})" if name != d else ""
                raise UserError(f"--data {d}: given twice{same}, which would count every face twice; "
                                "expected each source once")
        seen[key] = d


def run(args) -> int:
    import numpy as np

    from edge.core import atomic
    from edge.core.spec import load_spec_for
    from edge.evaluate import format_report, metrics_from_predictions, predict_split
    from train.scoring import predict_fn_for  # imports tf_keras only for a .keras model

    if args.data:
        _refuse_repeated_data(args.data)
    model_path, run_dir = _resolve(args)
    if args.json:
        from edge.core.paths import check_outputs
        from edge.core.spec import spec_path_for

        check_outputs({"--json": args.json}, {"the model": model_path, "the model's spec": spec_path_for(model_path),
                                              **{f"--data {d}": d for d in args.data or ()}})
    spec = load_spec_for(model_path)
    predict = predict_fn_for(model_path, spec, num_threads=args.threads)  # a bad model fails before data loads
    sets = _eval_sets(args, spec, run_dir)
    results, labels, probs = [], [], []
    for s in sets:
        p = predict_split(predict, s.faces.images, spec)
        labels.append(s.faces.labels)
        probs.append(p)
        metrics = {"model": str(model_path), "data": s.source, "split": s.split,
                   **metrics_from_predictions(s.faces.labels, p, spec.labels)}
        print(format_report(metrics, title=f"{model_path} on {s.source} [{s.split}]"))
        results.append(metrics)
    if len(sets) == 1:
        out = results[0]
    else:
        merged = metrics_from_predictions(np.concatenate(labels), np.concatenate(probs), spec.labels)
        print()
        print(format_report(merged, title=f"{model_path} on all {len(sets)} sources merged"))
        print("\n" + "\n".join(f"{r['data']} [{r['split']}]: accuracy {r['accuracy']:.4f}   balanced "
                               f"{r['balanced_accuracy']:.4f}   macro-F1 {r['macro_f1']:.4f}   (n={r['n']})"
                               for r in results))
        out = {"model": str(model_path), "data": [s.source for s in sets], "split": "+".join(s.split for s in sets),
               **merged, "sources": results}
    if args.json:
        atomic.write_json(args.json, out)
    return 0
