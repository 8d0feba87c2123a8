"""The face locator on real photos filmed as a camera would: does it find YuNet's faces, and does the expression
read through it as through YuNet?

No camera is attached here, so the footage is made from the ExpW sample's photos (``../shared/datasets/
expw_sample``, never committed) that the locator's frame generator holds out (``train.datasets.locator_frames.
held_out``: it never trained on them). Each labelled face becomes ``--views`` views of ``--hold`` frames in a ``--size``
clip: a window around it with the face at a height drawn log-uniformly from 15-70% of the frame (a person 0.3-2 m from
a device), panning and zooming slowly, with sensor noise; one clip per expression class, ``OUT/<class>.mp4``.

Measured, per frame: YuNet's faces (``fer-edge run``'s own YuNet: the reference) against the locator's boxes
(``edge.locator_eval``): the share of YuNet's faces at 15-70% of the frame height the locator matches at
IoU >= 0.5, the share of YuNet's face-frames where it matches every such face, and the share of its boxes that
are invented (IoU < 0.1 with every YuNet face). Then ``benchmarks.clip_reads`` runs ``fer-edge run MODEL`` on
every clip with ``--detector yunet`` and with ``--detector LOCATOR`` and compares the share of face-frames read
as the clip's class:

    python -m benchmarks.locator_clips models/face_locator_int8.tflite --out /tmp/locator_clips [--model M]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path, PurePath

import cv2
import numpy as np

from benchmarks.expw_faces import EXPW_SAMPLE
from edge.core.spec import DEFAULT_SPEC


def frames_for(photo: np.ndarray, box, hold: int, face_share: float, size: tuple[int, int], rng) -> list[np.ndarray]:
    """``hold`` frames around ``box`` with the face ``face_share`` of the frame height, drifting and zooming."""
    x, y, w, h = box
    side = max(w, h)
    cx, cy = x + w / 2, y + h / 2
    off = rng.uniform(-0.3, 0.3, 2) * np.array(size) * side / (face_share * size[1])  # the face off centre
    drift = rng.uniform(-0.1, 0.1, 2) * side
    out = []
    for i in range(hold):
        f = i / max(1, hold - 1)
        scale = face_share * size[1] / side * (1 + 0.08 * (f - 0.5))
        px, py = cx + off[0] / (size[1] / side) + drift[0] * f, cy + off[1] / (size[1] / side) + drift[1] * f
        m = np.array([[scale, 0, size[0] / 2 - scale * px], [0, scale, size[1] / 2 - scale * py]])
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        frame = cv2.warpAffine(photo, m, size, flags=interp, borderMode=cv2.BORDER_REPLICATE)
        out.append(np.clip(frame + rng.normal(0, 2.0, frame.shape), 0, 255).astype(np.uint8))
    return out


def make_clips(out: Path, data: Path, hold: int, size: tuple[int, int], fps: float, views: int = 2,
               seed: int = 0) -> dict:
    from train.datasets.base import Skips
    from train.datasets.expw import locate, read_label_lst
    from train.datasets.locator_frames import held_out

    label_file, photos_dir = locate(data)
    faces = read_label_lst(label_file, Skips(str(data)), None)
    rng = np.random.default_rng(seed)
    writers, counts = {}, {}
    out.mkdir(parents=True, exist_ok=True)
    for name, fs in sorted(faces.items()):
        if not held_out(PurePath(name).name):
            continue
        photo = cv2.imread(str(photos_dir / PurePath(name)), cv2.IMREAD_COLOR)
        if photo is None:
            continue
        for face in fs:
            label = DEFAULT_SPEC.labels[face.label]
            if label not in writers:
                writers[label] = cv2.VideoWriter(str(out / f"{label}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
            box = (face.left, face.top, face.right - face.left, face.bottom - face.top)
            for _ in range(views):  # the same face at several distances
                share = math.exp(rng.uniform(math.log(0.15), math.log(0.70)))
                for frame in frames_for(photo, box, hold, share, size, rng):
                    writers[label].write(frame)
            counts[label] = counts.get(label, 0) + 1
    for w in writers.values():
        w.release()
    return counts


def detection(clips: list[Path], locator: str, yunet_model: str | None) -> dict:
    """Counts of the locator against YuNet (as ``fer-edge run`` configures it) on every frame of the clips."""
    from edge.detect import YuNetDetector
    from edge.detector_model import find_detector_model
    from edge.locator_detector import LocatorDetector
    from edge.locator_eval import Counts

    path, _ = find_detector_model(yunet_model)
    if path is None:
        raise SystemExit("no YuNet model: pass --detector-model or set FER_EDGE_DETECTOR_MODEL")
    yunet, loc = YuNetDetector(path), LocatorDetector(locator)
    counts = Counts()
    for clip in clips:
        cap = cv2.VideoCapture(str(clip))
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            counts.add(loc.detect_faces(gray)[0], yunet.detect_faces(gray)[0], gray.shape[0])
        cap.release()
    return counts.to_dict()


def main(argv=None) -> int:
    from benchmarks.clip_reads import run_clip, shares

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("locator", help="the face locator .tflite (its .spec.json beside it)")
    p.add_argument("--out", type=Path, required=True, help="folder for the clips (made if missing)")
    p.add_argument("--model", default=None, help="expression model for the reads (default: the shipped micro)")
    p.add_argument("--data", type=Path, default=EXPW_SAMPLE, help="an ExpW folder (default: the shared sample)")
    p.add_argument("--hold", type=int, default=12, help="frames per view of a face (default 12)")
    p.add_argument("--views", type=int, default=2, help="views of each face, each at its own distance (default 2)")
    p.add_argument("--size", default="320x240", help="clip frame size (default 320x240, QVGA)")
    p.add_argument("--fps", type=float, default=15.0)
    p.add_argument("--detector-model", default=None, help="YuNet .onnx (default: as fer-edge run finds it)")
    p.add_argument("--json", type=Path, help="also write the results as JSON")
    args = p.parse_args(argv)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    if not any(args.out.glob("*.mp4")):
        counts = make_clips(args.out, args.data, args.hold, size, args.fps, args.views)
        print(f"clips: {sum(counts.values())} held-out faces, {args.views} views of {args.hold} frames each, in "
              f"{args.out}", file=sys.stderr)
    clips = sorted(args.out.glob("*.mp4"))
    found = detection(clips, args.locator, args.detector_model)
    print(f"locator vs YuNet on {found['frames']} frames: {100 * found['recall']:.2f}% of {found['faces_in_band']} "
          f"YuNet faces at 15-70% of the frame height found (IoU >= 0.5); every such face found in "
          f"{found['face_frames_found']}/{found['face_frames']} YuNet face-frames "
          f"({100 * found['face_frames_found'] / max(1, found['face_frames']):.2f}%); invented "
          f"{100 * found['invented']:.2f}% of {found['boxes']} boxes; precision {100 * found['precision']:.2f}%")
    model = args.model or str(Path(__file__).resolve().parents[1] / "models" / "fer_micro_int8.tflite")
    extra = ["--detector-model", args.detector_model] if args.detector_model else []
    reads = {}
    for name, det in (("yunet", ["--detector", "yunet", *extra]), ("locator", ["--detector", args.locator])):
        reads[name] = {c.stem: run_clip(model, c, det) for c in clips}
    rows = []
    for c in clips:
        y, loc = shares(reads["yunet"][c.stem]).get(c.stem, 0.0), shares(reads["locator"][c.stem]).get(c.stem, 0.0)
        rows.append((c.stem, y, loc, sum(reads["yunet"][c.stem].values()), sum(reads["locator"][c.stem].values())))
        print(f"{c.stem}: read right {100 * y:.1f}% through YuNet ({rows[-1][3]} face-frames), {100 * loc:.1f}% "
              f"through the locator ({rows[-1][4]})")
    mean_y, mean_l = np.mean([r[1] for r in rows]), np.mean([r[2] for r in rows])
    print(f"mean over the {len(rows)} clips: {100 * mean_y:.2f}% through YuNet, {100 * mean_l:.2f}% through the locator "
          f"({100 * (mean_l - mean_y):+.2f} points)")
    if args.json:
        args.json.write_text(json.dumps({"detection": found, "reads": {k: {c: dict(v) for c, v in r.items()}
                                                                       for k, r in reads.items()},
                                         "mean_right": {"yunet": mean_y, "locator": mean_l}}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
