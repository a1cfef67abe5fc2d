"""Test-time augmentation that saved models name: ``kerasdl>FlipAveraged``."""

from __future__ import annotations

from typing import Any, Optional

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasdl")
class FlipAveraged(keras.layers.Wrapper):
    """A classifier that, at inference, averages its predictions on an
    image and on its mirror image (flipped left to right); in training it
    sees the image alone, so a step costs what the wrapped model's does.

    A model trained with horizontal flips knows both views; their mean
    prediction is steadier than either (test-time augmentation). The
    wrapped model keeps its own layers: ``unwrapped`` returns it.

    Args:
        layer: The classifier, a ``keras.Model`` on images ``[batch,
            height, width, channels]``.
    """

    def call(self, inputs: Any, training: Optional[bool] = None) -> Any:
        if training:
            return self.layer(inputs, training=True)
        # training=False, not None: called as model(x), Keras 3's random
        # augmentation layers would otherwise flip (and undo the average).
        outputs = self.layer(inputs, training=False)
        mirrored = self.layer(ops.flip(inputs, axis=2), training=False)
        return (outputs + mirrored) / 2.0

    def compute_output_shape(self, input_shape: Any) -> Any:
        return self.layer.compute_output_shape(input_shape)


def unwrapped(model: keras.Model) -> keras.Model:
    """The classifier inside a model made of a ``FlipAveraged`` layer, or
    ``model`` itself."""
    wrappers = [layer for layer in model.layers if isinstance(layer, FlipAveraged)]
    return wrappers[0].layer if len(wrappers) == 1 else model
