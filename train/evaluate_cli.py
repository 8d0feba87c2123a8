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
    p.add_argument("model", metavar="MODEL_OR_RUN", help="a .keras/.tflite model (spec beside it), a run directory or "
                   "a shipped model by name: micro, pi (its int8 model; --variant float: its .keras, in a clone)")
    from edge.core.deprecated import add_alias

    p.add_argument("--variant", dest="kind", choices=("float", "int8"), default=None,
                   help="which model of a run directory: float (model.keras, the default) or int8 "
                        "(model_int8.tflite); of a shipped model: int8 (the default) or float")
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
    p.add_argument("--detector-model", metavar="FILE", default=None,
                   help="a face locator on a folder of images without labels.jsonl: the YuNet .onnx that labels them "
                        "(default: $FER_EDGE_DETECTOR_MODEL, then the fetch-models cache)")


def _resolve(args) -> tuple[Path, Path | None]:
    """(model path, run dir whose data to use by default or None)."""
    from edge.core.rundir import SHIPPED_NAMES, is_run_dir, resolve_model
    from train import run_artifacts

    target = Path(args.model)
    if args.model in SHIPPED_NAMES and not target.exists():
        return resolve_model(args.model, kinds=(".keras",) if args.kind == "float" else (".tflite",)), None
    if target.is_dir():
        return run_artifacts.run_model_path(target, args.kind or "float"), target
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
    from edge.evaluate import format_report, metrics_from_predictions, predict_split, require_gray_input
    from train.scoring import predict_fn_for  # imports tf_keras only for a .keras model

    if args.data:
        _refuse_repeated_data(args.data)
    if _locator_target(args.model):
        return _evaluate_locator(args)
    model_path, run_dir = _resolve(args)
    if args.json:
        from edge.core.paths import check_outputs
        from edge.core.spec import spec_path_for

        check_outputs({"--json": args.json}, {"the model": model_path, "the model's spec": spec_path_for(model_path),
                                              **{f"--data {d}": d for d in args.data or ()}})
    spec = load_spec_for(model_path)
    require_gray_input(str(model_path), spec)
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


def _locator_target(model: str) -> bool:
    """Whether MODEL_OR_RUN is a face locator (its spec says so) or a locator's run directory."""
    from edge.core.locator_spec import is_locator_spec
    from edge.core.rundir import FLOAT_MODEL

    path = Path(model)
    return is_locator_spec(path / FLOAT_MODEL if path.is_dir() else path)


def _evaluate_locator(args) -> int:
    """A face locator: recall and precision against YuNet's faces on a folder of frames (edge.locator_eval)."""
    from edge.core import atomic
    from edge.core.rundir import INT8_MODEL
    from edge.locator_detector import LocatorDetector
    from edge.locator_eval import score_folder

    target = Path(args.model)
    model_path = target / INT8_MODEL if target.is_dir() else target
    if model_path.suffix != ".tflite":
        raise UserError(f"{model_path}: a float face locator; evaluate its int8 model (fer-edge quantize makes "
                        "model_int8.tflite; the float model's numbers are in the run's metrics.json)")
    if not model_path.is_file():
        raise UserError(f"{target}: no {INT8_MODEL} (run 'fer-edge quantize {target}' first)")
    if args.data and len(args.data) > 1:
        raise UserError(f"--data given {len(args.data)} times: a face locator is scored on one folder of frames")
    folder = Path(args.data[0]) if args.data else _run_val_frames(target)
    if not folder.is_dir():
        raise UserError(f"--data {folder}: not a folder (expected frames with labels.jsonl, or images for YuNet "
                        "to label)")
    if args.json:
        from edge.core.paths import check_outputs

        check_outputs({"--json": args.json}, {"the model": model_path, "--data": folder})
    detector = LocatorDetector(model_path, args.threads, label=str(model_path))
    labeler = None if (folder / "labels.jsonl").is_file() else _yunet(args.detector_model)
    counts = score_folder(lambda gray: detector.detect_faces(gray)[0], folder, labeler)
    print(f"{model_path} on {folder}: {counts.summary()}")
    for band, c in counts.to_dict()["per_size"].items():
        print(f"  faces {band} of the frame height: {c['found']}/{c['faces']} found")
    if args.json:
        atomic.write_json(args.json, {"model": str(model_path), "data": str(folder), **counts.to_dict()})
    return 0


def _run_val_frames(run_dir: Path) -> Path:
    from edge.core.jsonio import read_json

    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: not inside a run directory, so say which frames to use with --data FOLDER")
    return Path(read_json(run_dir / "data.json", "run data file")["frames"]) / "val"


def _yunet(explicit):
    from edge.detect import YuNetDetector
    from edge.detector_model import detector_model_label, find_detector_model

    path, where = find_detector_model(explicit)
    if path is None:
        return None
    yunet = YuNetDetector(path, label=detector_model_label(path, where))
    return lambda gray: yunet.detect_faces(gray)[0]
