"""``fer-edge collect``: record your own labelled face crops from a camera or a video for fine-tuning.

Standard library only at top level (see edge/commands/run.py).
"""

from __future__ import annotations

import argparse

HELP = "record labelled face crops from a camera or video for fine-tuning"  # fer-edge --help

#: ``collect``'s own help for the shared ``--min-face`` (same meaning as in ``run``: the smallest face kept)
MIN_FACE_HELP = ("smallest face to keep, in pixels of the displayed image: a narrower face is still detected, "
                 "tracked and shown, but not saved, and counted as 'too small' (default: keep every face the "
                 "detector finds at --detect-width, the faces 'fer-edge run' classifies; raise --detect-width "
                 "to find smaller ones)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from edge.collect_options import KEPT, CollectOptions
    from edge.commands.run import add_source_arguments
    from edge.core.cliconfig import add_options

    parser.add_argument("--source", required=True, metavar="SRC", help="picamera2 | usb:N | a video file | a folder of images")
    groups = add_options(parser, CollectOptions, skip=("min_face",))  # --min-face: a detection option, below
    parser.add_argument("--model", metavar="MODEL",
                        help="the .tflite (with its spec), run directory or shipped model (micro, pi) whose framing, "
                        "size and classes the crops follow (default: micro)")
    view = parser.add_mutually_exclusive_group()
    view.add_argument("--display", action="store_true", help="show the frames in a window; press the class keys there (q quits)")
    view.add_argument("--headless", action="store_true", help="no window (the default)")
    parser.add_argument("--serve", metavar="HOST:PORT", help="live view in a browser, with the class keys as buttons")
    parser.add_argument("--listen-network", action="store_true",
                        help="allow --serve on a non-loopback address; every URL then needs ?token=...")
    parser.add_argument("--token", help="the live-view token with --listen-network (default: a random one, printed)")
    f = groups[KEPT]
    f.add_argument("--max-faces", type=int, default=1, metavar="N",
                   help="collect the N largest faces of a frame (default 1: one person, the nearest)")
    f.add_argument("--realtime", action="store_true", help="play a video file at its own frame rate (to label it with keys)")
    f.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    add_source_arguments(parser, min_face_help=MIN_FACE_HELP)


def config_from_args(args: argparse.Namespace):
    """The CollectOptions of parsed ``fer-edge collect`` arguments."""
    from edge.collect_options import CollectOptions
    from edge.core import cliconfig

    return cliconfig.config_from_args(args, CollectOptions)


def to_argv(options) -> list[str]:
    """The ``fer-edge collect`` options that reproduce ``options`` (with --source and the live-loop options)."""
    from edge.core import cliconfig

    return cliconfig.to_argv(options)


def run(args: argparse.Namespace) -> int:
    import threading

    from edge.collect import Collector
    from edge.commands import run as run_command
    from edge.core.errors import UserError
    from edge.core.rundir import resolve_model
    from edge.core.spec import load_spec_for
    from edge.loop import run_edge

    if args.out_dir is None:
        raise UserError("collect needs --out-dir DIR: the folder the labelled faces go to")
    if args.label is None and not (args.display or args.serve):
        raise UserError("collect needs --label CLASS, or --display / --serve HOST:PORT to choose classes with keys")
    options = config_from_args(args)
    model = resolve_model(args.model)
    # --min-face is applied by the collector (which counts what it skips), not by the detector
    config = run_command.config_from_args(args, model=str(model), min_face=None, max_faces=args.max_faces)
    run_command.check_run_paths(config, folders={"--out-dir": args.out_dir})
    stop = threading.Event()
    collector = Collector(options, load_spec_for(model), stop)
    result = run_edge(config, stop=stop, on_frame=collector)
    stopped_by = collector.stopped_by or result.stopped_by
    print(f"{result.frames} frames, {result.faces} faces; stopped by {stopped_by}; {collector.summary()}")
    return 0
