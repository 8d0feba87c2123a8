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
    parser.add_argument("model", metavar="MODEL_INT8.tflite|RUN_DIR", nargs="?", default=None,
                        help="a full-int8 .tflite with its .spec.json beside it, or a run directory holding "
                             "model_int8.tflite (written by 'fer-edge quantize'); default: the micro model in models/")
    from edge.core.deprecated import add_alias

    out = parser.add_mutually_exclusive_group(required=True)
    out.add_argument("--out-dir", dest="out", metavar="DIR", help="output folder (must not exist or be empty)")
    add_alias(out, "--out", "--out-dir", "out", metavar="DIR")
    parser.add_argument("--name", default="fer_model",
                        help="C identifier prefixing the files and symbols (default: fer_model)")
    from firmware_export.boards import load_boards  # stdlib + edge.core.errors only: safe for --help

    parser.add_argument("--board", metavar="BOARD|all",
                        help="refuse the export if model + arena + TFLM runtime do not fit this board; 'all' prints "
                             f"the table for every board ({', '.join(load_boards())})")
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out-dir folder")
    parser.add_argument("--parity-samples", type=int, default=100, metavar="N",
                        help="synthetic inputs for the TFLM-vs-LiteRT parity check (default: 100)")
    parser.add_argument("--parity-data", metavar="FOLDER",
                        help="also check parity on up to N face-crop images (png/jpg/...) from this folder")
    parser.add_argument("--verify-tflm", metavar="TFLM_DIR",
                        help="build TFLM's host library from this tflite-micro checkout (cached), compile the "
                             "exported main.cc and a harness against it, and require outputs bit-identical to "
                             "tflite-micro Python on the parity inputs and an arena that fits")
    parser.add_argument("--measure-m4", metavar="TFLM_DIR",
                        help="build the export for a Cortex-M4 (arm-none-eabi-gcc, TFLM's cortex_m_generic target) "
                             "with the reference kernels and with CMSIS-NN (both cached), run each under "
                             "qemu-system-arm -M mps2-an386 -icount and record the instructions per inference in "
                             "export.json; needs the tree's downloads (CMSIS, CMSIS-NN, ...) in place")


def run(args: argparse.Namespace) -> int:
    from firmware_export import boards
    from firmware_export.config import ExportConfig
    from firmware_export.export import export_firmware
    from firmware_export.render import board_clocks, latency_lines

    from edge.core.rundir import resolve_model

    from edge.core.paths import check_outputs
    from edge.core.spec import spec_path_for

    model = resolve_model(args.model)
    check_outputs(inputs={"the model": model, "the model's spec": spec_path_for(model),
                          "--parity-data": args.parity_data, "--verify-tflm": args.verify_tflm},
                  folders={"--out-dir": args.out}, replacing=True)
    config = ExportConfig(model=str(model), out=str(args.out), name=args.name, board=args.board,
                          parity_samples=args.parity_samples, parity_data=args.parity_data, force=args.force,
                          verify_tflm=args.verify_tflm, measure_m4=args.measure_m4)
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
    print(boards.text_table(boards.fit_table(result.fits)))
    print(f"wrote {len(result.files)} files to {result.out}/ (see {result.out}/README.md)")
    return 0
