"""EdgeConfig: every setting of one live run, validated once and saved beside its outputs.

Standard library only, so the command modules can build it without importing OpenCV or NumPy.
"""

from __future__ import annotations

import ipaddress
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edge.core.errors import UserError

DETECTORS = ("auto", "haar", "yunet")  # or the path of a face locator .tflite (edge.locator_detector)


def is_locator_path(detector: str) -> bool:
    """Whether a --detector value names a face locator model (a .tflite file) rather than a detector kind."""
    return str(detector).lower().endswith(".tflite")
#: containers OpenCV's FFmpeg writer accepts for the mp4v video that --out writes
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv")
CONFIG_FORMAT = "fer-edge-run/1"
#: interpreter threads at most (LiteRT takes a C int; more threads than this helps no edge device)
MAX_THREADS = 256


def parse_size(text: str, what: str, *, camera: bool = True) -> tuple[int, int]:
    """'320x240' -> (320, 240); for a camera stream (``camera``) both even and at least 16."""
    try:
        w, h = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise UserError(f"{what} {text!r}: expected WIDTHxHEIGHT, e.g. 320x240") from None
    if camera and (w < 16 or h < 16 or w % 2 or h % 2):
        raise UserError(f"{what} {text!r}: width and height must be even and at least 16")
    return w, h


