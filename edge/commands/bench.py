"""``fer-edge bench``: the edge pipeline headless on a video, with per-stage timings and fps.

Every frame is detected, classified, drawn and JPEG-encoded (as the live view would), nothing is
shown or written unless ``--out`` is given. The model is ``fer-edge run``'s default (the shipped micro) unless
``--model`` names another, so the frame rate is the whole pipeline's; ``--detect-only`` times detection alone.
"""

from __future__ import annotations

import argparse

HELP = "per-stage timings of the edge pipeline on a video"  # fer-edge --help


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from edge.commands.run import add_source_arguments

    parser.add_argument("source", metavar="VIDEO", help="a video file (or an image folder)")
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--model", metavar="MODEL", help="a .tflite model (with its .spec.json), a run directory or a "
                       "shipped model by name: micro, pi (default: micro, as 'fer-edge run')")
    model.add_argument("--detect-only", action="store_true", help="no model: time face detection alone")
    parser.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    parser.add_argument("--out", metavar="VIDEO.mp4", help="also write the annotated video to this file")
    parser.add_argument("--json", metavar="FILE", help="write the timings as JSON")
    parser.add_argument("--infer-runs", type=int, default=200, metavar="N",
                        help="single-face inferences timed for the inference-only rate (default %(default)s)")
    add_source_arguments(parser)


def measure(config, infer_runs: int):
    """One headless pass of the loop with every frame JPEG-encoded: (its result, the timer's summary with the
    face counts and, given a model and ``infer_runs``, the single-face inference rate)."""
    from edge.loop import run_edge
    from edge.recognize import time_inference

    result = run_edge(config, encode_always=True)
    summary = result.timer.summary()
    summary.update(frames_with_faces=result.frames_with_faces, faces=result.faces)
    if config.model and infer_runs:
        summary["inference_only_per_s"] = round(time_inference(config.model, config.threads, infer_runs), 1)
    return result, summary


def run(args: argparse.Namespace) -> int:
    from edge.commands.run import check_run_paths, config_from_args
    from edge.core import atomic
    from edge.core.rundir import resolve_model

    config = config_from_args(args, model=None if args.detect_only else str(resolve_model(args.model)))
    check_run_paths(config, {"--json": args.json})
    result, summary = measure(config, args.infer_runs)
    print(result.timer.table())
    print(f"faces: {result.faces} in {result.frames_with_faces} of {result.frames} frames; "
          + (f"model {config.model}" if config.model else "detection only (--detect-only)"))
    if "inference_only_per_s" in summary:
        rate = summary["inference_only_per_s"]
        print(f"inference only: {rate:.0f} faces/s ({1000 / rate:.2f} ms per face)")
    if args.json:
        atomic.write_json(args.json, summary)
    return 0
