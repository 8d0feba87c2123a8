"""Parity: the exported model in TensorFlow Lite Micro against LiteRT, on the spec's preprocessing.

Inputs are face-crop-like uint8 images (gradients, noise, shapes, face-like blobs, of varied sizes and
channel counts; plus the user's own images if given) passed through ``edge.core.preprocess.preprocess``
and quantized with the model's input scale/zero point. Both runtimes get the same int8 tensors and
their int8 outputs are compared. LiteRT runs its builtin kernels without the XNNPACK delegate
(XNNPACK requantizes differently again: up to 8 LSB and 6% top-1 flips measured on a trained model).
They are not bit-exact by design (TFLM's reference requantization
rounds twice, LiteRT's kernels once), so a sample passes when max |difference| <= ``TOLERANCE_LSB``
and both pick the same class, unless TFLM's top two scores are within the tolerance (a near-tie).
The TFLM Python interpreter stands for what the firmware computes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.core.errors import UserError
from edge.core.preprocess import preprocess
from edge.core.spec import ModelSpec

log = logging.getLogger(__name__)

TOLERANCE_LSB = 2
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".webp", ".tif", ".tiff")
_SIZES = ((48, 48), (30, 40), (64, 64), (96, 80), (120, 90), (200, 160), (37, 53), (256, 256))


@dataclass(frozen=True)
class ParityReport:
    samples: int
    bit_identical: int
    max_abs_diff: int
    top1_agree: int
    top1_near_ties: int  # top-1 differs but TFLM's top two are within the tolerance
    failures: tuple[str, ...]  # the first failing samples, described
    tolerance: int = TOLERANCE_LSB

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        return (f"{self.samples} inputs: {self.bit_identical / self.samples:.1%} bit-identical, "
                f"max |diff| {self.max_abs_diff} LSB (tolerance {self.tolerance}), top-1 agreement "
                f"{self.top1_agree / self.samples:.1%} ({self.top1_near_ties} near-ties)")


def compare_outputs(tflm: np.ndarray, litert: np.ndarray, tolerance: int = TOLERANCE_LSB,
                    names: list[str] | None = None) -> ParityReport:
    """Compare (N, classes) int8 outputs of TFLM and LiteRT sample by sample."""
    tflm = np.asarray(tflm, np.int32).reshape(len(tflm), -1)
    litert = np.asarray(litert, np.int32).reshape(len(litert), -1)
    if tflm.shape != litert.shape or not len(tflm):
        raise ValueError(f"expected two equal non-empty (N, classes) arrays, got {tflm.shape} and {litert.shape}")
    diff = np.abs(tflm - litert).max(axis=1)
    same_top1 = tflm.argmax(axis=1) == litert.argmax(axis=1)
    top_two = np.sort(tflm, axis=1)[:, -2:]
    near_tie = (top_two[:, 1] - top_two[:, 0]) <= tolerance
    failures = []
    for i in np.flatnonzero((diff > tolerance) | (~same_top1 & ~near_tie)):
        name = names[i] if names else f"input {i}"
        failures.append(f"{name}: max |diff| {diff[i]} LSB, top-1 TFLM {tflm[i].argmax()} vs LiteRT {litert[i].argmax()} "
                        f"(TFLM {tflm[i].tolist()}, LiteRT {litert[i].tolist()})")
    return ParityReport(len(tflm), int((diff == 0).sum()), int(diff.max()), int(same_top1.sum()),
                        int((~same_top1 & near_tie).sum()), tuple(failures[:5]), tolerance)


def _draw_shape(img: np.ndarray, rng: np.random.Generator) -> None:
    h, w = img.shape
    color = float(rng.uniform(0, 255))
    p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
    p2 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
    shape = rng.integers(0, 3)
    if shape == 0:
        cv2.rectangle(img, p1, p2, color, -1)
    elif shape == 1:
        cv2.line(img, p1, p2, color, 2)
    else:
        cv2.circle(img, p1, int(rng.integers(2, max(3, w // 3))), color, -1)


def synthetic_crops(n: int, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """``n`` named uint8 images: gradients, noise, shapes and face-like blobs of varied sizes."""
    rng = np.random.default_rng(seed)
    crops = []
    for i in range(n):
        h, w = _SIZES[i % len(_SIZES)]
        kind = ("gradient", "noise", "shapes", "face", "blur-noise", "flat")[i % 6]
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        if kind == "gradient":
            angle = rng.uniform(0, 2 * np.pi)
            g = np.cos(angle) * xx / w + np.sin(angle) * yy / h
            img = (g - g.min()) / max(float(np.ptp(g)), 1e-6) * 255
        elif kind in ("noise", "blur-noise"):
            img = rng.uniform(0, 255, (h, w))
            if kind == "blur-noise":
                img = cv2.GaussianBlur(img, (0, 0), rng.uniform(1, 4))
        elif kind == "flat":
            img = np.full((h, w), rng.integers(0, 256), np.float32)
        else:
            img = np.full((h, w), rng.uniform(0, 255), np.float32)
            if kind == "face":
                cv2.ellipse(img, (w // 2, h // 2), (w // 3, h * 2 // 5), 0, 0, 360, rng.uniform(120, 230), -1)
                for ex in (w // 3, 2 * w // 3):
                    cv2.circle(img, (ex, h * 2 // 5), max(1, w // 14), rng.uniform(0, 60), -1)
                cv2.ellipse(img, (w // 2, h * 2 // 3), (w // 6, max(1, h // 14)), 0, 0, 180, rng.uniform(0, 80), 2)
            for _ in range(int(rng.integers(2, 7))):
                _draw_shape(img, rng)
        img = np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
        if i % 5 == 4:  # some crops arrive as BGR frames
            img = np.repeat(img[:, :, None], 3, axis=2)
        crops.append((f"synthetic {kind} {w}x{h} #{i}", img))
    return crops


def load_image_folder(folder: str | Path, limit: int) -> list[tuple[str, np.ndarray]]:
    """Up to ``limit`` uint8 images (any size, gray or colour) found under ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"--parity-data {folder}: not a folder (expected a folder of face-crop images)")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    images = []
    for path in files:
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if img is None or img.dtype != np.uint8 or img.size == 0:
            log.warning("parity: skipping %s (not a readable 8-bit image)", path)
            continue
        images.append((str(path.relative_to(folder)), img))
        if len(images) >= limit:
            break
    if not images:
        raise UserError(f"--parity-data {folder}: no readable 8-bit images ({', '.join(IMAGE_SUFFIXES)})")
    return images


