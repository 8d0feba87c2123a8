"""Batch augmentation for the tf.data pipeline: flip, rotation/shift/zoom, brightness/contrast, erasing.

Pure TensorFlow ops on a whole float32 batch (B, H, W, 1) of normalized images, driven by a
stateless seed: the same (seed, epoch, batch) always gives the same augmentation, so a resumed run
sees exactly the batches an uninterrupted one would. Nothing here lives inside the model.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from edge.core.preprocess import normalize
from edge.core.spec import ModelSpec
from train.config import AugmentConfig


def value_range(spec: ModelSpec) -> tuple[float, float]:
    """The model-input values of black and white pixels, from the one preprocessing function."""
    lo, hi = normalize(np.array([0, 255], np.uint8), spec).reshape(-1)
    return float(lo), float(hi)


def _uniform(shape, seed, low, high):
    return tf.random.stateless_uniform(shape, seed=seed, minval=low, maxval=high, dtype=tf.float32)


def _flip(x, seed):
    flip = _uniform(tf.shape(x)[:1], seed, 0.0, 1.0) < 0.5
    return tf.where(flip[:, None, None, None], tf.reverse(x, axis=[2]), x)


def _geometric(x, seed, cfg: AugmentConfig):
    """Rotate/zoom about the centre and shift, in one projective resampling (reflect at borders)."""
    n = tf.shape(x)[0]
    h, w = x.shape[1], x.shape[2]
    s = tf.random.experimental.stateless_split(seed, 4)
    angle = _uniform([n], s[0], -1.0, 1.0) * (cfg.rotate * math.pi / 180.0)
    scale = 1.0 / _uniform([n], s[1], 1.0 - cfg.zoom, 1.0 + cfg.zoom)
    tx = _uniform([n], s[2], -cfg.shift, cfg.shift) * w
    ty = _uniform([n], s[3], -cfg.shift, cfg.shift) * h
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    a0, a1 = scale * tf.cos(angle), -scale * tf.sin(angle)
    b0, b1 = scale * tf.sin(angle), scale * tf.cos(angle)
    a2 = cx - a0 * cx - a1 * cy - tx
    b2 = cy - b0 * cx - b1 * cy - ty
    zeros = tf.zeros_like(a0)
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=x, transforms=transforms, output_shape=tf.constant([h, w]), fill_value=0.0,
        interpolation="BILINEAR", fill_mode="REFLECT")


def _photometric(x, seed, cfg: AugmentConfig, lo: float, hi: float):
    n = tf.shape(x)[0]
    s = tf.random.experimental.stateless_split(seed, 2)
    if cfg.contrast:
        factor = _uniform([n, 1, 1, 1], s[0], 1.0 - cfg.contrast, 1.0 + cfg.contrast)
        mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
        x = (x - mean) * factor + mean
    if cfg.brightness:
        x = x + _uniform([n, 1, 1, 1], s[1], -cfg.brightness, cfg.brightness) * (hi - lo)
    return tf.clip_by_value(x, lo, hi)


def _erase(x, seed, p: float, lo: float, hi: float):
    """Random erasing: with probability p, a rectangle of 2-20% of the image becomes noise."""
    n = tf.shape(x)[0]
    h, w = x.shape[1], x.shape[2]
    s = tf.random.experimental.stateless_split(seed, 6)
    area = _uniform([n], s[0], 0.02, 0.2)
    aspect = tf.exp(_uniform([n], s[1], math.log(0.3), math.log(1 / 0.3)))
    eh = tf.minimum(tf.sqrt(area * aspect) * h, float(h))
    ew = tf.minimum(tf.sqrt(area / aspect) * w, float(w))
    y0 = _uniform([n], s[2], 0.0, 1.0) * (h - eh)
    x0 = _uniform([n], s[3], 0.0, 1.0) * (w - ew)
    apply = _uniform([n], s[4], 0.0, 1.0) < p
    rows = tf.range(h, dtype=tf.float32)[None, :, None]
    cols = tf.range(w, dtype=tf.float32)[None, None, :]
    inside = ((rows >= y0[:, None, None]) & (rows < (y0 + eh)[:, None, None])
              & (cols >= x0[:, None, None]) & (cols < (x0 + ew)[:, None, None]) & apply[:, None, None])
    noise = _uniform(tf.shape(x), s[5], lo, hi)
    return tf.where(inside[..., None], noise, x)


def augment_batch(x: tf.Tensor, seed: tf.Tensor, cfg: AugmentConfig, lo: float, hi: float) -> tf.Tensor:
    """Augment a float32 (B, H, W, 1) batch with a stateless int seed of shape [2]."""
    s = tf.random.experimental.stateless_split(seed, 4)
    if cfg.flip:
        x = _flip(x, s[0])
    if cfg.rotate or cfg.shift or cfg.zoom:
        x = _geometric(x, s[1], cfg)
    if cfg.brightness or cfg.contrast:
        x = _photometric(x, s[2], cfg, lo, hi)
    if cfg.erase:
        x = _erase(x, s[3], cfg.erase, lo, hi)
    return x
