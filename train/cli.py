"""``fer-edge train``: train a CNN preset into a run directory (or ``--resume`` one).

Only the standard library is imported here; TensorFlow loads inside ``run``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from edge.core.errors import UserError

HELP = "train a compact CNN preset into a run directory"  # fer-edge --help
NEEDS = ("tensorflow", "tf_keras")  # what run() imports, which this extra installs:
EXTRA = "train"  # pip install 'fer-edge[train]'

_RESUMABLE = {"epochs"}  # the TrainConfig option --resume accepts


def add_arguments(p: argparse.ArgumentParser) -> None:
    from edge.core.cliconfig import add_options
    from train.config import AUGMENTATION, DATA, MODEL, OPTIMISATION, RUN, TrainConfig  # standard library only

    groups = {title: p.add_argument_group(title) for title in (DATA, MODEL, OPTIMISATION, AUGMENTATION, RUN)}
    groups[AUGMENTATION].add_argument("--no-augment", action="store_true", help="switch every augmentation off")
    # unset options stay absent: the defaults live in TrainConfig, and --resume can tell what was given
    add_options(p, TrainConfig, suppress=True, groups=groups)
    g = groups[MODEL]
    g.add_argument("--max-flash", default=None, metavar="BYTES",
                   help="refuse a model whose int8 weights exceed this (e.g. 150KB, 256KiB, 2MB)")
    g.add_argument("--max-ram", default=None, metavar="BYTES",
                   help="refuse a model whose peak int8 activations exceed this (e.g. 64KiB)")
    g = groups[RUN]
    g.add_argument("--name", default=None, help="run name (default: <preset>_<data>, numbered if taken)")
    g.add_argument("--runs-dir", default="runs", help="where run directories go (runs)")
    g.add_argument("--force", action="store_true", help="replace an existing run of the same name")
    g.add_argument("--resume", metavar="RUN_DIR", default=None,
                   help="continue an interrupted run from its last completed epoch (--epochs may raise its limit)")


def config_from_args(args: argparse.Namespace):
    """The TrainConfig of parsed ``fer-edge train`` arguments; data and model paths that exist are made absolute
    (the run directory must find them from anywhere)."""
    from dataclasses import replace

    from edge.core.cliconfig import values_from_args
    from train.config import AugmentConfig, TrainConfig

    values = values_from_args(args, TrainConfig)
    for key in ("data", "init", "teacher"):
        given = values.get(key)
        if isinstance(given, list):
            values[key] = [str(Path(v).resolve()) if v != "zoo" and Path(v).exists() else v for v in given]
        elif given and Path(given).exists():
            values[key] = str(Path(given).resolve())
    augment = AugmentConfig.off() if getattr(args, "no_augment", False) else AugmentConfig()
    return TrainConfig(**{**values, "augment": replace(augment, **values.get("augment", {}))})


def to_argv(cfg) -> list[str]:
    """The ``fer-edge train`` arguments that reproduce ``cfg``: every option that differs from its default."""
    from edge.core.cliconfig import to_argv as config_argv

    return config_argv(cfg)


def _fmt_seconds(s: float) -> str:
    m, s = divmod(int(round(s)), 60)
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s"


def summary(result) -> str:
    from train.scoring import format_report

    st, cfg, b = result.fit.state, result.cfg, result.budget
    sizes = ", ".join(f"{k} {v}" for k, v in result.data["sizes"].items())
    rows = [
        ("run", str(result.run_dir)),
        ("model", f"{cfg.preset} {cfg.preset_options or ''}".strip()),
        ("budget", f"{b.params:,} params, {b.macs / 1e6:.1f} M MACs, int8 weights {b.int8_weight_bytes / 1024:.1f} KiB, "
                   f"peak activations {b.peak_activation_bytes / 1024:.1f} KiB"),
        ("data", f"{result.data['source']} ({result.data['format']}: {sizes})"),
        ("epochs", f"{st.epoch} of {cfg.epochs}" + (f" ({st.stop_reason})" if st.stop_reason else "")),
        ("best epoch", f"{st.best_epoch} ({cfg.monitor} {st.best:.4f})" if st.best is not None else "-"),
        ("replicas", str(result.replicas)),
        ("train time", f"{_fmt_seconds(st.seconds)} in total, {st.seconds / max(st.epoch, 1):.1f} s/epoch"),
    ]
    lines = [f"{k:<11} {v}" for k, v in rows]
    if result.metrics:
        lines += ["", format_report(result.metrics["val"], title="best model on val:")]
        if "test" in result.metrics:
            t = result.metrics["test"]
            lines += ["", f"best model on test: accuracy {t['accuracy']:.4f}   macro-F1 {t['macro_f1']:.4f}   (n={t['n']})"]
        for member in result.metrics.get("sources", []):
            for split in ("val", "test"):
                if split in member:
                    m = member[split]
                    lines.append(f"{member['source']} [{split}]: accuracy {m['accuracy']:.4f}   balanced "
                                 f"{m.get('balanced_accuracy', 0):.4f}   macro-F1 {m['macro_f1']:.4f}   (n={m['n']})")
    return "\n".join(lines)


def run(args) -> int:
    if logging.getLogger().getEffectiveLevel() >= logging.INFO:  # TensorFlow's per-epoch chatter: only with -v
        for name in ("absl", "tensorflow"):
            logging.getLogger(name).setLevel(logging.WARNING)
    cfg = None if args.resume else config_from_args(args)  # option errors before TensorFlow loads
    if args.name is not None and not args.resume:
        from train.run_artifacts import check_run_dir

        check_run_dir(args.runs_dir, args.name, force=args.force)
    from train.budget import parse_bytes
    from train.training_run import resume_run, start_run

    limits = {"max_flash": parse_bytes(args.max_flash) if args.max_flash else None,
              "max_ram": parse_bytes(args.max_ram) if args.max_ram else None}
    if args.resume:
        from edge.core.cliconfig import dests
        from train.config import TrainConfig

        extra = sorted(set(vars(args)) & dests(TrainConfig) - _RESUMABLE)
        if extra or args.no_augment or args.name or args.force:
            raise UserError(f"--resume continues a run with its own train_config.json; only --epochs may change "
                            f"(got {', '.join('--' + e.replace('_', '-') for e in extra) or 'other options'})")
        result = resume_run(args.resume, epochs=getattr(args, "epochs", None), **limits)
    else:
        result = start_run(cfg, runs_dir=args.runs_dir, name=args.name, force=args.force, **limits)
    if result.fit.interrupted:
        st = result.fit.state
        print(f"\ntraining stopped by {result.fit.interrupted} after {st.epoch} completed epoch(s); "
              f"everything up to epoch {st.epoch} is saved.\nresume with: fer-edge train --resume {result.run_dir}",
              file=sys.stderr)
        return 143 if result.fit.interrupted == "SIGTERM" else 130
    print()
    print(summary(result))
    print(f"\nnext: fer-edge evaluate {result.run_dir} [--data SOURCE --split test]   |   fer-edge quantize {result.run_dir}")
    return 0
