"""Face detection, Haar vs YuNet, per detect width, from one run, as one Markdown table:

- recall and precision at IoU >= 0.5 against the labelled faces of the ExpW sample's original photos
  (``../shared/datasets/expw_sample``; ExpW does not label every face in a photo, so precision there is
  a lower bound) and against the true faces of a ``fer-edge demo-video`` (640x480);
- expression accuracy end to end on those photos (detect -> frame/align as the model's spec says ->
  classify; a labelled face the detector missed counts as wrong), next to classifying the labelled box;
- detection ms per 640x480 and per 320x240 frame (ExpW photos resized to those sizes), and frames/s of
  the headless ``fer-edge run`` loop on the 640x480 video (best of ``--repeats``).

A detect width W means: frames (and photos) wider than W are shrunk to W wide for detection, so the
smallest face found in a 640-wide frame is 640 * 24 / W pixels (both detectors go down to 24 px); it is
what ``--min-face`` of that size gives. The ``default`` row is ``fer-edge run`` with no detection option
(``--detector auto`` finding YuNet; about 320x240 pixels' worth per frame).

    python -m benchmarks.detection [--model models/fer_micro_int8.tflite] [--frames 300] [--out FILE]

Needs the YuNet model (found as fer-edge run finds it, else ../shared/models/) and ../shared/datasets/expw_sample
($FER_EDGE_SHARED names another ../shared).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.edge_pipeline import detection_counts, make_video
from benchmarks.expw_faces import EXPW_SAMPLE, Crops, crop, load_expw, match, yunet_model
from edge.config import EdgeConfig
from edge.core import atomic
from edge.core.rundir import DEFAULT_MODEL
from edge.detect import YUNET_DETECT_PIXELS, HaarDetector, YuNetDetector, default_detect_width
from edge.detector_model import ENV_MODEL
from edge.loop import run_edge

ROWS = (("haar", 320), ("haar", 480), ("haar", 640), ("yunet", 320), ("yunet", 480), ("yunet", 640))
MIN_SIZE = 24  # both detectors' smallest face (edge.detect.HAAR_MIN_SIZE, YUNET_MIN_SIZE)


def make_detector(kind: str, width: int | None, yunet: Path):
    return HaarDetector(width) if kind == "haar" else YuNetDetector(yunet, width)


def expw_scores(photos, detector, crops: Crops) -> dict:
    """Recall, precision (lower bound) and end-to-end accuracy on the ExpW photos."""
    tp = dets = total = right = right_found = 0
    framing = crops.spec.face_framing
    for p in photos:
        boxes, landmarks = detector.detect_faces(p.gray)  # at min(width, the photo's width)
        idx = match(p.boxes, boxes)
        dets += len(boxes)
        total += len(p.boxes)
        hit = idx >= 0
        tp += int(hit.sum())
        if hit.any():
            items = [crop(p.gray, boxes[j], None if landmarks is None else landmarks[j], framing) for j in idx[hit]]
            ok = int((crops.predict(items) == p.labels[hit]).sum())
            right += ok
            right_found += ok
    return {"recall": tp / total, "precision": tp / max(1, dets), "found": tp, "total": total, "dets": dets,
            "accuracy": right / total, "accuracy_found": right_found / max(1, tp)}


def labelled_box_accuracy(photos, crops: Crops) -> float:
    """The labelled boxes classified directly (with the spec's margin; no landmarks, so no alignment)."""
    right = total = 0
    framing = crops.spec.face_framing
    for p in photos:
        pred = crops.predict([crop(p.gray, b, None, framing) for b in p.boxes])
        right += int((pred == p.labels).sum())
        total += len(p.boxes)
    return right / total


def detect_ms(frames: list[np.ndarray], detector) -> tuple[float, float]:
    """Median wall-clock and process-CPU ms to detect on one frame (at the detector's width, or the
    frame's own if smaller). CPU time counts every thread OpenCV uses but not time spent waiting for a
    core, so on a shared machine it is the steadier of the two."""
    detector.detect_faces(frames[0])  # warm-up
    wall, cpu = [], []
    for f in frames:
        t, c = time.perf_counter(), time.process_time()
        detector.detect_faces(f)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return 1000 * float(np.median(wall)), 1000 * float(np.median(cpu))


def run_fps(config: EdgeConfig, repeats: int) -> tuple[float, list[float]]:
    runs = [run_edge(config).timer.summary()["fps"] for _ in range(repeats)]
    return max(runs), runs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(DEFAULT_MODEL))
    p.add_argument("--detector-model", help="YuNet .onnx (default: as fer-edge run finds it, else ../shared/models/)")
    p.add_argument("--frames", type=int, default=300, help="frames of the demo video (default %(default)s)")
    p.add_argument("--repeats", type=int, default=2, help="runs of the loop per row, best kept")
    p.add_argument("--timing-frames", type=int, default=60, help="ExpW photos timed per frame size")
    p.add_argument("--limit", type=int, help="ExpW photos used (a quick look; default all)")
    p.add_argument("--out", help="also write the table to this Markdown file")
    args = p.parse_args(argv)
    yunet = yunet_model(args.detector_model)
    load_start = os.getloadavg()
    start = time.perf_counter()
    crops = Crops(Path(args.model))
    photos = load_expw(EXPW_SAMPLE, args.limit)
    sized = {size: [cv2.resize(p.gray, size, interpolation=cv2.INTER_AREA) for p in photos[:args.timing_frames]]
             for size in ((640, 480), (320, 240))}
    box_acc = labelled_box_accuracy(photos, crops)
    rows = []
    with tempfile.TemporaryDirectory(prefix="detection-bench-") as tmp:
        tmp = Path(tmp)
        video, truth = make_video(tmp, args.frames, seed=0)
        os.environ[ENV_MODEL] = str(yunet)  # what --detector auto finds for the default row
        for kind, width in ROWS + (("default", None),):
            jsonl = tmp / f"{kind}{width}.jsonl"
            if kind == "default":  # fer-edge run with no detection option: auto finds YuNet
                config = EdgeConfig(source=str(video), model=args.model, jsonl=str(jsonl))
                detector_kind, label = "yunet", "default (auto: yunet)"
            else:
                config = EdgeConfig(source=str(video), model=args.model, jsonl=str(jsonl), detector=kind,
                                    detector_model=str(yunet) if kind == "yunet" else None, detect_width=width)
                detector_kind, label = kind, kind
            scores = expw_scores(photos, make_detector(detector_kind, width, yunet), crops)
            ms = {size: detect_ms(frames, make_detector(detector_kind, width, yunet)) for size, frames in sized.items()}
            fps, all_fps = run_fps(config, args.repeats)
            demo = detection_counts(jsonl, truth)
            at640 = width or default_detect_width(640, 480, YUNET_DETECT_PIXELS)
            rows.append((label, width, at640, scores, demo, ms, fps, all_fps))
            print(f"{label} {width}: done at {time.perf_counter() - start:.0f} s", file=sys.stderr)
    load_end = os.getloadavg()
    text = markdown(rows, box_acc, args, load_start, load_end, time.perf_counter() - start, len(photos))
    print(text)
    if args.out:
        atomic.write_text(args.out, text)
    return 0


