"""``fer-edge run``: live expression recognition from a camera, a video file or an image folder.

Standard library only at top level; edge.config (itself standard library only) is imported in the
functions, OpenCV, NumPy and the interpreter only when the command runs.
"""

from __future__ import annotations

import argparse

HELP = "live expression recognition from a camera, video file or image folder"  # fer-edge --help


def _default(name: str):
    from edge.config import EdgeConfig

    return EdgeConfig.__dataclass_fields__[name].default


MIN_FACE_HELP = ("smallest face to keep, in pixels of the displayed image; detection runs wider if needed "
                 "(default: the smallest the detector finds at --detect-width)")


def add_source_arguments(parser: argparse.ArgumentParser, min_face_help: str = MIN_FACE_HELP) -> None:
    """Detection and camera options shared by ``run``, ``bench`` and ``collect``."""
    g = parser.add_argument_group("detection")
    g.add_argument("--detector", default=_default("detector"), metavar="{auto,haar,yunet,LOCATOR.tflite}",
                   help="yunet: OpenCV FaceDetectorYN (get its model once with 'fer-edge fetch-models'); "
                   "haar: OpenCV's bundled frontal-face cascade; auto (default): yunet if its model is found; "
                   "a face locator .tflite (e.g. models/face_locator_int8.tflite, with its .spec.json): the "
                   "microcontroller's detector, run here in LiteRT")
    g.add_argument("--detector-model", metavar="FILE",
                   help="the YuNet .onnx (default: $FER_EDGE_DETECTOR_MODEL, then the fetch-models cache)")
    g.add_argument("--min-face", type=int, metavar="PX", default=_default("min_face"), help=min_face_help)
    g.add_argument("--detect-width", type=int, metavar="PX", default=_default("detect_width"),
                   help="detect on the gray image downscaled to this width, or wider when --min-face needs it "
                   "(default: about 480x360 pixels' worth for YuNet, e.g. 480 for 640x480, and 320x240 for Haar)")
    g.add_argument("--detect-every", type=int, metavar="N", default=_default("detect_every"),
                   help="detect faces on every Nth frame only, classify every frame (default %(default)s)")
    g.add_argument("--threads", type=int, metavar="N", help="interpreter threads (default: the runtime's choice)")
    c = parser.add_argument_group("camera (picamera2)")
    main, lores = _default("main_size"), _default("lores_size")
    c.add_argument("--main", metavar="WxH", help=f"display/recording stream size (default {main[0]}x{main[1]})")
    c.add_argument("--lores", metavar="WxH", help="YUV420 stream whose Y plane is detected and classified "
                   f"(default {lores[0]}x{lores[1]})")
    c.add_argument("--camera-timeout", type=float, metavar="S", default=_default("camera_timeout"),
                   help="seconds without a frame before the camera is reopened (default %(default)s)")
    c.add_argument("--retries", type=int, metavar="N", default=_default("retries"),
                   help="reopen attempts, with exponential backoff, before giving up (default %(default)s)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", nargs="?", default=None,
                        help="a .tflite model (with its .spec.json), a run directory (uses RUN_DIR/model_int8.tflite) "
                             "or a shipped model by name: micro, pi ('fer-edge models' lists them); default: micro")
    parser.add_argument("--source", required=True, metavar="SRC",
                        help="picamera2 | usb:N | a video file | a folder of images")
    view = parser.add_mutually_exclusive_group()
    view.add_argument("--display", action="store_true", help="show the annotated frames in a window (q quits)")
    view.add_argument("--headless", action="store_true", help="no window (the default)")
    o = parser.add_argument_group("outputs")
    o.add_argument("--out", metavar="VIDEO.mp4", help="write the annotated video (mp4v) to this file, at the "
                   "source's frame rate")
    o.add_argument("--jsonl", metavar="FILE", help="write one JSON line per frame: frame index, time t (seconds "
                   "into a video file; Unix time for a camera), faces")
    o.add_argument("--summary", metavar="FILE.png",
                   help="at the end, write the session summary: share of time per expression, the last minute per face")
    o.add_argument("--serve", metavar="HOST:PORT", help="live view in a browser, e.g. 127.0.0.1:8000")
    o.add_argument("--listen-network", action="store_true",
                   help="allow --serve on a non-loopback address; every URL then needs ?token=...")
    o.add_argument("--token", help="the live-view token with --listen-network (default: a random one, printed)")
    o.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    o.add_argument("--realtime", action="store_true", help="play a video file at its own frame rate")
    o.add_argument("--loop", action="store_true",
                   help="start a video file (or image folder) again when it ends, until Ctrl-C; without it, "
                   "--serve keeps showing the last frame after the end until Ctrl-C")
    s = parser.add_argument_group("smoothing")
    s.add_argument("--no-smooth", action="store_true", help="show each frame's raw probabilities")
    s.add_argument("--smooth-alpha", type=float, metavar="A", default=_default("smooth_alpha"),
                   help="weight of the newest frame in the per-face moving average (default %(default)s)")
    add_source_arguments(parser)


