"""Output layers that saved models name: ``kerasdl>TwoClassProbabilities``."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasdl")
class TwoClassProbabilities(keras.layers.Layer):
    """A sigmoid head's probability of class 1, ``p``, as the two-class
    answer ``[1 - p, p]`` every kerasdl classifier gives (its scores, ROC
    curve, decision threshold, ``predict`` and export read two columns).

    Trained with the sparse crossentropy, ``-log`` of the true class's
    column, it is the binary crossentropy of ``p``: a sigmoid unit is a
    two-class softmax whose class-0 logit is fixed at 0, with half the
    output weights.
    """

    def call(self, inputs: Any) -> Any:
        return ops.concatenate([1.0 - inputs, inputs], axis=-1)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (*input_shape[:-1], 2)
