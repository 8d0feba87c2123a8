"""Collect your own labelled faces: each face the live loop finds, framed exactly as the model's spec frames it
(the Recognizer's own crop), is written to ``OUT/<class>/<session>_<n>.png``, the image-folder layout
``fer-edge train --data OUT`` reads.

The label comes from ``label`` (a whole session) or from keys pressed in the ``--display`` window or the
live view: ``1``..``9`` pick a class (in the spec's label order), space pauses. A face is skipped when it is
blurred (variance of the Laplacian of the 48x48 model input below ``min_sharpness``) or nearly the same as a
face saved recently for the same class (mean absolute difference of the brightness-normalised 24x24 faces
below ``min_change`` grey levels), so a still face does not give 300 identical crops. Every file is written
atomically, so whatever stops the run leaves only complete images, and never over an existing one: the session
name carries a random part and each name is claimed exclusively, so two collects into one folder (started in
the same second, or running at once) keep all their faces.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import logging
import os
import secrets
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from edge.collect_options import CollectOptions
from edge.core.errors import UserError
from edge.core.preprocess import prepare
from edge.sources import IMAGE_SUFFIXES

log = logging.getLogger(__name__)
PAUSE_KEY = " "
#: saved faces of a class that a new face is compared with
RECENT = 30
PROGRESS_EVERY_S = 10.0


def sharpness(face: np.ndarray) -> float:
    """Variance of the Laplacian of a uint8 face (the model input): low means blurred."""
    return float(cv2.Laplacian(face, cv2.CV_32F).var())


def signature(face: np.ndarray) -> np.ndarray:
    """The face shrunk to 24x24 with its mean and contrast normalised (to 128 +- 40 grey levels)."""
    small = cv2.resize(face, (24, 24), interpolation=cv2.INTER_AREA).astype(np.float32)
    return (small - small.mean()) * (40.0 / (small.std() + 1e-3)) + 128.0


class Collector:
    """The ``on_frame`` hook of the live loop that writes the faces (see the module docstring)."""

    def __init__(self, options: CollectOptions, spec, stop=None):
        self.options, self.spec, self.stop = options, spec, stop
        if options.label is not None and options.label not in spec.labels:
            raise UserError(f"--label {options.label!r}: expected one of {', '.join(spec.labels)} (the model's classes)")
        for name in spec.labels:
            if (options.out / name).exists() and not (options.out / name).is_dir():
                raise UserError(f"--out-dir {options.out}: {options.out / name} is a file, not a folder (expected the "
                                f"folder of the {name} faces; move the file or choose another --out-dir)")
        # a random part: two collects started in the same second never pick the same names
        self.session = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
        self.counts = {name: self._existing(name) for name in spec.labels}
        self.saved = dict.fromkeys(spec.labels, 0)
        self.skipped = collections.Counter()
        #: why the session ended early (--max reached), for the closing line; None otherwise
        self.stopped_by: str | None = None
        self.current = options.label
        self._recent = {name: collections.deque(maxlen=RECENT) for name in spec.labels}
        self._frames = 0
        self._next_log = time.monotonic() + PROGRESS_EVERY_S

    def _existing(self, name: str) -> int:
        folder = self.options.out / name
        return sum(1 for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else 0

    def keys(self) -> dict[str, str | None]:
        """Key -> class (None = pause) for the window and the live view."""
        keys = {str(i + 1): name for i, name in enumerate(self.spec.labels[:9])}
        keys[PAUSE_KEY] = None
        return keys

    def press(self, key: str) -> None:
        keys = self.keys()
        if key in keys and self.options.label is None:
            self.current = keys[key]
            log.info("collecting %s", self.current or "nothing (paused)")

    def full(self, name: str) -> bool:
        return self.options.max_per_class is not None and self.saved[name] >= self.options.max_per_class

    def __call__(self, frame, faces, keys=()) -> dict:
        for key in keys:
            self.press(key)
        self._frames += 1
        name = self.current
        if name is not None and not self.full(name) and (self._frames - 1) % self.options.every == 0:
            for face in faces:
                self._consider(face, name)
        if self.options.label is not None and self.full(self.options.label) and self.stop is not None:
            if self.stopped_by is None:
                self.stopped_by = f"--max {self.options.max_per_class} ({self.options.label} faces saved)"
                log.info("%s reached: stopping", self.stopped_by)
            self.stop.set()
        self.draw(frame.image)
        if time.monotonic() >= self._next_log:
            self._next_log += PROGRESS_EVERY_S
            log.info("%s", self.summary())
        return {"collect": self.state()}

    def _consider(self, face, name: str) -> None:
        if self.full(name):
            return
        if self.options.min_face is not None and face.box[2] < self.options.min_face:
            self.skipped["too small"] += 1
            return
        if face.crop is None:
            self.skipped["not framed"] += 1
            return
        x = prepare(face.crop, self.spec)
        if sharpness(x) < self.options.min_sharpness:
            self.skipped["blurred"] += 1
            return
        sig = signature(x)
        if any(float(np.abs(sig - r).mean()) < self.options.min_change for r in self._recent[name]):
            self.skipped["near-duplicate"] += 1
            return
        self.counts[name] += 1
        self.saved[name] += 1
        self._save(name, cv2.imencode(".png", face.crop)[1].tobytes())
        self._recent[name].append(sig)

    def _save(self, name: str, data: bytes) -> Path:
        """Write ``data`` as the next free ``<session>_<n>.png`` of class ``name``: complete (written under a
        temporary name first), and never over an existing face (claimed by hard link or exclusive create, both
        of which fail when the name is taken)."""
        folder = self.options.out / name
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.session}.", suffix=".tmp.png", dir=folder)
        n = self.saved[name]
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
            while True:
                path = folder / f"{self.session}_{n:05d}.png"
                try:
                    try:
                        os.link(tmp, path)
                    except OSError as e:  # a file system without hard links: claim the name, then fill it
                        if isinstance(e, FileExistsError) or e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV):
                            raise
                        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                        os.replace(tmp, path)
                    return path
                except FileExistsError:
                    n += 1
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def state(self) -> dict:
        return {"current": self.current, "counts": dict(self.counts), "saved": dict(self.saved),
                "skipped": dict(self.skipped), "keys": {k: v for k, v in self.keys().items()},
                "fixed_label": self.options.label is not None}

    def draw(self, image: np.ndarray) -> None:
        """The class keys with their counts in the image's bottom-left corner, the current class highlighted."""
        scale = max(0.4, image.shape[1] / 1280)
        line = round(22 * scale / 0.5)
        rows = [f"{k} {v} {self.counts[v]}" for k, v in self.keys().items() if v is not None]
        rows.append("space: pause" if self.current else "PAUSED (space)")
        y = image.shape[0] - line * len(rows) - 4
        for text, name in zip(rows, list(self.keys().values())):
            color = (40, 220, 255) if name == self.current else (230, 230, 230)
            cv2.putText(image, text, (6, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(image, text, (6, y), cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)
            y += line

    def summary(self) -> str:
        saved = ", ".join(f"{n} {c}" for n, c in self.saved.items() if c) or "nothing"
        limit = f" (< {self.options.min_face} px, --min-face)"
        skipped = ", ".join(f"{c} {why}" + (limit if why == "too small" else "")
                            for why, c in self.skipped.items()) or "none"
        return f"saved {sum(self.saved.values())} faces to {self.options.out} ({saved}); skipped: {skipped}"
