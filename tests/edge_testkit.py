"""Test material for the edge loop: the project's synthetic demo video and frames (with their true
face boxes) and frames without faces. The picamera2 tests run picamera2's own code over the
stand-ins in tests/fake_libcamera.

Used by tests/test_edge_*.py and benchmarks/edge_pipeline.py.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import cv2
import numpy as np


def demo_video(path: str | Path, frames: int, fps: float = 30.0, seed: int = 0, faces: str = "1-3") -> list:
    """``fer-edge demo-video`` (the project's synthetic test video); returns the true boxes per frame."""
    from edge.synthetic.video import VideoConfig, truth_path, write_video

    lo, _, hi = faces.partition("-")
    write_video(path, VideoConfig(frames, 640, 480, fps, int(lo), int(hi or lo), seed))
    lines = Path(truth_path(path)).read_text().splitlines()
    return [[f["box"] for f in json.loads(line)["faces"]] for line in lines]


@functools.lru_cache(maxsize=8)
def demo_frames(frames: int, seed: int = 0, faces: int = 2) -> tuple:
    """(BGR frame, true boxes) pairs of the demo scene, in memory."""
    from edge.synthetic.video import VideoConfig, scene

    config = VideoConfig(frames, 640, 480, 30.0, faces, faces, seed)
    return tuple((image, [f["box"] for f in truth]) for image, truth in scene(config))


def write_no_face_frames(folder: Path, n: int, width: int = 160, height: int = 120) -> Path:
    """``folder`` made and filled with ``n`` PNG frames without faces (an image-folder source)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        cv2.imwrite(str(folder / f"{i}.png"), no_face_frame(i, width, height))
    return folder


def no_face_frame(seed: int = 0, width: int = 640, height: int = 480) -> np.ndarray:
    """A BGR backdrop of the kinds the demo video uses, with no face in it."""
    from edge.synthetic.faces import background

    gray = background(np.random.default_rng(seed), height, width)
    return np.dstack([gray * 0.9, gray, gray * 1.1]).clip(0, 255).astype(np.uint8)


def one_line_error(capsys, *needles) -> str:
    """The captured stderr, asserted to be one line with no traceback that contains every needle."""
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err
    return err


def help_options(command: str) -> dict[str, str]:
    """``fer-edge COMMAND --help`` as {long flag: its entry, whitespace collapsed}, e.g. ``{"--out": "--out
    VIDEO.mp4 write the annotated video ..."}``: what a user reads, whatever argparse keeps inside."""
    import re

    from edge.commands.dispatch import build_parser

    entries: dict[str, str] = {}
    flag = None
    for line in build_parser(only=command).format_help().splitlines():
        start = re.match(r"^  (?:-\w, )?(--[\w-]+)", line)
        if start:
            flag = start.group(1)
            entries[flag] = line.strip()
        elif flag and line.startswith("   "):
            entries[flag] += " " + line.strip()
        else:
            flag = None
    return {k: " ".join(v.split()) for k, v in entries.items()}


def import_blocker(blocked: tuple[str, ...], why: str) -> str:
    """Python source that, run first in a subprocess, makes importing any of the top-level packages ``blocked`` fail
    with ModuleNotFoundError saying ``why``: an environment without them (an extra that does not install them)."""
    return (f"import importlib.abc, sys\n"
            f"class Blocker(importlib.abc.MetaPathFinder):\n"
            f"    def find_spec(self, name, path=None, target=None):\n"
            f"        if name.split('.')[0] in {tuple(blocked)!r}:\n"
            f"            raise ModuleNotFoundError(f'blocked import of {{name}} ({why})')\n"
            f"sys.meta_path.insert(0, Blocker())\n")
