"""``fer-edge data``: inspect a dataset: counts per class and split, skipped items, a contact sheet.

Light on purpose (no TensorFlow, no matplotlib): the loaders need only numpy and OpenCV.
"""

from __future__ import annotations

import argparse
import os
import time

HELP = "inspect a dataset: counts per class and split, skipped items, a contact sheet"  # fer-edge --help

FORMAT_CHOICES = ("auto", "expw", "fer2013-csv", "ferplus", "folders", "legend", "synthetic")  # train.datasets.FORMATS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", nargs="?", default=None,
                        help="an image folder (<class>/ or <split>/<class>/), a FER2013 .csv, an ExpW folder with "
                             "label.lst, or synthetic[:SEED] (default: the built-in synthetic faces)")
    parser.add_argument("--format", default="auto", choices=FORMAT_CHOICES, help="dataset format (default: detect)")
    parser.add_argument("--contact-sheet", metavar="OUT.png", help="write a grid of train samples, a row per class")
    parser.add_argument("--per-class", type=int, default=8, metavar="N", help="samples per class on the sheet (default 8)")
    from edge.core.deprecated import add_alias

    parser.add_argument("--framing-margin", type=float, default=None, metavar="FRAC",
                        help="faces cut from photos (ExpW) as 'fer-edge train --framing-margin' cuts them: the box "
                             "grown by this fraction on every side (default: the shipped models' framing)")
    parser.add_argument("--framing-align", action=argparse.BooleanOptionalAction, default=True,
                        help="level the eyes with the detector's landmarks, as train does (default on)")
    add_alias(parser, "--expw-margin", "--framing-margin", "framing_margin", type=float, metavar="M")
    parser.add_argument("--expw-min-confidence", type=float, default=None, metavar="C",
                        help="ExpW: drop faces whose detector confidence is below C")
    parser.add_argument("--val-fraction", type=float, default=0.1,
                        help="share of train held out as val when the source has no val split (default 0.1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of that split and of the sheet's samples")
    parser.add_argument("--no-cache", action="store_true", help="decode again instead of reading the dataset cache")


def format_table(dataset, seconds: float) -> str:
    """Counts per class and split, totals and each class's share, then skipped items by kind."""
    counts = dataset.counts()
    splits = list(counts)
    totals = [sum(col) for col in zip(*counts.values())]
    grand = sum(totals)
    width = max(len(name) for name in dataset.labels + ("total",))
    head = f"{'class':<{width}}" + "".join(f"{s:>9}" for s in splits) + f"{'total':>9}{'share':>8}"
    lines = [f"{dataset.source} ({dataset.name}): {grand} images, loaded in {seconds:.1f} s", head, "-" * len(head)]
    for c, name in enumerate(dataset.labels):
        row = "".join(f"{counts[s][c]:>9}" for s in splits)
        lines.append(f"{name:<{width}}{row}{totals[c]:>9}{100.0 * totals[c] / max(grand, 1):>7.1f}%")
    lines.append("-" * len(head))
    lines.append(f"{'total':<{width}}" + "".join(f"{sum(counts[s]):>9}" for s in splits) + f"{grand:>9}{'100.0%':>8}")
    if dataset.skipped:
        lines.append(f"skipped {sum(dataset.skipped.values())} item(s):")
        for kind, n in sorted(dataset.skipped.items()):
            example = dataset.skip_examples.get(kind)
            lines.append(f"  {n:>7}  {kind}" + (f"  (first: {example})" if example else ""))
    else:
        lines.append("skipped: none")
    return "\n".join(lines)


def contact_sheet(dataset, per_class: int = 8, seed: int = 0, split: str = "train", scale: int = 2):
    """uint8 grayscale grid: a row per class (name and count on the left) of random samples from ``split``."""
    import cv2
    import numpy as np

    part = dataset.splits[split]
    h, w = part.images.shape[1] * scale, part.images.shape[2] * scale
    label_w, pad = 150, 2
    rng = np.random.default_rng(seed)
    rows = []
    for c, name in enumerate(dataset.labels):
        row = np.full((h + 2 * pad, label_w + per_class * (w + pad) + pad), 32, np.uint8)
        idx = np.flatnonzero(part.labels == c)
        cv2.putText(row, name, (8, h // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 255, 1, cv2.LINE_AA)
        cv2.putText(row, f"{len(idx)} in {split}", (8, h // 2 + 22), cv2.FONT_HERSHEY_SIMPLEX, 0.45, 180, 1, cv2.LINE_AA)
        chosen = rng.choice(idx, size=min(per_class, len(idx)), replace=False) if len(idx) else []
        for j, i in enumerate(chosen):
            tile = cv2.resize(part.images[i], (w, h), interpolation=cv2.INTER_NEAREST)
            x = label_w + j * (w + pad)
            row[pad:pad + h, x:x + w] = tile
        rows.append(row)
    return np.vstack(rows)


def write_image(path: str, image) -> None:
    """Encode by the file's extension (PNG if none) and write atomically."""

    import cv2

    from edge.core import atomic
    from edge.core.errors import UserError

    ext = os.path.splitext(path)[1].lower() or ".png"
    ok, data = cv2.imencode(ext, image)
    if not ok:
        raise UserError(f"{path}: cannot encode an image with extension {ext!r} (use .png)")
    atomic.write_bytes(path, data.tobytes())


def run(args: argparse.Namespace) -> int:
    from edge.core.errors import UserError
    from train.config import TrainConfig
    from train.datasets import load_dataset
    from train.run_artifacts import data_spec

    if args.per_class < 1:
        raise UserError(f"--per-class must be at least 1, got {args.per_class}")
    if args.contact_sheet:  # before the loading: a sheet that cannot be written fails at once, not after it
        from edge.core.paths import check_outputs

        check_outputs({"--contact-sheet": args.contact_sheet},
                      {"the dataset": args.source if args.source and os.path.exists(args.source) else None})
    # the faces framed exactly as 'fer-edge train' frames them: its config decides the framing, in one place
    spec = data_spec(TrainConfig(framing_margin=args.framing_margin, framing_align=args.framing_align))
    start = time.monotonic()
    dataset = load_dataset(args.source, format=args.format, val_fraction=args.val_fraction, seed=args.seed, spec=spec,
                           expw_min_confidence=args.expw_min_confidence,
                           use_cache=not args.no_cache)
    print(format_table(dataset, time.monotonic() - start))
    if args.contact_sheet:
        write_image(args.contact_sheet, contact_sheet(dataset, args.per_class, args.seed))
        print(f"contact sheet: {args.contact_sheet}")
    return 0
