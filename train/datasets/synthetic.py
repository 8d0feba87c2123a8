"""Built-in synthetic faces: procedurally drawn grayscale faces showing the seven expressions.

Each face (see ``face_drawing``) varies in expression intensity, identity (feature placement,
tones, hair), pose (rotation, yaw, scale, position) and lighting; each image adds a background,
blur and noise. Seeded: the same seed gives identical arrays. Faces are drawn at DRAW_SIZE and
reduced by ``edge.preprocess.prepare`` like any other crop.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from edge.preprocess import prepare
from edge.spec import DEFAULT_SPEC, LABELS, ModelSpec
from train.datasets.base import Loaded, Progress, Split
from train.datasets.face_drawing import CROP_SCALE, HEAD_SCALE, Pose, face_layer, grid

__all__ = ["CROP_SCALE", "HEAD_SCALE", "Pose", "background", "composite", "face_layer", "finish", "generate", "load",
           "render_face", "split_sizes"]

NAME = "synthetic"
VERSION = 3  # bump when the drawing changes: it is part of the cache key
DEFAULT_PER_CLASS = {"train": 1000, "val": 200, "test": 200}
DRAW_SIZE = 96  # dataset faces are drawn at this size, then go through edge.preprocess.prepare


def background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A float32 (h, w) backdrop: flat, a gradient, a blotchy texture or stripes."""
    kind = rng.integers(4)
    base = rng.uniform(0, 255)
    if kind == 0:
        bg = np.full((h, w), base, np.float32)
    elif kind == 1:  # linear gradient
        yy, xx = grid(h, w)
        a = rng.uniform(0, 2 * math.pi)
        ramp = np.cos(a) * xx + np.sin(a) * yy
        bg = base + rng.uniform(-120, 120) * ramp
    elif kind == 2:  # blotchy low-frequency texture
        small = rng.uniform(-1, 1, (rng.integers(2, 7), rng.integers(2, 7))).astype(np.float32)
        bg = base + rng.uniform(20, 90) * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    else:  # stripes (curtains, shelves, tiles)
        period = rng.uniform(4, 30)
        vertical = rng.random() < 0.5
        axis = np.arange(w if vertical else h, dtype=np.float32)
        wave = np.sign(np.sin(2 * math.pi * axis / period)) * rng.uniform(10, 50)
        bg = base + (wave[None, :] if vertical else wave[:, None]) + np.zeros((h, w), np.float32)
    return np.clip(bg, 0, 255).astype(np.float32)


def finish(image: np.ndarray, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """Camera effects: blur and sensor noise (``scale`` = image size / DRAW_SIZE)."""
    sigma = rng.uniform(0, 1.3) * scale
    if sigma > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    noise = rng.standard_normal(image.shape, dtype=np.float32) * np.float32(rng.uniform(0, 12))
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def composite(frame: np.ndarray, face: np.ndarray, mask: np.ndarray, x: int, y: int) -> None:
    """Alpha-blend a face layer (gray or matching channels) into a float32 ``frame`` at top left (x, y), clipped."""
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + face.shape[1], w), min(y + face.shape[0], h)
    if x1 <= x0 or y1 <= y0:
        return
    alpha = mask[y0 - y:y1 - y, x0 - x:x1 - x].astype(np.float32) / 255.0
    layer = face[y0 - y:y1 - y, x0 - x:x1 - x].astype(np.float32)
    if frame.ndim == 3:
        alpha = alpha[:, :, None]
        layer = layer if layer.ndim == 3 else layer[:, :, None]
    region = frame[y0:y1, x0:x1]
    region *= 1.0 - alpha
    region += layer * alpha


def render_face(rng: np.random.Generator, label: int, size: int = DRAW_SIZE) -> np.ndarray:
    """A uint8 size x size grayscale image of one synthetic face showing LABELS[label], framed like a
    face detector's crop, on a random background with blur and noise."""
    face, mask = face_layer(rng, label, size)
    image = background(rng, size, size)
    composite(image, face, mask, 0, 0)
    return finish(image, rng, size / DRAW_SIZE)


def split_sizes(per_class: int | None = None) -> dict[str, int]:
    """Faces per class in each split: train as asked (default 1000), val and test a fifth of it (10..200)."""
    train = DEFAULT_PER_CLASS["train"] if per_class is None else per_class
    held = min(DEFAULT_PER_CLASS["val"], max(10, train // 5))
    return {"train": train, "val": held, "test": held}


def generate(n_per_class: int, seed: int, split_index: int = 0, spec: ModelSpec = DEFAULT_SPEC) -> Split:
    """n_per_class faces of every class, shuffled, through ``prepare``; (seed, split) fixes the arrays."""
    rng = np.random.default_rng([seed, split_index, VERSION])
    labels = rng.permutation(np.repeat(np.arange(len(LABELS)), n_per_class))
    progress = Progress(f"drawing synthetic faces (split {split_index})", len(labels))
    images = []
    for c in labels:
        images.append(prepare(render_face(rng, int(c), DRAW_SIZE), spec))
        progress.update()
    return Split.stack(images, labels.tolist(), (spec.input_height, spec.input_width))


def load(seed: int = 0, *, per_class: int | None = None, spec: ModelSpec = DEFAULT_SPEC) -> Loaded:
    """The built-in dataset: train/val/test of ``split_sizes(per_class)`` faces per class."""
    return Loaded({name: generate(n, seed, i, spec) for i, (name, n) in enumerate(split_sizes(per_class).items())})
