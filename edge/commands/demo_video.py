"""``fer-edge demo-video``: write a test video of synthetic faces (``edge.synthetic.video``) and its truth file.

Standard library only at top level (see edge/commands/run.py).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

HELP = "write a test video of synthetic faces on varied backgrounds"  # fer-edge --help


def _size(text: str) -> tuple[int, int]:
    from edge.config import parse_size
    from edge.core.errors import UserError

    try:
        return parse_size(text, "--size", camera=False)
    except UserError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _range(text: str) -> tuple[int, int]:
    try:
        lo, _, hi = text.partition("-")
        return int(lo), int(hi or lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or MIN-MAX such as 1-3, got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", metavar="OUT.mp4", help="video to write (the truth goes to OUT.truth.jsonl)")
    parser.add_argument("--frames", type=int, default=150, help="number of frames (default 150)")
    parser.add_argument("--size", type=_size, default=(640, 480), metavar="WxH", help="frame size (default 640x480)")
    parser.add_argument("--fps", type=float, default=15.0, help="frames per second (default 15)")
    parser.add_argument("--faces", type=_range, default=(1, 3), metavar="MIN-MAX",
                        help="faces in the video, chosen at random in this range (default 1-3)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same video")


def run(args: argparse.Namespace) -> int:
    (w, h), (lo, hi) = args.size, args.faces
    from edge.core.paths import check_outputs
    from edge.synthetic.video import VideoConfig, truth_path, write_video

    config = VideoConfig(args.frames, w, h, args.fps, lo, hi, args.seed)
    check_outputs({"OUT": args.out, "OUT's truth file": truth_path(args.out)})  # before any frame is drawn
    truth = write_video(args.out, config)
    print(f"wrote {args.out} ({config.frames} frames, {config.width}x{config.height} at {config.fps:g} fps) "
          f"and {truth}")
    print(json.dumps(asdict(config)))
    return 0
