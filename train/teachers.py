"""Teachers for distillation: the OpenCV Zoo expression model, our own models, and weighted ensembles.

``--teacher`` names one or more teachers: ``zoo`` (OpenCV Model Zoo's MobileFaceNet trained on RAF-DB,
installed by ``fer-edge fetch-models``; ``$FER_EDGE_TEACHER_MODEL`` or a path to that .onnx also work)
or one of our models (.keras, .tflite or a run directory, see ``train.distill``). ``--teacher-weight``
gives each teacher one weight, or one weight per ``--data`` source: each source's faces are taught by
the weighted mean of the teachers' probabilities, since each teacher is strong on different faces
(the zoo model on in-the-wild faces, ours on FER2013's own 48x48 crops).

The zoo model sees each face the way it was trained: 112x112, colour where the source has colour
(ExpW photos: ``Split.views``), warped from YuNet's five landmarks onto the standard template; grey
48x48 crops are upscaled and aligned the same way (``train.datasets.face_views``). Its scores, remapped
to our label order, are computed once per face and cached in the fer-edge cache folder.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import cv2
import numpy as np

from edge.core.cache import cache_dir
from edge.core.errors import UserError
from edge.core.spec import LABELS, ModelSpec
from train.datasets.base import Progress, Split
from train.datasets.cache import load_array, save_array

log = logging.getLogger(__name__)

ZOO = "zoo"
#: The zoo model's output order (not FER2013's)
ZOO_LABELS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
ZOO_TO_OURS = [ZOO_LABELS.index(name) for name in LABELS]
CACHE_VERSION = 1
BATCH = 256


def is_zoo(teacher: str) -> bool:
    return teacher == ZOO or str(teacher).lower().endswith(".onnx")


def zoo_model_path(teacher: str = ZOO) -> Path:
    """The zoo expression model's file: a path given, else ``fer-edge fetch-models``'s copy (or its env var)."""
    from edge.detector_model import find_teacher_model

    return find_teacher_model(None if teacher == ZOO else teacher)


def load_zoo(path: Path):
    try:
        net = cv2.dnn.readNet(str(path))
        net.setInput(np.zeros((1, 3, 112, 112), np.float32))
        out = net.forward()
    except cv2.error as e:
        raise UserError(f"{path}: not an ONNX model OpenCV can run (expected the zoo expression model; "
                        f"{str(e).strip().splitlines()[-1]})") from None
    if out.shape != (1, len(ZOO_LABELS)):
        raise UserError(f"{path}: outputs {out.shape}, the zoo expression model gives (1, {len(ZOO_LABELS)})")
    return net


def zoo_logits(net, views: np.ndarray) -> np.ndarray:
    """float32 (N, 7) logits in LABELS order for uint8 (N, 112, 112, 3) RGB aligned faces."""
    out = np.empty((len(views), len(LABELS)), np.float32)
    for i, view in enumerate(views):  # the int8 model has a fixed batch of one
        net.setInput(cv2.dnn.blobFromImage(view, 1 / 127.5, (112, 112), (127.5, 127.5, 127.5)))
        out[i] = net.forward()[0, ZOO_TO_OURS]
    return out


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def zoo_log_probs(teacher: str, split: Split, use_cache: bool = True, what: str = "faces") -> np.ndarray:
    """float32 (N, 7) zoo log-probabilities for every face of ``split``: its ``views`` where it has them,
    else its 48x48 crops upscaled and aligned; cached once per face set."""
    from train.datasets.face_views import crop_views, yunet

    path = zoo_model_path(teacher)
    h = hashlib.sha256()
    for chunk in (str(CACHE_VERSION).encode(), path.read_bytes(), split.images.tobytes(),
                  b"" if split.views is None else split.views.tobytes()):
        h.update(hashlib.sha256(chunk).digest())
    cached = cache_dir() / f"teacher-zoo-{h.hexdigest()[:24]}.npy"
    out = load_array(cached, (len(split), len(LABELS))) if use_cache else None
    if out is not None:
        log.info("zoo teacher: %d soft targets from cache %s", len(out), cached)
        return out
    net = load_zoo(path)
    detector = None if split.views is not None else yunet()
    out = np.empty((len(split), len(LABELS)), np.float32)
    progress, found = Progress(f"zoo teacher on {len(split)} {what}", len(split)), 0
    for i in range(0, len(split), BATCH):
        if split.views is not None:
            views = split.views[i:i + BATCH]
        else:
            views, n = crop_views(detector, split.images[i:i + BATCH])
            found += n
        out[i:i + len(views)] = _log_softmax(zoo_logits(net, views))
        progress.update(len(views))
    progress.finish()
    if detector is not None:
        log.info("zoo teacher: YuNet found landmarks on %d of %d crops (the rest: the median landmarks)",
                 found, len(split))
    if use_cache:
        save_array(cached, out, "the zoo teacher's outputs")
    return out


def check_teachers(teachers: list[str], student: ModelSpec) -> None:
    """Every teacher exists and can teach the student (before any data is loaded or anything written)."""
    for teacher in teachers:
        if is_zoo(teacher):
            if tuple(student.labels) != LABELS:
                raise UserError(f"the zoo teacher names the classes {list(LABELS)}; the student has {list(student.labels)}")
            load_zoo(zoo_model_path(teacher))
        else:  # one of our models: TensorFlow (or LiteRT) loads it, so a corrupt file or wrong outputs fail here
            from train.distill import check_teacher
            from train.scoring import predict_fn_for

            predict_fn_for(*check_teacher(teacher, student))


def teacher_log_probs_of(teacher: str, split: Split, spec: ModelSpec, what: str = "faces") -> np.ndarray:
    """One teacher's (N, classes) log-probabilities on ``split``."""
    if is_zoo(teacher):
        return zoo_log_probs(teacher, split, what=what)
    from train.distill import teacher_log_probs

    return teacher_log_probs(teacher, split.images, spec)


def weights_per_source(weights: list[list[float]] | None, teachers: int, sources: int) -> np.ndarray:
    """(teachers, sources) weights: each teacher's one weight (or one per source); equal weights by default."""
    if weights is None:
        return np.ones((teachers, sources))
    out = np.array([w * sources if len(w) == 1 else w for w in weights], np.float64)
    if out.shape != (teachers, sources):
        raise UserError(f"--teacher-weight: expected one weight (or one per --data source, {sources}) for each of "
                        f"the {teachers} teacher(s), got {weights}")
    return out


def ensemble_log_probs(members: list[Split], teachers: list[str], weights: np.ndarray, spec: ModelSpec,
                       names: list[str] | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """(log of the weighted mean of the teachers' probabilities over the faces of all ``members`` in order,
    each teacher's own log-probabilities over them). A teacher whose weight on a source is 0 is not run on
    that source's faces (the zoo teacher takes minutes per 10k faces): its own log-probabilities there are NaN."""
    what = names or [""] * len(members)
    own = [np.concatenate([teacher_log_probs_of(t, m, spec, what=what[i] or "faces") if weights[k, i] > 0
                           else np.full((len(m), len(spec.labels)), np.nan, np.float32)
                           for i, m in enumerate(members)]) for k, t in enumerate(teachers)]
    source = np.concatenate([np.full(len(m), i) for i, m in enumerate(members)])
    w = weights[:, source]  # (teachers, N)
    w = w / w.sum(axis=0, keepdims=True)
    mix = sum(np.where(w[t][:, None] > 0, w[t][:, None] * np.exp(own[t]), 0.0) for t in range(len(teachers)))
    return np.log(np.maximum(mix, 1e-7)).astype(np.float32), own
