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
    from edge.core.deprecated import add_alias
    from edge.commands.run import add_source_arguments

    parser.add_argument("--source", required=True, metavar="SRC", help="picamera2 | usb:N | a video file | a folder of images")
    out = parser.add_mutually_exclusive_group(required=True)  # required: the usage line shows it so
    out.add_argument("--out-dir", metavar="DIR",
                     help="the folder the faces go to: DIR/<class>/*.png (what 'fer-edge train --data DIR' reads); "
                     "faces already there are kept and counted")
    add_alias(out, "--out", "--out-dir", "out_dir", metavar="DIR")
    parser.add_argument("--model", metavar="MODEL",
                        help="the .tflite (with its spec), run directory or shipped model (micro, pi) whose framing, "
                        "size and classes the crops follow (default: micro)")
    parser.add_argument("--label", metavar="CLASS",
                        help="label every face of this session with CLASS; without it, keys choose: 1-7 a class "
                        "(in the model's label order), space pauses (the session starts paused)")
    view = parser.add_mutually_exclusive_group()
    view.add_argument("--display", action="store_true", help="show the frames in a window; press the class keys there (q quits)")
    view.add_argument("--headless", action="store_true", help="no window (the default)")
    parser.add_argument("--serve", metavar="HOST:PORT", help="live view in a browser, with the class keys as buttons")
    parser.add_argument("--listen-network", action="store_true",
                        help="allow --serve on a non-loopback address; every URL then needs ?token=...")
    parser.add_argument("--token", help="the live-view token with --listen-network (default: a random one, printed)")
    f = parser.add_argument_group("what is kept")
    f.add_argument("--every", type=int, default=1, metavar="N", help="consider every Nth frame only (default 1)")
    f.add_argument("--max", type=int, dest="max_per_class", metavar="N",
                   help="save at most N faces per class this session (with --label: stop once N are saved)")
    f.add_argument("--min-sharpness", type=float, default=25.0, metavar="V",
                   help="skip a face whose 48x48 input has a Laplacian variance below V: blurred (default %(default)s; 0 = off)")
    f.add_argument("--min-change", type=float, default=6.0, metavar="D",
                   help="skip a face within D grey levels (mean absolute difference, brightness-normalised 24x24) "
                   "of one of the last 30 saved for its class (default %(default)s; 0 = off)")
    f.add_argument("--max-faces", type=int, default=1, metavar="N",
                   help="collect the N largest faces of a frame (default 1: one person, the nearest)")
    f.add_argument("--realtime", action="store_true", help="play a video file at its own frame rate (to label it with keys)")
    f.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    add_source_arguments(parser, min_face_help=MIN_FACE_HELP)


def run(args: argparse.Namespace) -> int:
    import threading
    from pathlib import Path

    from edge.collect import CollectOptions, Collector
    from edge.core.errors import UserError
    from edge.loop import run_edge
    from edge.core.rundir import resolve_model
    from edge.commands.run import check_run_paths, config_from_args
    from edge.core.spec import load_spec_for

    if args.out_dir is None:
        raise UserError("collect needs --out-dir DIR: the folder the labelled faces go to")
    if args.label is None and not (args.display or args.serve):
        raise UserError("collect needs --label CLASS, or --display / --serve HOST:PORT to choose classes with keys")
    options = CollectOptions(Path(args.out_dir), args.label, args.every, args.max_per_class, args.min_sharpness,
                             args.min_change, args.min_face)
    model = resolve_model(args.model)
    # --min-face is applied by the collector (which counts what it skips), not by the detector
    config = config_from_args(args, model=str(model), min_face=None, max_faces=args.max_faces)
    check_run_paths(config, folders={"--out-dir": args.out_dir})
    stop = threading.Event()
    collector = Collector(options, load_spec_for(model), stop)
    result = run_edge(config, stop=stop, on_frame=collector)
    stopped_by = collector.stopped_by or result.stopped_by
    print(f"{result.frames} frames, {result.faces} faces; stopped by {stopped_by}; {collector.summary()}")
    return 0