def parse_hostport(text: str) -> tuple[str, int]:
    """'127.0.0.1:8000' -> ('127.0.0.1', 8000); ':8000' means 127.0.0.1."""
    host, sep, port = str(text).rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UserError(f"--serve {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8000")
    return (host.strip("[]") or "127.0.0.1"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class EdgeConfig:
    source: str
    #: a .tflite model or run directory; None runs detection only (``fer-edge bench`` without --model).
    model: str | None = None
    display: bool = False
    out: str | None = None
    jsonl: str | None = None
    #: the session summary image (share of time per expression, the last minute per face) written at the end.
    summary: str | None = None
    #: HOST:PORT of the live view; bound to loopback unless listen_network is set.
    serve: str | None = None
    listen_network: bool = False
    #: required in every URL when listening on the network; never written to the saved config.
    token: str | None = None
    max_frames: int | None = None
    threads: int | None = None
    smooth: bool = True
    #: weight of the newest probabilities in the per-face moving average (1 = no smoothing).
    smooth_alpha: float = 0.5
    iou_threshold: float = 0.3
    #: detections a face may miss while keeping its last box (and its track and smoothing state).
    max_missed: int = 5
    max_faces: int = 8
    #: auto: YuNet when its model file is found (edge.detector_model), else the Haar cascade; or the path of a
    #: face locator .tflite (edge.locator_detector), which runs instead of either.
    detector: str = "auto"
    detector_model: str | None = None
    #: smallest face to look for, in pixels of the display image; None: as small as the detector finds
    #: at detect_width.
    min_face: int | None = None
    #: detection runs on the grayscale image downscaled to this width (None: about 480x360 pixels' worth for
    #: YuNet, 320x240 for Haar, edge.detect.default_detect_width), or wider when a min_face face would shrink below the detector's
    #: smallest (edge.detect.detect_width_for).
    detect_width: int | None = None
    #: detect on every Nth frame; in between, faces are classified in the last detected boxes.
    detect_every: int = 1
    main_size: tuple[int, int] = (640, 480)
    lores_size: tuple[int, int] = (320, 240)
    camera_fps: float = 30.0
    #: seconds without a frame before a live camera counts as stalled.
    camera_timeout: float = 2.0
    retries: int = 5
    backoff: float = 0.5
    #: play video files at their own frame rate instead of as fast as possible.
    realtime: bool = False
    #: start a video file (or image folder) again at its end, until stopped.
    loop: bool = False
    jpeg_quality: int = 80
    format: str = CONFIG_FORMAT

    def __post_init__(self):
        if not isinstance(self.source, str) or not self.source.strip():  # '' would be read as the current folder
            raise UserError(f"--source {self.source!r}: expected picamera2, usb:N, a video file or an image folder")
        object.__setattr__(self, "main_size", tuple(self.main_size))
        object.__setattr__(self, "lores_size", tuple(self.lores_size))
        if not 0.0 < self.smooth_alpha <= 1.0:
            raise UserError(f"--smooth-alpha {self.smooth_alpha}: expected a number in (0, 1]")
        if not 0.0 < self.iou_threshold < 1.0:
            raise UserError(f"iou_threshold {self.iou_threshold}: expected a number in (0, 1)")
        for name, high in (("max_frames", None), ("threads", MAX_THREADS)):
            value = getattr(self, name)
            if value is not None and (value < 1 or (high is not None and value > high)):
                raise UserError(f"--{name.replace('_', '-')} {value}: expected a positive integer"
                                + (f" up to {high}" if high else ""))
        for name, low in (("max_faces", 1), ("min_face", 8), ("detect_width", 64), ("detect_every", 1),
                          ("retries", 0), ("max_missed", 0)):
            if getattr(self, name) is not None and getattr(self, name) < low:
                flag = name if name == "max_missed" else f"--{name.replace('_', '-')}"
                raise UserError(f"{flag} {getattr(self, name)}: expected an integer >= {low}")
        if not 0 < self.camera_timeout < math.inf:
            raise UserError(f"--camera-timeout {self.camera_timeout}: expected a positive number of seconds")
        if not (self.backoff >= 0 and self.camera_fps > 0):
            raise UserError("camera fps must be positive and backoff non-negative")
        if not 1 <= self.jpeg_quality <= 100:
            raise UserError(f"jpeg_quality {self.jpeg_quality}: expected 1..100")
        if self.out is not None and Path(self.out).suffix.lower() not in VIDEO_SUFFIXES:
            raise UserError(f"--out {self.out}: expected a video file name ending in "
                            f"{' or '.join(VIDEO_SUFFIXES)} (for frames-only output use --jsonl)")
        if self.summary is not None and Path(self.summary).suffix.lower() != ".png":
            raise UserError(f"--summary {self.summary}: expected an image file name ending in .png")
        if self.detector not in DETECTORS and not is_locator_path(self.detector):
            raise UserError(f"--detector {self.detector!r}: expected one of {', '.join(DETECTORS)} or a face "
                            "locator .tflite (e.g. models/face_locator_int8.tflite)")
        if is_locator_path(self.detector) and self.detector_model and self.detector_model != self.detector:
            raise UserError(f"--detector {self.detector} with --detector-model {self.detector_model}: a face "
                            "locator is its own model (--detector-model names YuNet's file; drop one of them)")
        if self.detector == "haar" and self.detector_model:
            raise UserError(f"--detector haar with --detector-model {self.detector_model}: the Haar cascade "
                            "takes no model file (use --detector yunet with it, or drop --detector-model)")
        lw, lh = self.lores_size
        mw, mh = self.main_size
        if lw > mw or lh > mh:
            raise UserError(f"--lores {lw}x{lh} may not exceed --main {mw}x{mh}")
        if self.serve is not None:
            host, _ = parse_hostport(self.serve)
            if not is_loopback(host) and not self.listen_network:
                raise UserError(f"--serve {self.serve} listens on the network: add --listen-network "
                                "(a token is then required in the URL) or use 127.0.0.1:PORT")
        if self.loop and (self.source == "picamera2" or self.source.startswith("usb:")):
            raise UserError(f"--loop with --source {self.source}: --loop replays a video file or image folder; "
                            "a camera never ends")
        if self.listen_network and self.serve is None:
            raise UserError("--listen-network needs --serve HOST:PORT")
        if self.token is not None and not self.listen_network:
            raise UserError("--token is only used with --listen-network")
        if self.token is not None and (len(self.token) < 8 or not self.token.isascii() or not self.token.isprintable()):
            raise UserError("--token: expected at least 8 printable ASCII characters")
        if self.format != CONFIG_FORMAT:
            raise UserError(f"config format must be {CONFIG_FORMAT!r}, got {self.format!r}")

    @property
    def serve_address(self) -> tuple[str, int] | None:
        return None if self.serve is None else parse_hostport(self.serve)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["token"] = None if self.token is None else "<hidden>"
        d["main_size"], d["lores_size"] = list(self.main_size), list(self.lores_size)
        return d

    @staticmethod
    def config_path_for(out: str | Path) -> Path:
        return Path(out).with_name(Path(out).stem + ".config.json")

    def config_paths(self) -> list[Path]:
        """Where the config is saved: ``<stem>.config.json`` beside each output file."""
        paths = []
        for out in (self.out, self.jsonl):
            if out:
                p = self.config_path_for(out)
                if p not in paths:
                    paths.append(p)
        return paths

    def save_beside_outputs(self) -> list[Path]:
        from edge.core import atomic

        text = json.dumps(self.to_dict(), indent=2) + "\n"
        return [atomic.write_text(p, text) for p in self.config_paths()]
