"""``--verify-tflm TREE`` with ``--locator``: the C++ pipeline against its Python specification, frame by frame.

The exported ``<name>_pipeline.cc``, both models' data and a small harness are compiled against TFLM's host
library (built from the user's tree, cached: ``firmware_export.tflm``) and run on camera frames
(``pipeline_frames``: a video's frames at each camera size). ``edge.frame_pipeline.FramePipeline`` runs the
same frames with both models in tflite-micro's Python interpreter (the kernels the C++ links). Every frame
must give the same faces (locator boxes, crop rectangles, locator scores) and bit-identical int8 expression
scores; otherwise the check fails naming the first frame that differs and both results.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edge.core.errors import UserError
from edge.core.spec import ModelSpec
from edge.frame_pipeline import FaceResult, FramePipeline
from firmware_export.arena import tflm_interpreter
from firmware_export.pipeline import Locator, template
from firmware_export.pipeline_frames import CameraFrame
from firmware_export.tflm import tree
from firmware_export.tflm.library import HOST, build_library
from firmware_export.tflm.make import fail
from firmware_export.verify_tflm import OPTION, compile_for_host, link_for_host

log = logging.getLogger(__name__)

_ARENA = re.compile(r"^arena (-?\d+) (-?\d+)$", re.M)


@dataclass(frozen=True)
class PipelineParity:
    video: str
    sizes: list[str]
    frames_compared: int
    frames_identical: int
    faces: int  # faces classified over all frames
    frames_with_faces: int
    locator_arena_used: int  # the C++ interpreters' arena_used_bytes()
    classifier_arena_used: int
    tflm_dir: str
    tflm_commit: str | None

    def summary(self) -> str:
        return (f"{self.frames_identical}/{self.frames_compared} frames identical to the Python reference "
                f"({self.video}, {', '.join(self.sizes)}; {self.faces} faces in {self.frames_with_faces} frames); "
                f"C++ arenas used: locator {self.locator_arena_used:,}, classifier {self.classifier_arena_used:,} bytes")

    def to_record(self) -> dict:
        return asdict(self)


def tflm_runner(data: bytes, arena_size: int, source: str):
    """tflite-micro Python's interpreter as an int8 tensor -> int8 output callable."""
    interpreter = tflm_interpreter(data, arena_size, source)

    def run(x: np.ndarray) -> np.ndarray:
        interpreter.set_input(np.ascontiguousarray(x, np.int8), 0)
        interpreter.invoke()
        return np.asarray(interpreter.get_output(0)).copy()

    return run


def reference_pipeline(locator: Locator, model_data: bytes, spec: ModelSpec, arena_size: int) -> FramePipeline:
    """The Python reference with both models in tflite-micro (bit-identical to TFLM's C++ reference kernels)."""
    return FramePipeline(locator.spec, spec, tflm_runner(locator.data, locator.arena_size, str(locator.path)),
                         tflm_runner(model_data, arena_size, "the expression model"))


def face_line(face: FaceResult) -> str:
    """A face as the harness prints it."""
    values = [*face.box, *face.crop, face.face_score, face.label, *face.scores.tolist()]
    return "face " + " ".join(str(int(v)) for v in values)


def frame_lines(faces: list[FaceResult]) -> list[str]:
    return [f"faces {len(faces)}", *(face_line(f) for f in faces)]


def frames_blob(frames: list[CameraFrame]) -> bytes:
    return b"".join(np.array([f.width, f.height], np.int32).tobytes() + np.ascontiguousarray(f.gray).tobytes()
                    for f in frames)


def parse_harness(printed: str, count: int) -> tuple[list[list[str]], tuple[int, int]]:
    """The harness' output -> per frame ["faces N", "face ..."...], and the two arenas used."""
    per_frame: list[list[str]] = []
    for line in printed.splitlines():
        if line.startswith("frame "):
            per_frame.append([f"faces {line.split()[2]}"])
        elif line.startswith("face ") and per_frame:
            per_frame[-1].append(line.strip())
    arena = _ARENA.search(printed)
    if len(per_frame) != count or not arena:
        raise ValueError(f"the harness printed {len(per_frame)} of {count} frames"
                         + ("" if arena else " and no arena line"))
    return per_frame, (int(arena.group(1)), int(arena.group(2)))


