"""Stand-in camera footage for the fine-tune example: slide-show clips of real ExpW photos, one per class.

No camera is attached here, so ``fer-edge collect`` is shown on videos built from the ExpW sample's photos
(``../shared/datasets/expw_sample``, never committed). Each labelled face becomes ``--hold`` frames of a
640x480 clip: a 4:3 window around the face (``--zoom`` times the face's height) with a slow pan and zoom
and Gaussian sensor noise (sigma 2 grey levels), so consecutive frames differ as a still camera's do.
Photos are split by a hash of their name: ``--heldout`` of them (default 30%) go into
``OUT/heldout/<class>.mp4``, the rest into ``OUT/train/<class>.mp4``; a photo's faces stay on one side.

    python -m benchmarks.expw_clips OUT [--hold 12] [--heldout 0.3]
    fer-edge collect --source OUT/train/happy.mp4 --out-dir mine/train --label happy   # per class and split
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path, PurePath

import cv2
import numpy as np

from benchmarks.expw_faces import EXPW_SAMPLE
from edge.core.spec import DEFAULT_SPEC

SIZE = (640, 480)


def heldout(name: str, share: float) -> bool:
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < share


def frames_for(photo: np.ndarray, box, hold: int, zoom: float, rng) -> list[np.ndarray]:
    """``hold`` frames of a window around ``box`` (x, y, w, h), panning and zooming slowly, with noise."""
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    drift = rng.uniform(-0.15, 0.15, 2) * h  # total pan over the clip
    out = []
    for i in range(hold):
        f = i / max(1, hold - 1)
        win_h = zoom * h * (1 + 0.1 * f)
        scale = SIZE[1] / win_h
        px, py = cx + drift[0] * f, cy + drift[1] * f
        m = np.array([[scale, 0, SIZE[0] / 2 - scale * px], [0, scale, SIZE[1] / 2 - scale * py]])
        frame = cv2.warpAffine(photo, m, SIZE, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        noise = rng.normal(0, 2.0, frame.shape)
        out.append(np.clip(frame + noise, 0, 255).astype(np.uint8))
    return out


def main(argv=None) -> int:
    from train.datasets.base import Skips
    from train.datasets.expw import locate, read_label_lst

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--data", type=Path, default=EXPW_SAMPLE, help="an ExpW folder (default: the shared sample)")
    p.add_argument("--hold", type=int, default=12, help="frames per face (default 12)")
    p.add_argument("--zoom", type=float, default=2.4, help="window height over face height (default 2.4)")
    p.add_argument("--heldout", type=float, default=0.3, help="share of photos held out (default 0.3)")
    p.add_argument("--fps", type=float, default=15.0)
    args = p.parse_args(argv)
    label_file, photos_dir = locate(args.data)
    faces = read_label_lst(label_file, Skips(str(args.data)), None)
    rng = np.random.default_rng(0)
    writers, counts = {}, {}
    for name, fs in faces.items():
        photo = cv2.imread(str(photos_dir / PurePath(name)), cv2.IMREAD_COLOR)
        if photo is None:
            continue
        split = "heldout" if heldout(name, args.heldout) else "train"
        for face in fs:
            label = DEFAULT_SPEC.labels[face.label]
            key = (split, label)
            if key not in writers:
                path = args.out / split / f"{label}.mp4"
                path.parent.mkdir(parents=True, exist_ok=True)
                writers[key] = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), args.fps, SIZE)
            box = (face.left, face.top, face.right - face.left, face.bottom - face.top)
            for frame in frames_for(photo, box, args.hold, args.zoom, rng):
                writers[key].write(frame)
            counts[key] = counts.get(key, 0) + 1
    for w in writers.values():
        w.release()
    for (split, label), n in sorted(counts.items()):
        print(f"{split}/{label}.mp4: {n} faces, {n * args.hold} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
