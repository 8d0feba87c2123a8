"""Built-in synthetic faces: procedurally drawn grayscale faces showing the seven expressions.

Each face (see ``edge.synthetic.faces``, shared with ``fer-edge demo-video``) varies in expression intensity, identity (feature placement,
tones, hair), pose (rotation, yaw, scale, position) and lighting; each image adds a background,
blur and noise. Seeded: the same seed gives identical arrays. Faces are drawn at DRAW_SIZE and
reduced by ``edge.core.preprocess.prepare`` like any other crop.
"""

from __future__ import annotations

import numpy as np

from edge.core.preprocess import prepare
from edge.core.spec import DEFAULT_SPEC, LABELS, ModelSpec
from edge.synthetic.faces import CROP_SCALE, HEAD_SCALE, Pose, background, composite, face_layer, finish
from train.datasets.base import Loaded, Progress, Split

__all__ = ["CROP_SCALE", "HEAD_SCALE", "Pose", "background", "composite", "face_layer", "finish", "generate", "load",
           "render_face", "split_sizes"]

NAME = "synthetic"
VERSION = 3  # bump when the drawing changes: it is part of the cache key
DEFAULT_PER_CLASS = {"train": 1000, "val": 200, "test": 200}
DRAW_SIZE = 96  # dataset faces are drawn at this size, then go through edge.core.preprocess.prepare


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
