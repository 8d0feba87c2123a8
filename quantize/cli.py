"""``fer-edge quantize RUN_DIR``: PTQ and/or QAT full-int8 models, evaluated and gated against float.

Standard library only at top level (the dispatcher imports this module to build ``--help``).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

HELP = "quantization-aware training and full-int8 TFLite, gated on accuracy"  # fer-edge --help
NEEDS = ("tensorflow", "tf_keras", "tensorflow_model_optimization")  # what run() imports, which this extra installs:
EXTRA = "train"  # pip install 'fer-edge[train]'

#: exit code when the chosen int8 model loses more accuracy than --max-drop allows
GATE_FAILED = 4


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of accuracy points (e.g. 1.0), got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number of accuracy points, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory made by fer-edge train (runs/<name>)")
    parser.add_argument("--method", choices=("auto", "ptq", "qat"), default="auto",
                        help="post-training quantization, quantization-aware training, or both and keep the more "
                             "accurate on the evaluation split (default: auto)")
    parser.add_argument("--qat-epochs", type=int, default=3, metavar="N", help="QAT fine-tuning epochs (default: 3)")
    parser.add_argument("--qat-lr", type=float, default=1e-4, metavar="LR",
                        help="QAT fine-tuning learning rate (default: 1e-4)")
    parser.add_argument("--qat-batch-size", type=int, default=None, metavar="N",
                        help="QAT batch size (default: the run's own)")
    parser.add_argument("--rep-samples", type=int, default=500, metavar="N",
                        help="training images (stratified, seeded) that calibrate the int8 ranges (default: 500)")
    parser.add_argument("--max-drop", type=_finite_float, default=1.0, metavar="POINTS",
                        help="fail (exit 4) if the int8 model's accuracy is more than this many points below "
                             "the float model's on the evaluation split (default: 1.0)")
    parser.add_argument("--min-agreement", type=_finite_float, default=95.0, metavar="PERCENT",
                        help="a face locator run: fail (exit 4) unless the int8 boxes match the float model's with "
                             "recall and precision of at least this many percent at IoU >= 0.5 (default: 95)")
    parser.add_argument("--float16", action="store_true", help="also write model_float16.tflite (mobile GPU delegates)")
    parser.add_argument("--eval-split", choices=("val", "test", "train"), default="val",
                        help="split that compares float and int8 and picks the method (default: val)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the representative sample and QAT (default: 0)")
    parser.add_argument("--force", action="store_true", help="replace the int8 artifacts of an earlier quantize run")


def run(args: argparse.Namespace) -> int:
    from quantize.config import QuantizeConfig
    from quantize.pipeline import quantize_run

    cfg = QuantizeConfig(method=args.method, qat_epochs=args.qat_epochs, qat_lr=args.qat_lr,
                         qat_batch_size=args.qat_batch_size, rep_samples=args.rep_samples,
                         max_drop=args.max_drop, float16=args.float16, eval_split=args.eval_split, seed=args.seed,
                         min_agreement=args.min_agreement)
    from edge.core.locator_spec import is_locator_spec
    from edge.core.rundir import FLOAT_MODEL

    if is_locator_spec(Path(args.run_dir) / FLOAT_MODEL):
        from quantize.locator import quantize_locator_run

        located = quantize_locator_run(args.run_dir, cfg, force=args.force)
        from quantize.locator import to_markdown

        print(to_markdown(located.report))
        if not located.passed:
            print(f"fer-edge quantize: {located.gate.message}", file=sys.stderr)
            return GATE_FAILED
        return 0
    result = quantize_run(args.run_dir, cfg, force=args.force, verbose=1 if sys.stderr.isatty() else 2)
    from quantize.report import to_markdown

    print(to_markdown(result.report))
    print(f"wrote {result.run_dir}/model_int8.tflite ({result.report['chosen']}) and quant_report.md")
    if not result.passed:
        print(f"fer-edge quantize: {result.gate.message}", file=sys.stderr)
        return GATE_FAILED
    return 0

