"""``fer-edge export-firmware``: TensorFlow Lite Micro sources for a full-int8 model.

Standard library only at import time (``--help`` reads the board list from ``boards.py``, which needs
nothing else); the stage itself is imported inside ``run``.
"""

from __future__ import annotations

import argparse

HELP = "write TensorFlow Lite Micro C/C++ sources for an int8 model"  # fer-edge --help
NEEDS = ("flatbuffers", "tflite_micro")  # what run() imports, which this extra installs:
EXTRA = "micro"  # pip install 'fer-edge[micro]'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from edge.core.cliconfig import add_options
    from firmware_export.config import ExportConfig  # standard library and edge.core only: --help stays light

    add_options(parser, ExportConfig)


def config_from_args(args: argparse.Namespace):
    """The ExportConfig of parsed ``fer-edge export-firmware`` arguments (the model as given: the export
    resolves it)."""
    from edge.core import cliconfig
    from firmware_export.config import ExportConfig

    return cliconfig.config_from_args(args, ExportConfig)


def to_argv(config) -> list[str]:
    """The ``fer-edge export-firmware`` arguments that reproduce ``config``."""
    from edge.core import cliconfig

    return cliconfig.to_argv(config)


def run(args: argparse.Namespace) -> int:
    from firmware_export import boards
    from firmware_export.export import export_firmware
    from firmware_export.render import board_clocks, latency_lines

    config = config_from_args(args)
    result = export_firmware(config)
    info, arena, parity = result.info, result.arena, result.parity
    print(f"model:  {result.model_path} ({info.size} bytes, {info.macs:,} MACs, ops: {', '.join(info.ops)})")
    print(f"arena:  {arena.recommended} bytes recommended ({arena.note})")
    print(f"parity: TFLM vs LiteRT on {parity.summary()}")
    if result.verified:
        print(f"TFLM C++ ({result.verified.tflm_dir}): {result.verified.summary()}")
    if result.measured:
        print(f"Cortex-M4: {result.measured.summary()}")
        counts = {k: result.measured.instructions(k) for k in result.measured.runs}
        print("\n".join(latency_lines(counts, board_clocks(boards.load_boards()))))
    if result.pipeline:
        _print_pipeline(result.pipeline)
    print(boards.text_table(boards.fit_table(result.fits)))
    print(f"wrote {len(result.files)} files to {result.out}/ (see {result.out}/README.md)")
    return 0


def _print_pipeline(record: dict) -> None:
    from firmware_export.pipeline_m4 import summary

    loc = record["locator"]
    print(f"locator: {loc['file']} ({loc['bytes']} bytes, {loc['macs']:,} MACs, arena {loc['arena']['recommended']} "
          "bytes recommended); camera pipeline: <name>_pipeline.h/.cc")
    if "parity" in record:
        p = record["parity"]
        print(f"pipeline: {p['frames_identical']}/{p['frames_compared']} frames identical to the Python reference "
              f"({p['video']}, {', '.join(p['sizes'])}; {p['faces']} faces)")
    for line in summary(record.get("measure_m4", {})):
        print(f"pipeline on Cortex-M4: {line}")
