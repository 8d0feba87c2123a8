"""``fer-edge train``: train a CNN preset into a run directory (or ``--resume`` one).

Only the standard library is imported here; TensorFlow loads inside ``run``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from edge.core.errors import UserError

log = logging.getLogger(__name__)

HELP = "train a compact CNN preset into a run directory"  # fer-edge --help
NEEDS = ("tensorflow", "tf_keras")  # what run() imports, which this extra installs:
EXTRA = "train"  # pip install 'fer-edge[train]'

# option name -> TrainConfig field, for the options that map one to one
_CONFIG_OPTIONS = {
    "data": "data", "format": "data_format", "val_fraction": "val_fraction", "expw_margin": "framing_margin",
    "expw_min_confidence": "expw_min_confidence", "synthetic_per_class": "synthetic_per_class",
    "preset": "preset", "epochs": "epochs", "batch_size": "batch_size", "lr": "lr", "schedule": "schedule",
    "plateau_patience": "plateau_patience", "min_lr": "min_lr", "patience": "early_stopping_patience",
    "monitor": "monitor", "label_smoothing": "label_smoothing", "class_balance": "class_balance",
    "seed": "seed", "strategy": "strategy", "source_weight": "source_weights", "init": "init",
    "freeze_epochs": "freeze_epochs", "teacher": "teacher", "distill_temperature": "distill_temperature",
    "distill_weight": "distill_weight", "teacher_weight": "teacher_weights", "framing_margin": "framing_margin",
    "framing_align": "framing_align",
}
_PRESET_OPTIONS = ("width", "depth", "dropout")
_AUGMENT_OPTIONS = ("flip", "rotate", "shift", "zoom", "brightness", "contrast", "erase")
_RESUMABLE = {"epochs", "max_flash", "max_ram"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    from train.config import MONITORS, AugmentConfig, TrainConfig  # standard library only: --help stays light

    S = argparse.SUPPRESS  # unset options stay absent: defaults live in TrainConfig, --resume can tell
    cfg, aug = TrainConfig(), AugmentConfig()
    g = p.add_argument_group("data")
    g.add_argument("--data", action="append", default=S, metavar="SOURCE",
                   help="dataset: an image folder (<split>/<class>/), a FER2013 .csv, an ExpW folder, FER+ (its "
                        "FER2013Train/ label.csv folders or fer2013new.csv: the votes as soft targets), "
                        "or 'synthetic[:SEED]' (default: the built-in synthetic faces); repeat it to train on "
                        "several sources, merged per split, each keeping its own val split")
    g.add_argument("--source-weight", type=float, action="append", default=S, metavar="W",
                   help="with several --data: one weight per source, in the same order; training batches draw "
                        "from source i with probability W_i / sum(W) (default: in proportion to their sizes)")
    g.add_argument("--format", default=S, help="dataset format (default: auto)")
    g.add_argument("--val-fraction", type=float, default=S, help=f"held-out fraction when the data has no val split ({cfg.val_fraction})")
    g.add_argument("--synthetic-per-class", type=int, default=S, metavar="N", help="synthetic training faces per class")
    g.add_argument("--expw-margin", type=float, default=S, help="older name of --framing-margin")
    g.add_argument("--framing-margin", type=float, default=S, metavar="FRAC",
                   help="the model's face framing, decided before the data is loaded: the detector's box grown by "
                        "FRAC of its size on every side (negative: shrunk); faces cut from photos (ExpW) are cropped "
                        "so for training, and the live loop cuts this model's faces so (default -0.05)")
    g.add_argument("--framing-align", action=argparse.BooleanOptionalAction, default=S,
                   help="level the eyes with the detector's landmarks when framing faces (default on)")
    g.add_argument("--expw-min-confidence", type=float, default=S, help="ExpW: drop face boxes below this confidence")
    g = p.add_argument_group("model")
    g.add_argument("--preset", default=S, help="model preset: micro (microcontrollers), micro_ds (micro with depthwise-separable stages: fewer "
                   f"Cortex-M4 instructions), seed (the seed project's CNN) or pi (Raspberry Pi); default {cfg.preset}")
    g.add_argument("--width", type=int, default=S, help="preset base width (channels of the first stage)")
    g.add_argument("--depth", type=int, default=S, help="preset convolutions per stage")
    g.add_argument("--dropout", type=float, default=S, help="preset dropout before the classifier")
    g.add_argument("--init", default=S, metavar="MODEL_OR_RUN",
                   help="fine-tune: start from this .keras model's (or run directory's) weights; it must have "
                        "the same preset, options and input contract")
    g.add_argument("--freeze-epochs", type=int, default=S, metavar="N",
                   help="with --init: train only the classifier head (convolutions frozen) for the first N epochs")
    g.add_argument("--teacher", action="append", default=S, metavar="MODEL_OR_RUN",
                   help="knowledge distillation: also learn from this model's soft predictions (.keras, .tflite, "
                        "a run directory, or 'zoo': OpenCV Zoo's expression model trained on in-the-wild faces, "
                        "see fetch-models); computed once per training face and cached. Repeat it for an ensemble")
    g.add_argument("--teacher-weight", type=_weights, action="append", default=S, metavar="W[,W...]",
                   help="with --teacher: this teacher's weight in the ensemble, one number or one per --data source "
                        "(in order); give one --teacher-weight per --teacher (default: equal)")
    g.add_argument("--distill-temperature", type=float, default=S, metavar="T",
                   help=f"softmax temperature of the distillation term ({cfg.distill_temperature})")
    g.add_argument("--distill-weight", type=float, default=S, metavar="A",
                   help=f"weight of the distillation term; the labels get 1 - A ({cfg.distill_weight})")
    g.add_argument("--max-flash", default=None, metavar="BYTES",
                   help="refuse a model whose int8 weights exceed this (e.g. 150KB, 256KiB, 2MB)")
    g.add_argument("--max-ram", default=None, metavar="BYTES",
                   help="refuse a model whose peak int8 activations exceed this (e.g. 64KiB)")
    g = p.add_argument_group("optimisation")
    g.add_argument("--epochs", type=int, default=S, help=f"maximum epochs ({cfg.epochs})")
    g.add_argument("--batch-size", type=int, default=S, help=f"global batch size ({cfg.batch_size})")
    g.add_argument("--lr", type=float, default=S, help=f"Adam learning rate ({cfg.lr})")
    g.add_argument("--schedule", choices=("plateau", "cosine", "constant"), default=S,
                   help=f"LR schedule ({cfg.schedule}; plateau: halve after --plateau-patience epochs without progress)")
    g.add_argument("--plateau-patience", type=int, default=S, help=f"epochs without progress before halving the LR ({cfg.plateau_patience})")
    g.add_argument("--min-lr", type=float, default=S, help=f"lowest learning rate ({cfg.min_lr})")
    g.add_argument("--patience", type=int, default=S, help=f"early stopping patience in epochs, 0 = off ({cfg.early_stopping_patience})")
    g.add_argument("--monitor", choices=MONITORS, default=S,
                   help=f"validation metric choosing the best checkpoint ({cfg.monitor}; val_source_accuracy: the "
                        "mean of every --data source's own val accuracy, so a small source weighs as much as a big one)")
    g.add_argument("--label-smoothing", type=float, default=S, help=f"label smoothing ({cfg.label_smoothing})")
    g.add_argument("--class-balance", choices=("none", "weights", "sqrt-weights", "sampler"), default=S,
                   help=f"imbalanced classes: loss weights, square-root weights, or a class-balanced sampler ({cfg.class_balance})")
    g = p.add_argument_group("augmentation (training batches only)")
    g.add_argument("--no-augment", action="store_true", help="switch every augmentation off")
    g.add_argument("--flip", action=argparse.BooleanOptionalAction, default=S, help=f"random horizontal flip ({'on' if aug.flip else 'off'})")
    g.add_argument("--rotate", type=float, default=S, metavar="DEG", help=f"max rotation in degrees, 0 = off ({aug.rotate})")
    g.add_argument("--shift", type=float, default=S, metavar="FRAC", help=f"max shift, fraction of the size ({aug.shift})")
    g.add_argument("--zoom", type=float, default=S, metavar="FRAC", help=f"max zoom in/out ({aug.zoom})")
    g.add_argument("--brightness", type=float, default=S, metavar="FRAC", help=f"max brightness change ({aug.brightness})")
    g.add_argument("--contrast", type=float, default=S, metavar="FRAC", help=f"max contrast change ({aug.contrast})")
    g.add_argument("--erase", type=float, default=S, metavar="P", help=f"random-erasing probability ({aug.erase})")
    g = p.add_argument_group("run")
    g.add_argument("--name", default=None, help="run name (default: <preset>_<data>, numbered if taken)")
    g.add_argument("--runs-dir", default="runs", help="where run directories go (runs)")
    g.add_argument("--force", action="store_true", help="replace an existing run of the same name")
    g.add_argument("--resume", metavar="RUN_DIR", default=None,
                   help="continue an interrupted run from its last completed epoch (--epochs may raise its limit)")
    g.add_argument("--seed", type=int, default=S, help=f"random seed ({cfg.seed})")
    g.add_argument("--strategy", choices=("default", "mirrored", "multiworker"), default=S,
                   help="tf.distribute strategy: mirrored = this machine's GPUs; multiworker reads TF_CONFIG")


def _weights(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a weight or comma-separated weights, got {text!r}") from None


def _config(args):
    from train.config import AugmentConfig, TrainConfig

    given = vars(args)
    if "expw_margin" in given:
        log.warning("--expw-margin is deprecated: it is the older name of --framing-margin (which wins if both "
                    "are given); use --framing-margin")
    kwargs = {field: given[opt] for opt, field in _CONFIG_OPTIONS.items() if opt in given}  # framing_margin last
    for key in ("data", "init", "teacher"):  # the run dir must find its data and models from anywhere
        values = kwargs.get(key)
        if isinstance(values, list):
            kwargs[key] = [str(Path(v).resolve()) if v != "zoo" and Path(v).exists() else v for v in values]
        elif values and Path(values).exists():
            kwargs[key] = str(Path(values).resolve())
    preset_options = {k: given[k] for k in _PRESET_OPTIONS if k in given}
    augment = AugmentConfig.off() if args.no_augment else AugmentConfig()
    changes = {k: given[k] for k in _AUGMENT_OPTIONS if k in given}
    return TrainConfig(**kwargs, preset_options=preset_options, augment=AugmentConfig(**{**augment.__dict__, **changes}))


def _fmt_seconds(s: float) -> str:
    m, s = divmod(int(round(s)), 60)
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s"


def summary(result) -> str:
    from train.evaluate import format_report

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
    import logging

    if logging.getLogger().getEffectiveLevel() >= logging.INFO:  # TensorFlow's per-epoch chatter: only with -v
        for name in ("absl", "tensorflow"):
            logging.getLogger(name).setLevel(logging.WARNING)
    cfg = None if args.resume else _config(args)  # option errors before TensorFlow loads
    if args.name is not None and not args.resume:
        from train.rundir import check_run_dir

        check_run_dir(args.runs_dir, args.name, force=args.force)
    elif not args.resume:  # the run's name comes later; where it goes can be checked now
        from edge.core.paths import check_outputs

        check_outputs(folders={"--runs-dir": args.runs_dir})
    from train.budget import parse_bytes
    from train.session import resume_run, start_run

    limits = {"max_flash": parse_bytes(args.max_flash) if args.max_flash else None,
              "max_ram": parse_bytes(args.max_ram) if args.max_ram else None}
    if args.resume:
        extra = sorted(set(vars(args)) & (set(_CONFIG_OPTIONS) | set(_PRESET_OPTIONS) | set(_AUGMENT_OPTIONS))
                       - _RESUMABLE)
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