def markdown(rows, box_acc, args, load_start, load_end, seconds, n_photos) -> str:
    lines = [f"## Face detection: Haar vs YuNet ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "",
             f"{platform.machine()}, {os.cpu_count()} CPUs, OpenCV {cv2.__version__}; load average "
             f"{load_start[0]:.2f} at start, {load_end[0]:.2f} at end (a shared machine: fps are lower "
             f"than on a quiet one); {seconds:.0f} s. Model `{Path(args.model).name}`. ExpW: {n_photos} photos of "
             f"the sample, {rows[0][3]['total']} labelled faces. Demo video: {args.frames} frames 640x480, 1-3 faces.",
             "",
             "| detector | detect width (smallest face in a 640x480 frame) | ExpW recall | ExpW precision "
             "(lower bound) | demo recall | demo precision | ExpW accuracy end to end (of found faces) | "
             "detect ms 640x480, wall (CPU) | detect ms 320x240, wall (CPU) | `fer-edge run` fps 640x480 (each run) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, width, at640, s, d, ms, fps, all_fps in rows:
        demo_recall = d["found"] / max(1, d["true_faces"])
        demo_precision = d["found"] / max(1, d["found"] + d["false_detections"])
        shown = width if width else f"default ({at640} at 640x480)"
        lines.append(f"| {label} | {shown} ({math.ceil(640 * MIN_SIZE / at640)} px) | "
                     f"{100 * s['recall']:.1f}% ({s['found']}/{s['total']}) | "
                     f"{100 * s['precision']:.1f}% ({s['dets']} boxes) | {100 * demo_recall:.1f}% | "
                     f"{100 * demo_precision:.1f}% | {100 * s['accuracy']:.1f}% ({100 * s['accuracy_found']:.1f}%) | "
                     f"{ms[(640, 480)][0]:.1f} ({ms[(640, 480)][1]:.1f}) | "
                     f"{ms[(320, 240)][0]:.1f} ({ms[(320, 240)][1]:.1f}) | "
                     f"{fps:.1f} ({', '.join(f'{v:.1f}' for v in all_fps)}) |")
    by = {(r[0], r[1]): r for r in rows}
    lines += ["", f"Classifying the labelled ExpW boxes directly: {100 * box_acc:.1f}% accuracy."]
    for width in (320, 640):
        h, y = by.get(("haar", width)), by.get(("yunet", width))
        if h and y:
            lines.append(f"At {width} px, from this run: Haar/YuNet detect time on 640x480 frames "
                         f"{h[5][(640, 480)][0] / y[5][(640, 480)][0]:.2f}x wall, "
                         f"{h[5][(640, 480)][1] / y[5][(640, 480)][1]:.2f}x CPU; "
                         f"`fer-edge run` fps YuNet/Haar {y[6] / h[6]:.2f}x.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
