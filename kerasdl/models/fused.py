"""Batch norm that saved models name: ``kerasdl>FusedBatchNormalization``."""

from __future__ import annotations

from typing import Any, Optional

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="kerasdl")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """Keras's ``BatchNormalization`` whose training step on images runs
    TensorFlow's fused kernel (``tf.compat.v1.nn.fused_batch_norm``: the
    moments, the normalization and their gradients in one op each way)
    instead of Keras's separate ops; everything else is Keras's layer.

    Equivalent to it: the same weights, arguments and config; at inference
    Keras's own ``call`` answers (``tests/test_fused.py``: equal outputs);
    in training the same batch statistics normalize, and the moving
    variance gets the biased batch variance Keras gives it (the kernel
    returns the unbiased one, scaled back here). The fused path is taken
    for float32 images (4-D, channels last) without renorm, mask or
    synchronization; anything else goes to Keras's ``call``.
    """

    def call(self, inputs: Any, training: Optional[bool] = None, mask: Any = None) -> Any:
        fusable = (training and self.trainable and mask is None and not self.renorm and not self.synchronized
                   and len(inputs.shape) == 4 and self.axis in (-1, 3) and inputs.dtype == "float32")
        if not fusable:
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        gamma = self.gamma if self.scale else tf.ones((channels,), tf.float32)
        beta = self.beta if self.center else tf.zeros((channels,), tf.float32)
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, gamma, beta, epsilon=self.epsilon, data_format="NHWC", is_training=True)
        count = tf.cast(tf.reduce_prod(tf.shape(inputs)[:-1]), tf.float32)
        biased = variance * (count - 1.0) / count  # The kernel's variance is unbiased (n - 1).
        self.moving_mean.assign(self.moving_mean * self.momentum + ops.stop_gradient(mean) * (1.0 - self.momentum))
        self.moving_variance.assign(
            self.moving_variance * self.momentum + ops.stop_gradient(biased) * (1.0 - self.momentum))
        return outputs
