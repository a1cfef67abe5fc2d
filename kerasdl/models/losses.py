"""Losses that saved models name: ``kerasdl>SparseCategoricalCrossentropy``
(label smoothing for integer labels, which Keras's own lacks), and
``loss()``, the recipe's ``loss`` and ``training.label_smoothing`` as
``compile`` takes them."""

from __future__ import annotations

from typing import Any, Union

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasdl")
class SparseCategoricalCrossentropy(keras.losses.Loss):
    """Crossentropy of integer labels against probabilities, the label
    smoothed: the target is ``1 - label_smoothing`` on the true class plus
    ``label_smoothing / classes`` on every class (as Keras's
    ``CategoricalCrossentropy(label_smoothing=...)`` does with one-hot
    labels). A model then stops pushing its confident predictions towards
    exactly 0 and 1, which regularizes it.
    """

    def __init__(self, label_smoothing: float = 0.0, name: str = "sparse_categorical_crossentropy", **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        classes = ops.shape(y_pred)[-1]
        labels = ops.cast(y_true, "int32")
        if len(labels.shape) == len(y_pred.shape):
            labels = ops.squeeze(labels, axis=-1)
        target = ops.one_hot(labels, classes, dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(target, y_pred, label_smoothing=self.label_smoothing)

    def get_config(self) -> dict:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


# The losses whose targets label smoothing softens, by recipe name: each
# takes ``label_smoothing`` (Keras's categorical and binary crossentropy
# themselves; integer labels need kerasdl's class above).
SMOOTHED = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
    "binary_crossentropy": keras.losses.BinaryCrossentropy,
}


def loss(name: str, label_smoothing: float = 0.0) -> Union[str, keras.losses.Loss]:
    """The loss ``compile`` takes for a recipe's ``loss`` name: the name
    itself without smoothing, else the loss with ``label_smoothing``.

    Raises:
        ValueError: smoothing asked of a loss that is not a crossentropy.
    """
    if not label_smoothing:
        return name
    if name not in SMOOTHED:
        raise ValueError(f"softens the targets of a crossentropy ({', '.join(SMOOTHED)}), but loss is {name!r}")
    return SMOOTHED[name](label_smoothing=label_smoothing)
