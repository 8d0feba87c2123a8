"""Which crop framing classifies ExpW faces best: margin around the box, with and without eye alignment.

For every labelled face of the ExpW folders (``../shared/datasets/expw_train``, whose crops keep half a
box of context on every side, and the ``expw_sample`` photos) the shipped model classifies:

- the labelled box grown by each margin (how ExpW training crops are framed, ``--expw-margin``);
- the YuNet box matched to it (IoU >= 0.5) grown by each margin, as the box is, and aligned (rotated so
  the eyes are level, YuNet's five landmarks).

Accuracies of the second kind are over the faces YuNet found; the labelled-box rows over the same faces
too (and over all faces in round brackets), so every column compares like with like; in square brackets,
over the found faces whose eye line is tilted more than 10 degrees. ``expw_sample turned 20 deg`` is the
sample with every photo turned by 20 degrees (alternately either way), the tilted heads the issue is about.

    python -m benchmarks.framing [--model models/fer_micro_int8.tflite] [--margins 0,0.1,0.2,0.3] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.expw_faces import EXPW_SAMPLE, EXPW_TRAIN, Crops, crop, load_expw, match, rotated, yunet_model
from edge.core import atomic
from edge.core.preprocess import eye_angle
from edge.core.rundir import DEFAULT_MODEL
from edge.core.spec import Framing
from edge.detect import YuNetDetector

TILTED = 10.0  # degrees


def evaluate(photos, crops: Crops, detector: YuNetDetector, margins: list[float]) -> dict:
    """Correct counts per framing over the faces YuNet found, and over all faces for the labelled box."""
    keys = [("label", m, False) for m in margins] + [("yunet", m, a) for m in margins for a in (False, True)]
    correct = {k: 0 for k in keys}
    correct_all = {m: 0 for m in margins}
    tilted = {k: 0 for k in keys}
    n_tilted = 0
    found = total = 0
    tilt = []
    for p in photos:
        boxes, landmarks = detector.detect_faces(p.gray, min_face=detector.min_size)
        idx = match(p.boxes, boxes)
        total += len(p.boxes)
        for m in margins:
            pred = crops.predict([crop(p.gray, b, None, Framing(m)) for b in p.boxes])
            correct_all[m] += int((pred == p.labels).sum())
        hit = idx >= 0
        if not hit.any():
            continue
        found += int(hit.sum())
        labels = p.labels[hit]
        face_tilt = np.array([abs(eye_angle(landmarks[j])) for j in idx[hit]])
        for kind, m, align in keys:
            if kind == "label":
                items = [crop(p.gray, b, None, Framing(m)) for b in p.boxes[hit]]
            else:
                items = [crop(p.gray, boxes[j], landmarks[j], Framing(m, align)) for j in idx[hit]]
            good = crops.predict(items) == labels
            correct[(kind, m, align)] += int(good.sum())
            tilted[(kind, m, align)] += int(good[face_tilt > TILTED].sum())
        n_tilted += int((face_tilt > TILTED).sum())
        tilt.extend(face_tilt)
    return {"keys": keys, "correct": correct, "correct_all": correct_all, "found": found, "total": total,
            "tilt": np.array(tilt), "tilted": tilted, "n_tilted": n_tilted}


def table(results: dict, margins: list[float], model: str, seconds: float) -> str:
    load = os.getloadavg()
    lines = [f"# Crop framing on ExpW faces ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "",
             f"Model `{model}` (int8, classifies 48x48 gray crops); YuNet at each image's own width, gray input, "
             f"matched to the labelled box at IoU >= 0.5. Load average {load[0]:.2f} / {load[1]:.2f} on "
             f"{os.cpu_count()} CPUs, {platform.machine()}; {seconds:.0f} s.", ""]
    names = list(results)
    head = "| crop | margin | " + " | ".join(f"{n}: accuracy (found faces)" for n in names) + " |"
    lines += [head, "|---|---:|" + "---:|" * len(names)]
    for kind, m, align in results[names[0]]["keys"]:
        label = {"label": "labelled box", "yunet": "YuNet box"}[kind] + (", aligned" if align else "")
        cells = []
        for n in names:
            r = results[n]
            acc = 100 * r["correct"][(kind, m, align)] / max(1, r["found"])
            cell = f"{acc:.1f}%"
            if kind == "label":
                cell += f" ({100 * r['correct_all'][m] / max(1, r['total']):.1f}% of all)"
            if kind == "yunet" and r["n_tilted"]:
                cell += f" [{100 * r['tilted'][(kind, m, align)] / r['n_tilted']:.1f}%]"
            cells.append(cell)
        lines.append(f"| {label} | {m:g} | " + " | ".join(cells) + " |")
    lines.append("")
    for n in names:
        r = results[n]
        t = r["tilt"]
        lines.append(f"- {n}: YuNet found {r['found']} of {r['total']} labelled faces; eye-line tilt of the found "
                     f"faces: median {np.median(t):.1f} deg, {100 * np.mean(t > 10):.0f}% over 10 deg, "
                     f"{100 * np.mean(t > 20):.0f}% over 20 deg.")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(DEFAULT_MODEL))
    p.add_argument("--margins", default="-0.15,-0.1,-0.05,0,0.1,0.2")
    p.add_argument("--detector-model", help="YuNet .onnx (default: as fer-edge run finds it, else ../shared/models/)")
    p.add_argument("--limit", type=int, help="photos per folder (a quick look)")
    p.add_argument("--out", help="also write the table to this Markdown file")
    args = p.parse_args(argv)
    margins = [float(v) for v in args.margins.split(",")]
    yunet = yunet_model(args.detector_model)
    crops = Crops(Path(args.model))
    start = time.perf_counter()
    results = {}
    sample = load_expw(EXPW_SAMPLE, args.limit)
    sets = {"expw_train": lambda: load_expw(EXPW_TRAIN, args.limit), "expw_sample": lambda: sample,
            "expw_sample turned 20 deg": lambda: [rotated(p, 20 if i % 2 else -20) for i, p in enumerate(sample)]}
    for name, photos in sets.items():
        detector = YuNetDetector(str(yunet), detect_width=4096)  # each image at its own width
        results[name] = evaluate(photos(), crops, detector, margins)
        print(f"{name}: done in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    text = table(results, margins, args.model, time.perf_counter() - start)
    print(text)
    if args.out:
        atomic.write_text(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
