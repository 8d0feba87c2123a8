"""``--measure-m4 TREE`` with ``--locator``: the whole camera pipeline counted per frame on an emulated Cortex-M4.

The exported ``<name>::process_frame``, both models and a few camera frames (those where the Python reference
finds exactly one face, the case the frame rate is quoted for; frames with more or none when a size has no
such frame) link with TFLM's Cortex-M4 library (``firmware_export.tflm``: the objects both models'
ops need, reference kernels and CMSIS-NN, cached) and the bare-metal startup of ``firmware_export.m4``. Under
``qemu-system-arm -M mps2-an386 -icount shift=0`` the firmware times each part of every frame with the
board's timer (``templates/pipeline_m4.cc``): the shrink of the frame into the locator's input, the locator,
its decoding, the crop-resize-quantize of the faces and the expression model, and the whole call.

The reference-kernel build must find the Python reference's faces and scores on every frame (the same
kernels); the CMSIS-NN build's are compared with it (frames identical, largest score difference in LSB).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from string import Template

import numpy as np

from edge.frame_pipeline import FramePipeline
from firmware_export.m4 import OPTION
from firmware_export.m4.firmware import code_bytes, link_firmware, with_library
from firmware_export.m4.qemu import MACHINE, instructions_per_tick, run_firmware
from firmware_export.measure_m4 import KERNELS, check_tree, find_tools, tool_version
from firmware_export.pipeline import Locator, count_text, template
from firmware_export.pipeline_frames import CameraFrame
from firmware_export.pipeline_verify import frame_lines
from firmware_export.render import CPI_ASSUMED, kernel_title
from firmware_export.tflite_model import read_model
from firmware_export.tflm import tree
from firmware_export.tflm.library import Library, cortex_m4
from firmware_export.tflm.make import fail

log = logging.getLogger(__name__)

PARTS = ("downscale", "locator", "decode", "crop", "classifier", "total")
FRAMES_PER_SIZE = 2


@dataclass(frozen=True)
class FrameRun:
    faces: list[str]  # the harness' lines: "faces N", "face ..."
    ticks: dict[str, int]  # per part


def choose_frames(frames: list[CameraFrame], reference: FramePipeline,
                  per_size: int = FRAMES_PER_SIZE) -> tuple[list[CameraFrame], list[list[str]]]:
    """Up to ``per_size`` frames of each size with exactly one face (then the fewest faces, then none), and
    the Python reference's result lines of each."""
    chosen, lines = [], []
    for size in dict.fromkeys((f.width, f.height) for f in frames):
        results = [(f, frame_lines(reference(f.gray))) for f in frames if (f.width, f.height) == size]
        ranked = sorted(results, key=lambda r: (len(r[1]) == 1, len(r[1]), r[0].index))  # 1 line: no face
        for frame, result in ranked[:per_size]:
            chosen.append(frame)
            lines.append(result)
    return chosen, lines


def frames_header(frames: list[CameraFrame]) -> str:
    """``pipeline_frames.h``: the frames as const arrays (flash), their sizes and a table of pointers."""
    arrays = []
    for i, f in enumerate(frames):
        body = ",".join(str(int(v)) for v in np.ascontiguousarray(f.gray).reshape(-1))
        arrays.append(f"alignas(4) const uint8_t kFrame{i}[{f.width * f.height}] = {{{body}}};")
    sizes = ", ".join(f"{{{f.width}, {f.height}}}" for f in frames)
    pointers = ", ".join(f"kFrame{i}" for i in range(len(frames)))
    return ("// fer-edge --measure-m4: the camera frames the pipeline firmware runs (grayscale, row-major)\n"
            "#pragma once\n#include <cstdint>\n" + "\n".join(arrays) +
            f"\nconstexpr int kNumFrames = {len(frames)};\nconst int kFrameSize[{len(frames)}][2] = {{{sizes}}};\n"
            f"const uint8_t* const kFramePixels[{len(frames)}] = {{{pointers}}};\n")


def build_firmware(root: Path, export_dir: Path, name: str, library: Library, gcc: str, work: Path,
                   frames: list[CameraFrame]) -> Path:
    """The exported pipeline + both models + the timing harness + startup code, linked into an ELF."""
    (work / "pipeline_m4.cc").write_text(Template(template("pipeline_m4.cc")).substitute(name=name), encoding="utf-8")
    (work / "pipeline_frames.h").write_text(frames_header(frames), encoding="utf-8")
    sources = [work / "pipeline_m4.cc", *(export_dir / f"{name}{part}.cc" for part in ("_pipeline", "_data",
                                                                                          "_locator_data"))]
    return link_firmware(root, library, gcc, work, sources, [export_dir], "pipeline.elf")


def parse_run(printed: str, n_frames: int, log_path: Path) -> tuple[float, list[FrameRun], tuple[int, int]]:
    """(instructions per tick, per frame result and ticks, the two arenas used) from the firmware's output."""
    per_tick = instructions_per_tick(printed)
    runs: list[FrameRun] = []
    arena = None
    for line in printed.splitlines():
        words = line.split()
        if line.startswith("frame ") and len(words) == 10 and words[3] == "ticks":
            runs.append(FrameRun([f"faces {words[2]}"], dict(zip(PARTS, map(int, words[4:])))))
        elif line.startswith("face ") and runs:
            runs[-1].faces.append(line.strip())
        elif line.startswith("arena ") and len(words) == 3:
            arena = (int(words[1]), int(words[2]))
    if per_tick is None or arena is None or len(runs) != n_frames:
        raise fail(f"the pipeline firmware printed {len(runs)} of {n_frames} frames"
                   + ("" if per_tick else ", no calibration line") + ("" if arena else ", no arena line"), log_path,
                   OPTION)
    return per_tick, runs, arena


