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
    parser.add_argument("--locator", metavar="LOCATOR",
                        help="a face locator (face_locator_int8.tflite with its spec): also export the camera "
                             "pipeline, <name>::process_frame(gray, width, height, &result): frame -> faces -> "
                             "expressions; --verify-tflm and --measure-m4 then check and count it frame by frame")
    parser.add_argument("--parity-video", metavar="CLIP",
                        help="with --locator and --verify-tflm/--measure-m4: the video whose frames the pipeline is "
                             "checked on against the Python reference (default: the synthetic demo video)")
    parser.add_argument("--parity-frames", type=int, default=24, metavar="N",
                        help="frames taken from the clip, evenly spread, at each camera size (default: 24)")
    parser.add_argument("--parity-sizes", default="160x120,320x240", metavar="WxH[,WxH...]",
                        help="camera frame sizes the pipeline is checked at (default: 160x120,320x240)")


def run(args: argparse.Namespace) -> int:
    from edge.core.paths import check_outputs
    from edge.core.rundir import resolve_model
    from edge.core.spec import spec_path_for
    from firmware_export import boards
    from firmware_export.config import ExportConfig
    from firmware_export.export import export_firmware
    from firmware_export.measure_m4 import board_clocks, latency_lines

    model = resolve_model(args.model)
    check_outputs(inputs={"the model": model, "the model's spec": spec_path_for(model),
                          "--parity-data": args.parity_data, "--verify-tflm": args.verify_tflm,
                          "--locator": args.locator, "--parity-video": args.parity_video},
                  folders={"--out-dir": args.out}, replacing=True)
    config = ExportConfig(model=str(model), out=str(args.out), name=args.name, board=args.board,
                          parity_samples=args.parity_samples, parity_data=args.parity_data, force=args.force,
                          verify_tflm=args.verify_tflm, measure_m4=args.measure_m4, locator=args.locator,
                          parity_video=args.parity_video, parity_frames=args.parity_frames,
                          parity_sizes=args.parity_sizes)
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
