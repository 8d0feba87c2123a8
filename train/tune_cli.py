"""``fer-edge tune``: KerasTuner search over a preset's width/depth/dropout/lr/augmentation strength
within a hardware budget. Only the standard library is imported here; TensorFlow loads in ``run``."""

from __future__ import annotations

import argparse

from edge.core.errors import UserError

HELP = "search a preset's width/depth/dropout/lr/augmentation with KerasTuner"  # fer-edge --help
NEEDS = ("tensorflow", "tf_keras", "keras_tuner")  # what run() imports, which this extra installs:
EXTRA = "train"  # pip install 'fer-edge[train]'


def add_arguments(p: argparse.ArgumentParser) -> None:
    from edge.core.cliconfig import add_options
    from train.tune_config import TuneConfig  # standard library, edge.core and train.config only

    add_options(p, TuneConfig, suppress=True)
    p.add_argument("--name", default=None, help="tuning directory name under --runs-dir (default: tune_<preset>)")
    p.add_argument("--runs-dir", default="runs", help="where run directories go (runs)")
    p.add_argument("--resume", metavar="DIR", default=None, help="continue a search: completed trials are kept")
    p.add_argument("--force", action="store_true", help="replace an existing tuning directory of the same name")


def config_from_args(args: argparse.Namespace):
    """The TuneConfig of parsed ``fer-edge tune`` arguments."""
    from edge.core import cliconfig
    from train.tune_config import TuneConfig

    return cliconfig.config_from_args(args, TuneConfig)


def to_argv(cfg) -> list[str]:
    """The ``fer-edge tune`` options that reproduce ``cfg``: every one that differs from its default."""
    from edge.core import cliconfig

    return cliconfig.to_argv(cfg)


def run(args) -> int:
    import shlex
    from pathlib import Path

    from train import run_artifacts
    from train.cli import to_argv as train_argv
    from train.tune import format_rows, search
    from train.tune_config import TuneConfig

    if args.resume:
        run_dir = Path(args.resume)
        cfg = TuneConfig.load(run_dir)
    else:
        cfg = config_from_args(args)
        run_dir = run_artifacts.create_run_dir(args.runs_dir, args.name or f"tune_{cfg.train.preset}", force=args.force)
        cfg.save(run_dir)
    dataset = run_artifacts.load_config_data(cfg.train)
    for member in dataset.members or [dataset]:
        if "val" not in member.splits or not len(member.splits["val"]):
            raise UserError(f"{member.source}: tuning needs a val split")
    result = search(cfg, run_dir, dataset)
    from train.config import TrainConfig

    print(format_rows(result["trials"], result["objective"]))
    best = TrainConfig.from_dict(result["best_train_config"])
    print(f"\nbest trial {result['best']['trial']}: {result['objective']} {result['best']['score']:.4f} "
          f"within {cfg.epochs_per_trial} epoch(s)\nresults: {run_dir / 'tune_results.md'}\n"
          f"train it fully with:\n  {shlex.join(['fer-edge', 'train', *train_argv(best)])}")
    return 0