#: arguments whose names match EdgeConfig fields one to one
_SAME_NAME = ("model", "source", "display", "out", "jsonl", "summary", "serve", "listen_network", "token", "max_frames",
              "threads", "smooth_alpha", "detector", "detector_model", "min_face", "detect_width", "detect_every",
              "camera_timeout", "retries", "realtime", "loop")


def config_from_args(args: argparse.Namespace, **overrides):
    """The validated EdgeConfig for parsed ``run``/``bench`` arguments (unset ones keep their defaults)."""
    from edge.config import EdgeConfig, parse_size

    values = {name: getattr(args, name) for name in _SAME_NAME if getattr(args, name, None) is not None}
    values["smooth"] = not getattr(args, "no_smooth", False)
    if args.main:
        values["main_size"] = parse_size(args.main, "--main")
    if args.lores:
        values["lores_size"] = parse_size(args.lores, "--lores")
    values.update(overrides)
    return EdgeConfig(**values)


def check_run_paths(config, files: dict | None = None, folders: dict | None = None) -> None:
    """Every output of a live run (``config``'s, the config saved beside them, and ``files``/``folders``)
    checked against each other and against the source, the model and its spec, before any work starts."""
    import os

    from edge.core.paths import check_outputs
    from edge.core.spec import spec_path_for

    outputs = {"--out": config.out, "--jsonl": config.jsonl, "--summary": config.summary, **(files or {})}
    claimed = set()
    for flag, path in (("--out", config.out), ("--jsonl", config.jsonl)):
        if path:
            sidecar = config.config_path_for(path)
            if os.path.realpath(sidecar) not in claimed:  # --out x.mp4 --jsonl x.jsonl share x.config.json
                claimed.add(os.path.realpath(sidecar))
                outputs[f"{flag}'s config"] = sidecar
    from edge.config import is_locator_path

    inputs = {"--source": config.source if os.path.exists(config.source) else None,
              "--detector-model": config.detector_model}
    if is_locator_path(config.detector):
        inputs.update({"--detector": config.detector, "the locator's spec": spec_path_for(config.detector)})
    if os.path.isdir(config.source):  # an image folder: each image it reads is an input too
        from edge.sources import ImageFolderSource

        inputs.update({f"--source's image {p.name}": p for p in ImageFolderSource(config.source).paths})
    if config.model:
        inputs.update({"the model": config.model, "the model's spec": spec_path_for(config.model)})
    check_outputs(outputs, inputs, folders)


def run(args: argparse.Namespace) -> int:
    from edge.core.rundir import resolve_model
    from edge.loop import run_edge
    from edge.timing import StageTimer

    config = config_from_args(args, model=str(resolve_model(args.model)))
    check_run_paths(config)
    timer = StageTimer()
    try:
        result = run_edge(config, timer=timer)
    finally:
        if timer.frames:
            print(timer.table())
    import os

    outputs = [p for p in (config.out, config.jsonl, config.summary) if p and os.path.exists(p)]  # no frame, no video
    print(f"{result.frames} frames, {result.faces} faces in {result.frames_with_faces} frames; "
          f"stopped by {result.stopped_by}" + (f"; wrote {', '.join(outputs)}" if outputs else ""))
    return 0
