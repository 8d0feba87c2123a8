"""tf.data input pipelines built from in-memory dataset splits.

The loaders already decoded and cached every face as uint8 48x48; ``edge.core.preprocess.normalize``
turns a split into model input once, and the arrays stay in memory (the pipeline's cache). Each
epoch's order (a shuffle, or a class-balanced draw) and augmentation come from stateless seeds
derived from (seed, epoch, batch), so training is reproducible and a resumed run continues with the
very batches the interrupted one would have seen. Batches are prefetched while the model trains.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from edge.core.preprocess import normalize
from edge.core.spec import ModelSpec
from train.augment import augment_batch, value_range
from train.config import TrainConfig

AUTOTUNE = tf.data.AUTOTUNE
EVAL_BATCH = 256


def class_weights(labels: np.ndarray, num_classes: int, mode: str, sample_probs: np.ndarray | None = None) -> np.ndarray:
    """Per-class loss weights, mean 1 over the training samples.

    ``weights``: n / (k * count) (sklearn's "balanced"); ``sqrt-weights``: its square root, a milder
    correction; ``none`` / ``sampler``: all ones. A class with no samples gets weight 0.
    ``sample_probs``: the chance each sample is drawn (batches weighted by source); counts and the
    mean are then taken under that draw rather than over the samples as stored.
    """
    p = np.full(len(labels), 1.0 / max(len(labels), 1)) if sample_probs is None else np.asarray(sample_probs, np.float64)
    counts = np.bincount(labels, weights=p, minlength=num_classes) * len(labels)
    if mode in ("none", "sampler"):
        return np.ones(num_classes, np.float32)
    present = counts > 0
    w = np.zeros(num_classes)
    w[present] = len(labels) / (present.sum() * counts[present])
    if mode == "sqrt-weights":
        w = np.sqrt(w)
    w /= float((p * w[labels]).sum())  # mean sample weight 1: the loss scale stays comparable
    return w.astype(np.float32)


def _epoch_order(labels: tf.Tensor, n: int, seed: tf.Tensor, balanced: bool, num_classes: int) -> tf.Tensor:
    """Indices for one epoch: a permutation, or n draws that pick a class uniformly then a sample of it."""
    if not balanced:
        return tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=seed)
    order = tf.argsort(labels, stable=True)
    counts = tf.math.bincount(tf.cast(labels, tf.int32), minlength=num_classes, dtype=tf.int64)
    present = tf.boolean_mask(tf.range(num_classes, dtype=tf.int64), counts > 0)
    offsets = tf.cumsum(counts, exclusive=True)
    s = tf.random.experimental.stateless_split(seed, 2)
    pick = tf.random.stateless_uniform([n], seed=s[0], maxval=tf.shape(present, out_type=tf.int64)[0], dtype=tf.int64)
    return _draw_within(order, counts, offsets, tf.gather(present, pick), s[1])


def _draw_within(order: tf.Tensor, counts: tf.Tensor, offsets: tf.Tensor, groups: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """For each drawn group (a class or a stratum), one of its samples uniformly: ``order`` lists the
    samples sorted by group, ``counts``/``offsets`` say where each group's run starts and how long it is."""
    within = tf.cast(tf.random.stateless_uniform(tf.shape(groups), seed=seed) * tf.cast(tf.gather(counts, groups), tf.float32),
                     tf.int64)
    return tf.gather(order, tf.gather(offsets, groups) + tf.minimum(within, tf.gather(counts, groups) - 1))


def strata(labels: np.ndarray, sources: np.ndarray, source_weights, balanced: bool,
           num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(stratum id per sample, probability per stratum) for drawing batches weighted by source.

    A stratum is a source (or, with the class-balanced sampler, a source's class); source i gets
    ``w_i / sum(w)`` of the draws, split evenly over its classes when balanced.
    """
    w = np.asarray(source_weights, np.float64) / np.sum(source_weights)
    present = np.bincount(sources, minlength=len(w)) > 0
    w = np.where(present, w, 0.0)
    w /= w.sum()
    if not balanced:
        return sources.astype(np.int64), w
    ids = sources.astype(np.int64) * num_classes + labels
    counts = np.bincount(ids, minlength=len(w) * num_classes).reshape(len(w), num_classes)
    classes_per_source = np.maximum((counts > 0).sum(axis=1, keepdims=True), 1)
    probs = np.where(counts > 0, w[:, None] / classes_per_source, 0.0)
    return ids, probs.reshape(-1)


def _strata_order(ids: np.ndarray, probs: np.ndarray, n: int, seed: tf.Tensor) -> tf.Tensor:
    """n draws: a stratum with probability ``probs``, then a sample of it uniformly."""
    order = tf.constant(np.argsort(ids, kind="stable"), tf.int64)
    counts = tf.constant(np.bincount(ids, minlength=len(probs)), tf.int64)
    offsets = tf.cumsum(counts, exclusive=True)
    logits = tf.constant(np.log(np.maximum(probs, 1e-30))[None, :], tf.float32)
    s = tf.random.experimental.stateless_split(seed, 2)
    cls = tf.random.stateless_categorical(logits, n, seed=s[0], dtype=tf.int64)[0]
    return _draw_within(order, counts, offsets, cls, s[1])


def steps_per_epoch(n: int, batch_size: int) -> int:
    return math.ceil(n / batch_size)


def training_dataset(split, spec: ModelSpec, cfg: TrainConfig, start_epoch: int = 0,
                     teacher_log_probs: np.ndarray | None = None) -> tf.data.Dataset:
    """(images, targets, sample weights) batches for epochs start_epoch..cfg.epochs-1, in order.

    Each epoch is exactly ``steps_per_epoch(len(split), cfg.batch_size)`` batches (the last may be
    short), so Keras epochs line up with the seeded epochs. Targets are the one-hot labels, or the soft
    targets of a source that has them (``Split.soft``, FER+'s votes); with ``teacher_log_probs`` (N, classes)
    the teacher's log-probabilities follow them (train.distill).
    """
    x = tf.constant(normalize(split.images, spec))
    labels = tf.constant(split.labels, tf.int64)
    y = tf.constant(split.targets(spec.num_classes))  # one-hot labels, or soft targets (FER+ votes)
    if teacher_log_probs is not None:
        y = tf.concat([y, tf.constant(teacher_log_probs, tf.float32)], axis=1)
    n, num_classes, balanced = len(split), spec.num_classes, cfg.class_balance == "sampler"
    weighted = cfg.source_weights is not None and split.sources is not None
    sample_probs = None
    if weighted:
        ids, probs = strata(split.labels, split.sources, cfg.source_weights, balanced, num_classes)
        sample_probs = probs[ids] / np.bincount(ids, minlength=len(probs))[ids]
    w = tf.constant(class_weights(split.labels, spec.num_classes, cfg.class_balance, sample_probs))
    lo, hi = value_range(spec)
    aug = cfg.augment

    def batch(epoch, step, idx):
        seed = tf.stack([tf.constant(cfg.seed, tf.int64), epoch * 1_000_003 + step])
        images = tf.gather(x, idx)
        if aug.enabled:
            images = augment_batch(images, seed, aug, lo, hi)
        return images, tf.gather(y, idx), tf.gather(w, tf.gather(labels, idx))

    def epoch_batches(epoch):
        seed = tf.stack([tf.constant(cfg.seed, tf.int64), epoch])
        if weighted:
            order = _strata_order(ids, probs, n, seed)
        else:
            order = _epoch_order(labels, n, seed, balanced, num_classes)
        return (tf.data.Dataset.from_tensor_slices(order).batch(cfg.batch_size).enumerate()
                .map(lambda step, idx: batch(epoch, step, idx), num_parallel_calls=AUTOTUNE, deterministic=True))

    ds = tf.data.Dataset.range(start_epoch, cfg.epochs).flat_map(epoch_batches)
    return ds.with_options(_options()).prefetch(AUTOTUNE)


def eval_dataset(split, spec: ModelSpec, batch_size: int = EVAL_BATCH) -> tf.data.Dataset:
    """(images, one-hot labels) batches of a split in order, cached after the first pass."""
    x = normalize(split.images, spec)
    y = np.eye(spec.num_classes, dtype=np.float32)[split.labels]
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).cache()
    return ds.with_options(_options()).prefetch(AUTOTUNE)


def _options() -> tf.data.Options:
    opts = tf.data.Options()
    opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    opts.deterministic = True
    return opts
