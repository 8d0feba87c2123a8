"""tf.distribute strategies by name, seeding, and who writes the run directory.

``default``: one device. ``mirrored``: synchronous data parallelism over this machine's GPUs (or its
logical CPU devices when it has no GPU). ``multiworker``: the same across machines, configured by
the ``TF_CONFIG`` environment variable as TensorFlow documents; the chief writes the run directory,
the other workers write their (required) checkpoint copies to a temporary directory.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os

import tensorflow as tf
import tf_keras as keras

from edge.core.errors import UserError

log = logging.getLogger(__name__)


def make_strategy(name: str) -> tf.distribute.Strategy:
    """Create the strategy first thing: MultiWorkerMirroredStrategy must exist before other TF ops."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = [d.name for d in tf.config.list_logical_devices("GPU")]
        devices = devices or [d.name for d in tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(devices)
    elif name == "multiworker":
        if not os.environ.get("TF_CONFIG"):
            raise UserError("--strategy multiworker needs the TF_CONFIG environment variable "
                            "(cluster and task, see tf.distribute.MultiWorkerMirroredStrategy)")
        try:
            json.loads(os.environ["TF_CONFIG"])
        except ValueError as e:
            raise UserError(f"TF_CONFIG is not valid JSON ({e})") from None
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        raise UserError(f"unknown strategy {name!r} (expected default, mirrored or multiworker)")
    log.info("%s strategy with %d replica(s)", name, strategy.num_replicas_in_sync)
    return strategy


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def seed_everything(seed: int) -> None:
    """Python, NumPy and TensorFlow seeds, and deterministic TensorFlow ops (no measurable cost on CPU)."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


@contextlib.contextmanager
def deterministic(seed: int):
    """``seed_everything`` for the duration of a run, then op determinism as it was before (when this
    TensorFlow can say: the query and the switch-off are not public API, so they are optional)."""
    from tensorflow.python.framework import config as tf_config

    is_enabled = getattr(tf_config, "is_op_determinism_enabled", None)
    disable = getattr(tf_config, "disable_op_determinism", None)
    was_enabled = is_enabled() if is_enabled else True
    seed_everything(seed)
    try:
        yield
    finally:
        if not was_enabled and disable:
            disable()