def _scores(lines: list[str]) -> np.ndarray:
    return np.array([[int(v) for v in line.split()[11:]] for line in lines[1:]], np.int32).reshape(-1)


def compare_runs(reference: list[FrameRun], other: list[FrameRun]) -> dict:
    """Frames whose faces and scores are identical, and the largest int8 score difference where the boxes agree."""
    identical, max_lsb = 0, 0
    for a, b in zip(reference, other):
        identical += a.faces == b.faces
        boxes_a, boxes_b = [line.split()[:11] for line in a.faces[1:]], [line.split()[:11] for line in b.faces[1:]]
        if boxes_a == boxes_b and len(a.faces) > 1:
            max_lsb = max(max_lsb, int(np.abs(_scores(a.faces) - _scores(b.faces)).max(initial=0)))
    return {"frames_identical": int(identical), "frames": len(reference), "max_lsb_diff": max_lsb}


def measure_pipeline(export_dir: Path, name: str, locator: Locator, model_data: bytes, reference: FramePipeline,
                     frames: list[CameraFrame], tflm_dir: str, kernels: tuple[str, ...] = KERNELS) -> dict:
    """Count the pipeline per frame with each kernel set: export.json's ``pipeline.measure_m4``."""
    root = check_tree(tflm_dir)
    gcc, qemu = find_tools()
    commit = tree.tree_commit(root)
    cache = tree.build_root(root, commit)
    chosen, expected = choose_frames(frames, reference)
    ops = list(dict.fromkeys([*read_model(model_data, name).ops, *locator.info.ops]))
    (cache / "apps").mkdir(parents=True, exist_ok=True)
    work_root = Path(tempfile.mkdtemp(prefix=f"{name}-pipeline-m4-", dir=cache / "apps"))
    record: dict = {"frames": [{"size": f"{f.width}x{f.height}", "index": f.index, "faces": len(e) - 1}
                               for f, e in zip(chosen, expected)],
                    "machine": MACHINE, "toolchain": tool_version(gcc), "qemu": tool_version(qemu),
                    "tflm_commit": commit, "cycles_per_instruction_assumed": list(CPI_ASSUMED)}
    runs: dict[str, list[FrameRun]] = {}
    for k in kernels:
        work = work_root / k
        work.mkdir()
        lib, elf = with_library(root, cache / f"m4-{k}", cortex_m4(gcc, k), ops, work,
                                lambda library, work=work: build_firmware(root, export_dir, name, library, gcc, work,
                                                                          chosen))
        log.info("%s: running the %s pipeline firmware under QEMU %s", OPTION, kernel_title(k), MACHINE)
        printed = run_firmware(qemu, elf, work / "build.log")
        per_tick, frame_runs, arena = parse_run(printed, len(chosen), work / "build.log")
        runs[k] = frame_runs
        record[k] = {"instructions_per_tick": round(per_tick, 3),
                     "arena_used": {"locator": arena[0], "classifier": arena[1]},
                     "code_bytes": code_bytes(gcc, elf), "library": str(lib.path),
                     "frames": [{p: round(t * per_tick) for p, t in r.ticks.items()} for r in frame_runs]}
        record[k]["per_size"] = per_size(record["frames"], record[k]["frames"])
    first = kernels[0]
    python_same = sum(r.faces == e for r, e in zip(runs[first], expected))
    log_path = work_root / first / "build.log"
    if first == "reference" and python_same != len(chosen):
        i = next(i for i, (r, e) in enumerate(zip(runs[first], expected)) if r.faces != e)
        raise fail(f"{chosen[i].name}: the reference-kernel pipeline gives {' | '.join(runs[first][i].faces)!r}, "
                   f"the Python reference {' | '.join(expected[i])!r}", log_path, OPTION)
    record["python_identical"] = int(python_same)
    if len(kernels) > 1:
        record["agreement"] = compare_runs(runs[first], runs[kernels[1]])
    shutil.rmtree(work_root, ignore_errors=True)
    return record


def per_size(frames: list[dict], counts: list[dict]) -> dict:
    """Median instructions per part over the frames of each size (one-face frames when there are any)."""
    out = {}
    for size in dict.fromkeys(f["size"] for f in frames):
        rows = [c for f, c in zip(frames, counts) if f["size"] == size]
        faces = [f["faces"] for f in frames if f["size"] == size]
        out[size] = {"faces": faces, **{p: int(np.median([r[p] for r in rows])) for p in PARTS}}
    return out


def summary(record: dict) -> list[str]:
    """Lines for the terminal and the README: instructions per frame per part, per kernel set and size."""
    lines = []
    for k in KERNELS:
        for size, parts in record.get(k, {}).get("per_size", {}).items():
            cells = ", ".join(f"{p} {count_text(parts[p])}" for p in PARTS[:-1])
            lines.append(f"{kernel_title(k)} {size} ({'/'.join(map(str, parts['faces']))} faces): "
                         f"{parts['total'] / 1e6:.2f} M instructions per frame ({cells})")
    return lines
