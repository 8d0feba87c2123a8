"""How much an app's crop size matters: MediaPipe on export-mobile files vs fer-edge's own pipeline, per size.

An app hands MediaPipe Tasks' ImageClassifier a face crop of whatever size its detector found, and
MediaPipe resizes it bilinearly to the model's input. fer-edge itself shrinks crops with cv2's
INTER_AREA. This script cuts every ExpW face from its photo, shrinks it to each size with INTER_AREA
(a camera crop of that size), and reports how often MediaPipe's top-1 on each exported int8 file agrees
with LiteRT on the plain model fed through fer-edge's preprocessing.

    python -m benchmarks.mobile_crop_sizes ~/data/ExpW EXPORT_DIR [EXPORT_DIR ...] [--sizes 64 96 144 224]

Each EXPORT_DIR is the output of ``fer-edge export-mobile`` (e.g. made with ``--input-factor 1`` and 3);
MediaPipe runs in the mobile environment (``make mobile-venv``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from edge.core.spec import load_spec_for
from mobile_export import env, verify
from mobile_export.export import MOBILE_REPORT
from train.datasets.base import Skips
from train.datasets.expw import crop_box, locate, read_label_lst


def expw_crops(folder: str) -> list[np.ndarray]:
    label_file, photos = locate(Path(folder).expanduser())
    crops = []
    for name, faces in read_label_lst(label_file, Skips(folder), None).items():
        photo = cv2.imread(str(photos / name), cv2.IMREAD_COLOR)
        for face in faces if photo is not None else []:
            box = crop_box(face, photo.shape, 0.0)[0]
            if box is not None:
                crops.append(photo[box[0]:box[2], box[1]:box[3]])
    return crops


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("expw", help="an ExpW folder (label.lst + origin/ or Images/)")
    parser.add_argument("exports", nargs="+", help="export-mobile output folders")
    parser.add_argument("--sizes", nargs="+", type=int, default=[64, 96, 144, 224])
    args = parser.parse_args(argv)
    python = env.mobile_python()
    crops = expw_crops(args.expw)
    print(f"{len(crops)} ExpW faces, median box {np.median([c.shape[0] for c in crops]):.0f} px")
    print("| crop size | " + " | ".join(Path(e).name for e in args.exports) + " |")
    print("|---:|" + "---:|" * len(args.exports))
    for size in args.sizes:
        faces = np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in crops])
        row = []
        for export in map(Path, args.exports):
            report = json.loads((export / MOBILE_REPORT).read_text())
            name = next(n for n, f in report["files"].items() if f["precision"] == "int8")
            plain = Path(report["source"])
            result = verify.check(python, export / name, plain, load_spec_for(plain), faces)
            row.append(f"{100 * result.agreement:.1f}%")
        print(f"| {size} | " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
