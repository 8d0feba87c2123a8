"""Check exported app models in MediaPipe Tasks against LiteRT on the plain models, on colour face crops.

The reference is what fer-edge itself runs: the plain grey model in LiteRT, fed through
``edge.core.preprocess`` (``cv2.COLOR_BGR2GRAY``). The exported model gets the same crop as RGB and does
the grey conversion itself, inside MediaPipe's ``ImageClassifier``.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.core.errors import UserError
from edge.core.preprocess import preprocess
from edge.core.spec import Framing, ModelSpec
from edge.runtime import TFLiteClassifier
from mobile_export import env

log = logging.getLogger(__name__)


def _resize(image: np.ndarray, size: int, interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    return cv2.resize(image, (size, size), interpolation=interpolation)


def synthetic_colour_faces(n: int, spec: ModelSpec, seed: int = 0, size: int | None = None):
    """n BGR uint8 face crops of ``size`` (default: the model's input): the built-in synthetic faces with a
    random skin tint, colour cast and chroma noise, so the grey conversion is exercised on real colour."""
    from train.datasets.synthetic import DRAW_SIZE, render_face

    rng = np.random.default_rng([seed, 13])
    labels = rng.permutation(np.resize(np.arange(spec.num_classes), n))
    size = size or spec.input_height
    crops = np.empty((n, size, size, 3), dtype=np.uint8)
    for i, label in enumerate(labels):
        grey = render_face(rng, int(label), DRAW_SIZE).astype(np.float32)
        tint = rng.uniform((0.55, 0.65, 0.8), (0.85, 0.95, 1.0))[rng.permutation(3) if rng.random() < 0.2 else slice(None)]
        bgr = grey[..., None] * tint + rng.uniform(-25, 25, 3) + rng.normal(0, 6, grey.shape + (3,))
        crops[i] = _resize(np.clip(bgr, 0, 255).astype(np.uint8), size)
    return crops, labels


def expw_colour_faces(source: str, n: int, size: int, seed: int = 0,
                      framing: Framing | None = None) -> tuple[np.ndarray, np.ndarray]:
    """n colour face crops of an ExpW folder, cut from the original photos as ``framing`` (the model's spec)
    says, exactly as training and evaluation cut them (``train.datasets.expw``: YuNet's box and landmarks
    where YuNet finds the face), BGR, shrunk to ``size`` with INTER_AREA as a camera crop would be; seeded."""
    from edge.core.preprocess import frame_labelled_face
    from train.datasets import face_views
    from train.datasets.base import Skips
    from train.datasets.expw import locate, read_label_lst

    framing = framing or Framing()
    net = face_views.yunet() if framing.align and face_views.have_yunet() else None
    label_file, photos = locate(Path(source))
    faces = [(name, f) for name, fs in read_label_lst(label_file, Skips(str(source)), None).items() for f in fs]
    rng = np.random.default_rng(seed)
    crops, labels = [], []
    for i in rng.permutation(len(faces)):
        name, face = faces[i]
        photo = cv2.imread(str(photos / name), cv2.IMREAD_COLOR)
        if photo is None:
            continue
        box = face.box
        found = face_views.match_face(net, photo, box) if net is not None else None
        crop = frame_labelled_face(photo, box, found, framing)
        if crop is None or crop.size == 0:
            continue
        crops.append(_resize(crop, size))
        labels.append(face.label)
        if len(crops) == n:
            break
    if not crops:
        raise UserError(f"{source}: no readable ExpW face")
    return np.stack(crops), np.asarray(labels)


def dataset_faces(source: str, n: int, spec: ModelSpec, size: int, split: str = "val", seed: int = 0):
    """n faces of a dataset at ``size``: colour crops for ExpW (photos), else a seeded sample of the split's
    grey crops (FER2013 is grey) as BGR, enlarged by pixel repetition (shrinking it back gives the original)."""
    from train.datasets import detect_format, load_dataset

    if detect_format(Path(source).expanduser()) == "expw":
        return expw_colour_faces(source, n, size, seed, spec.framing)

    ds = load_dataset(source, spec=spec)
    if split not in ds.splits or len(ds.splits[split]) == 0:
        raise UserError(f"{source}: no {split!r} split with images (it has: {', '.join(ds.splits)})")
    data = ds.splits[split]
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(data))[:n]
    grey = np.stack([_resize(g, size, cv2.INTER_NEAREST) for g in np.asarray(data.images)[idx]])
    return np.repeat(grey[..., None], 3, axis=-1), np.asarray(data.labels)[idx]


def litert_scores(model_path: Path, spec: ModelSpec, bgr: np.ndarray) -> np.ndarray:
    """The plain model in LiteRT, through fer-edge's own preprocessing."""
    clf = TFLiteClassifier(model_path, spec)
    return clf.predict(np.stack([preprocess(c, spec) for c in bgr]))


@dataclass(frozen=True)
class Check:
    file: str
    faces: int
    agreement: float
    max_abs_diff: float
    accuracy_mediapipe: float | None
    accuracy_litert: float | None
    metadata: dict

    def to_dict(self) -> dict:
        return dict(vars(self))


def mediapipe_scores(python: Path, model_path: Path, bgr: np.ndarray) -> tuple[np.ndarray, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        images, scores = Path(tmp) / "images.npy", Path(tmp) / "scores.npy"
        np.save(images, np.ascontiguousarray(bgr[..., ::-1]))  # the app hands MediaPipe RGB
        answer = env.run_job(python, "classify", {"model": str(model_path), "images": str(images),
                                                         "scores": str(scores)})
        return np.load(scores), answer


def check(python: Path, app_model: Path, plain_model: Path, plain_spec: ModelSpec, bgr: np.ndarray,
          labels: np.ndarray | None = None) -> Check:
    """MediaPipe on the exported file vs LiteRT on the plain model, for every crop."""
    log.info("running %s in MediaPipe and %s in LiteRT on %d faces", app_model.name, plain_model.name, len(bgr))
    mp_scores, answer = mediapipe_scores(python, app_model, bgr)
    ref = litert_scores(plain_model, plain_spec, bgr)
    acc = (lambda s: float(np.mean(s.argmax(1) == labels))) if labels is not None else (lambda s: None)
    return Check(app_model.name, len(bgr), float(np.mean(mp_scores.argmax(1) == ref.argmax(1))),
                 float(np.abs(mp_scores - ref).max()), acc(mp_scores), acc(ref), answer["metadata"])


def metadata_problems(read: dict, expected: dict) -> list[str]:
    """Differences between the metadata read back from a file and what was written (floats as float32)."""
    problems = []
    for key, want in expected.items():
        got = read.get(key)
        if key in ("mean", "std"):
            same = len(got or []) == 1 and np.float32(got[0]) == np.float32(want)
        else:
            same = got == want
        if not same:
            problems.append(f"{key}: read {got!r}, expected {want!r}")
    return problems
