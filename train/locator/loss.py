"""The locator's loss: CenterNet's penalty-reduced focal loss on the centre heatmap, L1 on offsets and sizes at
the centre cells, both divided by the number of face centres in the batch (at least one)."""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from train.locator.targets import HEAT, REG, WEIGHT

#: logits are clipped here before the focal loss: the int8 output range stays small (decoding resolution)
LOGIT_CLIP = 8.0


class LocatorLoss(keras.losses.Loss):
    def __init__(self, size_weight: float = 0.5, offset_weight: float = 1.0, alpha: float = 2.0, beta: float = 4.0,
                 name: str = "locator_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.size_weight, self.offset_weight, self.alpha, self.beta = size_weight, offset_weight, alpha, beta

    def call(self, y_true, y_pred):
        heat, weight, reg = y_true[..., HEAT], y_true[..., WEIGHT], y_true[..., REG]
        logit = tf.clip_by_value(y_pred[..., 0], -LOGIT_CLIP, LOGIT_CLIP)
        p = tf.sigmoid(logit)
        log_p, log_not_p = tf.math.log_sigmoid(logit), tf.math.log_sigmoid(-logit)
        positive = tf.cast(heat >= 1.0, tf.float32)
        pos = -tf.pow(1.0 - p, self.alpha) * log_p * positive
        neg = -tf.pow(1.0 - heat, self.beta) * tf.pow(p, self.alpha) * log_not_p * (1.0 - positive) * weight
        n = tf.maximum(tf.reduce_sum(positive, axis=[1, 2]), 1.0)
        focal = tf.reduce_sum(pos + neg, axis=[1, 2]) / n
        l1 = tf.abs(y_pred[..., 1:5] - y_true[..., 3:7]) * reg[..., None]
        box = (self.offset_weight * tf.reduce_sum(l1[..., :2], axis=[1, 2, 3])
               + self.size_weight * tf.reduce_sum(l1[..., 2:], axis=[1, 2, 3])) / n
        return focal + box

    def get_config(self):
        return {**super().get_config(), "size_weight": self.size_weight, "offset_weight": self.offset_weight,
                "alpha": self.alpha, "beta": self.beta}
