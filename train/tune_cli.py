"""``fer-edge tune``: KerasTuner search over a preset's width/depth/dropout/lr/augmentation strength
within a hardware budget. Only the standard library is imported here; TensorFlow loads in ``run``."""

from __future__ import annotations

import argparse

from edge.core.errors import UserError

HELP = "search a preset's width/depth/dropout/lr/augmentation with KerasTuner"  # fer-edge --help
NEEDS = ("tensorflow", "tf_keras", "keras_tuner")  # what run() imports, which this extra installs:
EXTRA = "train"  # pip install 'fer-edge[train]'


def _floats(n: int | None = None):
    def parse(text: str) -> tuple[float, ...]:
        try:
            values = tuple(float(v) for v in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
        if n is not None and len(values) != n:
            raise argparse.ArgumentTypeError(f"expected {n} comma-separated numbers, got {text!r}")
        return values
    return parse


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    from train.config import MONITORS  # standard library only

    S = argparse.SUPPRESS
    p.add_argument("--data", action="append", default=S, metavar="SOURCE",
                   help="dataset (default: the built-in synthetic faces); repeat it to tune on several sources, "
                        "merged per split as `fer-edge train` does")
    p.add_argument("--source-weight", action="append", type=float, default=S, metavar="W",
                   help="with several --data: one weight per source, in order: the share of training batches "
                        "drawn from it (default: in proportion to size)")
    p.add_argument("--monitor", default=S, choices=MONITORS,
                   help="the objective: val_accuracy (merged val splits, default), val_loss, or "
                        "val_source_accuracy (the mean of every source's own val accuracy)")
    p.add_argument("--format", default=S, help="dataset format (default: auto)")
    p.add_argument("--synthetic-per-class", type=int, default=S, metavar="N", help="synthetic training faces per class")
    p.add_argument("--preset", default=S, help="preset to tune: micro (default), seed, pi")
    p.add_argument("--algorithm", default=S, choices=("random", "bayesian", "hyperband"),
                   help="search algorithm (bayesian)")
    p.add_argument("--max-trials", type=int, default=S, help="trials for random/bayesian search (12)")
    p.add_argument("--epochs-per-trial", type=int, default=S, help="training epochs per trial (8)")
    p.add_argument("--train-fraction", type=float, default=S,
                   help="tune on this stratified share of the train split for faster trials (1.0)")
    p.add_argument("--widths", type=_ints, default=S, help="base widths to try (8,12,16,20,24)")
    p.add_argument("--depths", type=_ints, default=S, help="convolutions per stage to try (1,2,3)")
    p.add_argument("--dropout", type=_floats(2), default=S, metavar="LOW,HIGH", help="dropout range (0.1,0.5)")
    p.add_argument("--lr", type=_floats(2), default=S, metavar="LOW,HIGH", help="learning-rate range, log scale (3e-4,3e-3)")
    p.add_argument("--augment-strengths", type=_floats(), default=S, metavar="S,...",
                   help="augmentation strengths to try, 1 = the train defaults, 0 = off (0,0.5,1,1.5)")
    p.add_argument("--max-flash", default=None, metavar="BYTES", help="skip models whose int8 weights exceed this (e.g. 150KB)")
    p.add_argument("--max-ram", default=None, metavar="BYTES", help="skip models whose peak int8 activations exceed this (e.g. 64KiB)")
    p.add_argument("--batch-size", type=int, default=S, help="batch size (32)")
    p.add_argument("--seed", type=int, default=S, help="random seed (0)")
    p.add_argument("--name", default=None, help="tuning directory name under --runs-dir (default: tune_<preset>)")
    p.add_argument("--runs-dir", default="runs", help="where run directories go (runs)")
    p.add_argument("--resume", metavar="DIR", default=None, help="continue a search: completed trials are kept")
    p.add_argument("--force", action="store_true", help="replace an existing tuning directory of the same name")


def _config(args):
    from train.budget import parse_bytes
    from train.config import TrainConfig
    from train.tune import TuneConfig

    given = vars(args)
    train_fields = {"data": "data", "source_weight": "source_weights", "format": "data_format", "preset": "preset",
                    "batch_size": "batch_size", "seed": "seed", "synthetic_per_class": "synthetic_per_class",
                    "monitor": "monitor"}
    train = TrainConfig(**{f: given[o] for o, f in train_fields.items() if o in given})
    search = {k: given[k] for k in ("algorithm", "max_trials", "epochs_per_trial", "train_fraction", "widths",
                                   "depths", "dropout", "lr", "augment_strengths") if k in given}
    return TuneConfig(train=train, **search,
                      max_flash=parse_bytes(args.max_flash) if args.max_flash else None,
                      max_ram=parse_bytes(args.max_ram) if args.max_ram else None)


def run(args) -> int:
    from pathlib import Path

    from train import rundir
    from train.tune import TuneConfig, format_rows, search, train_command

    if args.resume:
        run_dir = Path(args.resume)
        cfg = TuneConfig.load(run_dir)
    else:
        cfg = _config(args)
        run_dir = rundir.create_run_dir(args.runs_dir, args.name or f"tune_{cfg.train.preset}", force=args.force)
        cfg.save(run_dir)
    dataset = rundir.load_config_data(cfg.train)
    for member in dataset.members or [dataset]:
        if "val" not in member.splits or not len(member.splits["val"]):
            raise UserError(f"{member.source}: tuning needs a val split")
    result = search(cfg, run_dir, dataset)
    from train.config import TrainConfig

    print(format_rows(result["trials"], result["objective"]))
    best = TrainConfig.from_dict(result["best_train_config"])
    print(f"\nbest trial {result['best']['trial']}: {result['objective']} {result['best']['score']:.4f} "
          f"within {cfg.epochs_per_trial} epoch(s)\nresults: {run_dir / 'tune_results.md'}\n"
          f"train it fully with:\n  {train_command(best)}")
    return 0
