"""Generated locator frames, labelled by YuNet, kept on disk so a resumed or repeated run does not redo them.

``generated_frames(sources, config, labeler)`` returns the folder of a finished generation, making it first
if needed, under ``<cache>/locator/<key>/`` where the key hashes the generator config, the source folders'
contents (every file's path, size and mtime) and the labeller's identity (YuNet's SHA-256). Inside, ``train/``
and ``val/`` are labelled-frames folders (``edge.locator_eval``): ``frames/*.jpg`` and ``labels.jsonl``.

Frames are made in shards of ``SHARD`` frames; a shard's labels are written (atomically) after its frames, so a
killed generation resumes at the first shard without labels. Every frame draws from its own seed
``(config.seed, split, index)``: the frames are the same whether made in one go or resumed. The frames are
JPEGs (quality 70-95, as a cheap camera's stream) and YuNet labels the decoded JPEG at its full size.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from edge.core import atomic
from edge.locator_eval import LABELS_FILE, label_line
from train.datasets.cache import cache_dir, tree_signature
from train.datasets.locator_frames import FramesConfig, Sources, make_frame, recipe_shares

log = logging.getLogger(__name__)

STORE_FORMAT = 1  # bump when the generator makes different frames for the same config
SHARD = 250
SPLITS = {"train": 0, "val": 1}
DONE = "done.json"
#: YuNet's detection width for labelling: wider than any frame, so every frame is labelled at its full size
FULL_SIZE = 4096
Labeler = Callable[[np.ndarray], np.ndarray]


def yunet_labeler(model_path: str | Path) -> tuple[Labeler, str]:
    """(gray frame -> YuNet's square boxes at the frame's full size, the model's SHA-256)."""
    from edge.detect import YuNetDetector
    from edge.detector_model import sha256_of

    detector = YuNetDetector(model_path, detect_width=FULL_SIZE, label=f"YuNet {model_path}")

    def label(gray: np.ndarray) -> np.ndarray:
        return detector.detect_faces(gray, None)[0]

    return label, sha256_of(Path(model_path))


def store_key(config: FramesConfig, source_paths: list[str | None], labeler_id: str) -> str:
    signatures = []
    for p in source_paths:
        if p is None or str(p).startswith("synthetic"):
            signatures.append("synthetic")
        else:
            path = Path(p)
            signatures.append([str(path.resolve()), tree_signature(path) if path.is_dir() else
                               [(path.name, path.stat().st_size, path.stat().st_mtime_ns)]])
    h = hashlib.sha256(json.dumps([STORE_FORMAT, config.to_dict(), signatures, labeler_id], sort_keys=True,
                                  default=str).encode())
    return h.hexdigest()[:16]


def store_root() -> Path:
    return cache_dir() / "locator"


def _frame_rng(config: FramesConfig, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([config.seed, SPLITS[split], index])


def make_shard(folder: Path, split: str, shard: int, total: int, sources: Sources, config: FramesConfig,
               labeler: Labeler, shares: dict) -> int:
    """Frames ``shard * SHARD ..`` of a split into ``folder/frames``, then their labels; returns faces found."""
    frames_dir = folder / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    lines, faces = [], 0
    for index in range(shard * SHARD, min(total, (shard + 1) * SHARD)):
        rng = _frame_rng(config, split, index)
        gray, recipe = make_frame(rng, sources, config, shares)
        ok, jpeg = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(70, 96))])
        decoded = cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE)
        boxes = labeler(decoded)
        faces += len(boxes)
        name = f"frames/{index:06d}.jpg"
        atomic.write_bytes(folder / name, jpeg.tobytes())
        lines.append(label_line(name, (gray.shape[1], gray.shape[0]), boxes, recipe=recipe))
    atomic.write_text(folder / "shards" / f"{shard:05d}.jsonl", "\n".join(lines) + "\n")
    return faces


def generate(out: Path, sources: Sources, config: FramesConfig, labeler: Labeler, meta: dict) -> Path:
    """Fill ``out`` (resuming at its first unlabelled shard); returns ``out`` once ``done.json`` is written."""
    if (out / DONE).is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_json(out / "generator.json", {"config": config.to_dict(), **meta})
    shares = recipe_shares(sources, config)
    log.info("locator frames: recipes %s", ", ".join(f"{k} {v:.0%}" for k, v in shares.items()))
    for split, total in (("train", config.frames), ("val", config.val_frames)):
        folder = out / split
        (folder / "shards").mkdir(parents=True, exist_ok=True)
        shards = (total + SHARD - 1) // SHARD
        start, done_frames = time.monotonic(), 0
        for shard in range(shards):
            if (folder / "shards" / f"{shard:05d}.jsonl").is_file():
                continue
            make_shard(folder, split, shard, total, sources, config, labeler, shares)
            done_frames += min(total, (shard + 1) * SHARD) - shard * SHARD
            rate = done_frames / max(time.monotonic() - start, 1e-6)
            log.info("locator frames [%s]: shard %d/%d (%.0f frames/s)", split, shard + 1, shards, rate)
        text = "".join((folder / "shards" / f"{s:05d}.jsonl").read_text(encoding="utf-8") for s in range(shards))
        atomic.write_text(folder / LABELS_FILE, text)
    atomic.write_json(out / DONE, {"frames": config.frames, "val_frames": config.val_frames})
    return out


def generated_frames(source_paths: list[str | None], config: FramesConfig, labeler: Labeler, labeler_id: str,
                     root: Path | None = None, sources: Sources | None = None) -> Path:
    """The cached generation for these sources and config (made or finished first if needed)."""
    from train.datasets.locator_frames import load_sources

    key = store_key(config, source_paths, labeler_id)
    out = (root or store_root()) / key
    if (out / DONE).is_file():
        log.info("locator frames: cached in %s", out)
        return out
    log.info("locator frames: generating %d + %d frames into %s", config.frames, config.val_frames, out)
    sources = sources or load_sources(source_paths, config.seed, finder=labeler)
    meta = {"sources": [os.fspath(p) if p else "synthetic" for p in source_paths], "labeler": labeler_id}
    return generate(out, sources, config, labeler, meta)
