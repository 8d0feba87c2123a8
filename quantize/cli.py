"""``fer-edge quantize RUN_DIR``: PTQ and/or QAT full-int8 models, evaluated and gated against float.

Standard library only at top level (the dispatcher imports this module to build ``--help``).
"""

from __future__ import annotations

import argparse
import sys

HELP = "quantization-aware training and full-int8 TFLite, gated on accuracy"  # fer-edge --help
NEEDS = ("tensorflow", "tf_keras", "tensorflow_model_optimization")  # what run() imports, which this extra installs:
EXTRA = "train"  # pip install 'fer-edge[train]'

#: exit code when the chosen int8 model loses more accuracy than --max-drop allows
GATE_FAILED = 4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from edge.core.cliconfig import add_options
    from quantize.config import QuantizeConfig  # standard library and edge.core only: --help stays light

    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory made by fer-edge train (runs/<name>)")
    add_options(parser, QuantizeConfig)
    parser.add_argument("--force", action="store_true", help="replace the int8 artifacts of an earlier quantize run")


def config_from_args(args: argparse.Namespace):
    """The QuantizeConfig of parsed ``fer-edge quantize`` arguments."""
    from edge.core import cliconfig
    from quantize.config import QuantizeConfig

    return cliconfig.config_from_args(args, QuantizeConfig)


def to_argv(cfg) -> list[str]:
    """The ``fer-edge quantize RUN_DIR`` options that reproduce ``cfg``: every one that differs from its default."""
    from edge.core import cliconfig

    return cliconfig.to_argv(cfg)


def run(args: argparse.Namespace) -> int:
    from quantize.pipeline import quantize_run

    cfg = config_from_args(args)
    result = quantize_run(args.run_dir, cfg, force=args.force, verbose=1 if sys.stderr.isatty() else 2)
    from quantize.report import to_markdown

    print(to_markdown(result.report))
    print(f"wrote {result.run_dir}/model_int8.tflite ({result.report['chosen']}) and quant_report.md")
    if not result.passed:
        print(f"fer-edge quantize: {result.gate.message}", file=sys.stderr)
        return GATE_FAILED
    return 0

