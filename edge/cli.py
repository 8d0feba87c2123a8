"""``fer-edge``: a thin dispatcher that loads a stage only when its subcommand runs.

Each stage exposes a command module with ``add_arguments(parser)`` and ``run(args) -> int``.
Those modules import only the standard library at top level, so ``--help`` works on a Raspberry Pi
with nothing but the edge extra installed; a subcommand whose stage is not installed says what to
install instead of failing with a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
from dataclasses import dataclass

from edge import __version__
from edge.errors import UserError

log = logging.getLogger("fer_edge")
DESCRIPTION = ("fer-edge: train a compact facial-expression CNN, make it int8, run it live on a Raspberry Pi "
               "camera and export it for TensorFlow Lite Micro.")


@dataclass(frozen=True)
class Command:
    module: str
    help: str
    needs: tuple[str, ...] = ()
    extra: str = ""


COMMANDS: dict[str, Command] = {
    "data": Command("train.data_cli", "inspect a dataset: counts per class and split, skipped items, a contact sheet"),
    "train": Command("train.cli", "train a compact CNN preset into a run directory",
                     ("tensorflow", "tf_keras"), "train"),
    "evaluate": Command("train.evaluate_cli", "evaluate a .keras or .tflite model (or a run dir) on a dataset",
                        ("sklearn",), "train"),
    "tune": Command("train.tune_cli", "search a preset's width/depth/dropout/lr/augmentation with KerasTuner",
                    ("tensorflow", "tf_keras", "keras_tuner"), "train"),
    "quantize": Command("quantize.cli", "quantization-aware training and full-int8 TFLite, gated on accuracy",
                        ("tensorflow", "tf_keras", "tensorflow_model_optimization"), "train"),
    "model-card": Command("model_card.cli", "publish a trained, quantized and exported run as a model with its card",
                          ("tensorflow", "tf_keras", "matplotlib"), "train"),
    "export-firmware": Command("firmware_export.cli", "write TensorFlow Lite Micro C/C++ sources for an int8 model",
                               ("flatbuffers", "tflite_micro"), "micro"),
    "export-mobile": Command("mobile_export.cli", "write .tflite files with metadata for MediaPipe Tasks apps, checked in MediaPipe",
                             ("tensorflow", "tf_keras", "ai_edge_litert", "flatbuffers"), "mobile"),
    "collect": Command("edge.collect_cli", "record labelled face crops from a camera or video for fine-tuning"),
    "run": Command("edge.run_cli", "live expression recognition from a camera, video file or image folder"),
    "bench": Command("edge.bench_cli", "per-stage timings of the edge pipeline on a video"),
    "fetch-models": Command("edge.fetch_cli", "download the YuNet face detector and the zoo expression teacher "
                            "(checked, into the cache folder)"),
    "demo-video": Command("train.demo_video", "write a test video of synthetic faces on varied backgrounds"),
}


def _verbosity_parent() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("logging")
    g.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more log output (-vv for debug)")
    g.add_argument("-q", "--quiet", action="count", default=argparse.SUPPRESS, help="less log output")
    return p


def _install_hint(cmd: Command) -> str:
    return f"pip install 'fer-edge[{cmd.extra}]'"


def build_parser(prog: str = "fer-edge", only: str | None = None) -> argparse.ArgumentParser:
    parent = _verbosity_parent()
    parser = argparse.ArgumentParser(prog=prog, parents=[parent], description=DESCRIPTION if only is None else COMMANDS[only].help)
    parser.add_argument("--version", action="version", version=f"fer-edge {__version__}")
    if only is not None:
        _add_stage_arguments(only, parser)
        parser.set_defaults(command=only)
        return parser
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, cmd in COMMANDS.items():
        sp = sub.add_parser(name, help=cmd.help, description=cmd.help, parents=[parent])
        _add_stage_arguments(name, sp)
    return parser


def _add_stage_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    try:
        module = importlib.import_module(COMMANDS[name].module)
    except ModuleNotFoundError as e:  # the stage's own CLI module is missing: packaging problem
        parser.set_defaults(_missing=str(e))
        return
    module.add_arguments(parser)


def setup_logging(verbose: int = 0, quiet: int = 0) -> None:
    level = logging.INFO - 10 * verbose + 10 * quiet
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname).1s %(name)s: %(message)s",
                        stream=sys.stderr)
    if level > logging.DEBUG:  # TensorFlow's C++ logs are noise unless debugging
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: list[str] | None = None, prog: str = "fer-edge", only: str | None = None) -> int:
    parser = build_parser(prog, only)
    args = parser.parse_args(argv)
    setup_logging(getattr(args, "verbose", 0), getattr(args, "quiet", 0))
    from edge.deprecated import warn_deprecated

    warn_deprecated(args, log)
    cmd = COMMANDS[args.command]
    missing = [m for m in cmd.needs if importlib.util.find_spec(m) is None]
    if missing or getattr(args, "_missing", None):
        what = ", ".join(missing) or args._missing
        print(f"{prog}: '{args.command}' needs {what}, which is not installed here: {_install_hint(cmd)}",
              file=sys.stderr)
        return 3
    try:
        module = importlib.import_module(cmd.module)
        return int(module.run(args) or 0)
    except UserError as e:
        print(f"{prog} {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"{prog} {args.command}: interrupted", file=sys.stderr)
        return 130


def stage_main(command: str) -> None:
    """Entry for ``python -m <stage>``: the same as ``fer-edge <command>``."""
    sys.exit(main(sys.argv[1:], prog=f"python -m {COMMANDS[command].module.split('.')[0]}", only=command))


if __name__ == "__main__":
    sys.exit(main())