def quantized_inputs(litert, spec: ModelSpec, crops: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """(N, *input shape) tensors of the crops through the model's preprocessing and input quantization."""
    return np.stack([litert.quantize_input(preprocess(crop, spec))[None] for _, crop in crops])


def parity_inputs(model_path: Path, spec: ModelSpec, crops: list[tuple[str, np.ndarray]]) -> np.ndarray:
    from edge.runtime import TFLiteClassifier

    return quantized_inputs(TFLiteClassifier(model_path, spec, delegates=False), spec, crops)


def run_parity(model_path: Path, data: bytes, spec: ModelSpec, arena_size: int,
               crops: list[tuple[str, np.ndarray]]) -> ParityReport:
    """Run every crop through TFLM (with ``arena_size``) and LiteRT; compare the int8 outputs."""
    from edge.runtime import TFLiteClassifier
    from firmware_export.arena import tflm_interpreter

    litert = TFLiteClassifier(model_path, spec, delegates=False)  # builtin kernels, not XNNPACK
    tflm = tflm_interpreter(data, arena_size, str(model_path))
    outputs_tflm, outputs_litert = [], []
    for i, q in enumerate(quantized_inputs(litert, spec, crops)):
        outputs_litert.append(litert.invoke_raw(q).reshape(-1))
        tflm.set_input(q, 0)
        try:
            tflm.invoke()
        except RuntimeError as e:
            raise UserError(f"{model_path}: TensorFlow Lite Micro failed to run the model ({e})") from None
        outputs_tflm.append(np.asarray(tflm.get_output(0)).reshape(-1))
        if (i + 1) % max(1, len(crops) // 4) == 0:
            log.info("parity: %d/%d inputs", i + 1, len(crops))
    return compare_outputs(np.stack(outputs_tflm), np.stack(outputs_litert), names=[n for n, _ in crops])
