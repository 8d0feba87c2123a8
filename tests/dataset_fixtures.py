"""Small labelled datasets written in the real on-disk formats, with a class-dependent pattern a tiny
model can learn in an epoch or two: ``<split>/<class>/`` image folders and an ExpW folder (photos
plus ``label.lst`` face boxes)."""

from __future__ import annotations

import cv2
import numpy as np


def write_folders(root, per_class: int, value: int, splits=("train", "val")) -> None:
    """``root/<split>/<class index>/<i>.png``: 48x48 grey faces of ``value`` with a stripe per class."""
    for split in splits:
        for c in range(7):
            folder = root / split / str(c)
            folder.mkdir(parents=True)
            for i in range(per_class):
                img = np.full((48, 48), value, np.uint8)
                img[4 + 5 * c: 10 + 5 * c, :] = 255 - value  # a class-dependent stripe
                cv2.imwrite(str(folder / f"{i}.png"), img)


def write_expw(root, photos_per_class: int) -> None:
    """An ExpW folder: ``Images/`` of 96x96 photos and ``label.lst`` with one face box per photo."""
    (root / "Images").mkdir(parents=True)
    lines = []
    for c in range(7):
        for i in range(photos_per_class):
            name = f"p{c}_{i}.png"
            img = np.full((96, 96), 60, np.uint8)
            img[20 + 8 * c: 28 + 8 * c, 10:90] = 220
            cv2.imwrite(str(root / "Images" / name), img)
            lines.append(f"{name} 0 5 5 90 90 80.0 {c}")
    (root / "label.lst").write_text("\n".join(lines) + "\n")


def write_expw_photos(root, photos: dict, faces: list[tuple[str, int, int, int, int, int]]) -> None:
    """An ExpW folder of the given photos (name -> image) and one ``label.lst`` line per face
    (name, top, left, right, bottom, label), confidence 90."""
    (root / "Images").mkdir(parents=True)
    for name, image in photos.items():
        assert cv2.imwrite(str(root / "Images" / name), image)
    lines = [f"{name} {i} {top} {left} {right} {bottom} 90.0 {label}"
             for i, (name, top, left, right, bottom, label) in enumerate(faces)]
    (root / "label.lst").write_text("\n".join(lines) + "\n")