def build_harness(root: Path, export_dir: Path, name: str, work: Path) -> Path:
    """The exported pipeline and both models' data + the harness, linked with TFLM's host library."""
    lib = build_library(root, tree.build_root(root, tree.tree_commit(root)), HOST, OPTION).path
    log_path = work / "build.log"
    harness = work / "pipeline_harness.cc"
    harness.write_text(template("pipeline_harness.cc").replace("${name}", name), encoding="utf-8")
    sources = [export_dir / f"{name}_pipeline.cc", export_dir / f"{name}_data.cc",
               export_dir / f"{name}_locator_data.cc", harness]
    objects = [compile_for_host(root, src, export_dir, log_path) for src in sources]
    link_for_host(objects, lib, work / "harness", log_path)
    return work / "harness"


def verify_pipeline(export_dir: Path, name: str, locator: Locator, model_data: bytes, spec: ModelSpec,
                    arena_size: int, frames: list[CameraFrame], video: str, tflm_dir: str) -> PipelineParity:
    """Build the pipeline against ``tflm_dir`` and compare it with the Python reference on ``frames``."""
    root = tree.check_tree(tflm_dir, OPTION)
    commit = tree.tree_commit(root)
    apps = tree.build_root(root, commit) / "apps"
    apps.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{name}-pipeline-", dir=apps))
    log_path = work / "build.log"
    binary = build_harness(root, export_dir, name, work)
    (work / "frames.bin").write_bytes(frames_blob(frames))
    log.info("%s: %d frames through the C++ pipeline and the Python reference", OPTION, len(frames))
    done = subprocess.run([str(binary), str(work / "frames.bin")], capture_output=True, text=True, timeout=3600)
    with open(log_path, "a", encoding="utf-8") as out:
        out.write(f"$ harness on {len(frames)} frames\n{done.stdout}{done.stderr}(exit {done.returncode})\n")
    if done.returncode != 0:
        raise fail(f"the pipeline harness exited {done.returncode}: {(done.stderr or done.stdout).strip()[:200]!r}",
                   log_path, OPTION)
    try:
        cpp, (loc_used, cls_used) = parse_harness(done.stdout, len(frames))
    except ValueError as e:
        raise fail(str(e), log_path, OPTION) from None
    reference = reference_pipeline(locator, model_data, spec, arena_size)
    identical, faces, with_faces = 0, 0, 0
    for frame, got in zip(frames, cpp):
        expected = frame_lines(reference(frame.gray))
        if got != expected:
            raise fail(f"{frame.name}: the C++ pipeline gives {' | '.join(got)!r}, the Python reference "
                       f"{' | '.join(expected)!r}", log_path, OPTION)
        identical += 1
        faces += len(expected) - 1
        with_faces += len(expected) > 1
    for used, size, what in ((loc_used, locator.arena_size, "locator"), (cls_used, arena_size, "classifier")):
        if not 0 < used <= size:
            raise fail(f"the {what}'s arena_used_bytes() {used:,} against the exported {size:,}", log_path, OPTION)
    shutil.rmtree(work, ignore_errors=True)
    sizes = list(dict.fromkeys(f"{f.width}x{f.height}" for f in frames))
    return PipelineParity(video, sizes, len(frames), identical, faces, with_faces, loc_used, cls_used, str(root),
                          commit)


def check_frames_fit(frames: list[CameraFrame], locator: Locator) -> None:
    """Every camera size must be at least the locator's input (the pipeline only shrinks frames)."""
    s = locator.spec
    small = sorted({(f.width, f.height) for f in frames if f.width < s.input_width or f.height < s.input_height})
    if small:
        raise UserError(f"--parity-sizes: {', '.join(f'{w}x{h}' for w, h in small)} is smaller than the face "
                        f"locator's {s.input_width}x{s.input_height} input")
