"""Label-mixing augmentation (``training.label_mixing``): Keras's own
``MixUp`` (Zhang et al. 2018) and ``CutMix`` (Yun et al. 2019) layers,
which mix pairs of training images and their labels alike.

They cannot be layers of the model, which sees images only, so they run
in the training step: each batch's integer labels become one-hot, the
layer mixes images and labels, and Keras's own step trains on the soft
labels (the loss is then ``categorical_crossentropy``, the same
crossentropy on one-hot labels: ``dense_loss``); CutMix's label weight is
the share of pixels pasted, counted. Validation batches are
made one-hot and not mixed; test scores are computed on the test split as
always. Metrics count as Keras counts them on soft labels (``accuracy``
against the larger share of the mix).
"""

from __future__ import annotations

import difflib
from typing import Any, Callable, Mapping, Union

import keras
import tensorflow as tf

from kerasdl.errors import unknown_layer_argument

# The recipe's names of Keras's label-mixing layers.
MIXERS = {"mix_up": keras.layers.MixUp, "cut_mix": keras.layers.CutMix}
# Keras's arguments that kerasdl sets itself.
SUPPLIED = ("data_format", "seed", "name", "dtype")
# The recipe losses on integer labels, and the same loss on one-hot labels.
DENSE = {"sparse_categorical_crossentropy": "categorical_crossentropy"}


def mixer(spec: Union[str, Mapping[str, Any]], seed: int) -> keras.layers.Layer:
    """The Keras layer ``training.label_mixing`` names: ``mix_up``,
    ``cut_mix``, or a mapping of ``name`` and the layer's own arguments.

    Raises:
        ValueError: an unknown name or argument (with a did-you-mean), or a
            value Keras refuses.
    """
    arguments = dict(spec) if isinstance(spec, Mapping) else {"name": spec}
    name = arguments.pop("name", None)
    if name not in MIXERS:
        close = difflib.get_close_matches(str(name), list(MIXERS), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ValueError(f"{'name: ' if isinstance(spec, Mapping) else ''}{name!r} is not a label-mixing layer{hint}. "
                         f"Expected one of: {', '.join(MIXERS)}, or a mapping like {{name: mix_up, alpha: 0.2}}")
    layer_class = MIXERS[name]
    unknown = unknown_layer_argument(layer_class, arguments, SUPPLIED)
    if unknown:
        raise ValueError(unknown)
    try:
        return layer_class(**arguments, seed=seed)
    except (TypeError, ValueError) as error:
        raise ValueError(f"keras.layers.{layer_class.__name__} refuses {arguments}: {error}") from None


def dense_loss(name: str) -> str:
    """The recipe's loss on one-hot (soft) labels.

    Raises:
        ValueError: for a loss that is not a categorical crossentropy.
    """
    if name in DENSE.values():
        return name
    if name not in DENSE:
        raise ValueError(f"mixes labels into class probabilities, which a categorical crossentropy scores; loss is "
                         f"{name!r}. Use loss: sparse_categorical_crossentropy")
    return DENSE[name]


def mixing_step(layer: keras.layers.Layer, classes: int, step: Callable) -> Callable:
    """A training step that mixes each batch with ``layer`` (its labels made
    one-hot first) and takes ``step`` (Keras's own, or another kerasdl
    step) on the result."""

    def train_step(data: tuple) -> dict:
        images, labels, weights = keras.utils.unpack_x_y_sample_weight(data)
        mixed_images, mixed_labels = mix(layer, images, one_hot(labels, classes))
        return step(keras.utils.pack_x_y_sample_weight(mixed_images, mixed_labels, weights))

    return train_step


def mix(layer: keras.layers.Layer, images: Any, labels: Any) -> tuple:
    """``layer``'s mixed images and labels. CutMix's label weight is the
    share of pixels its box pastes, counted: Keras 3.15 weighs by the box's
    real-valued area, up to a pixel off on each side (7 % of a 28x28 image)."""
    batch = {"images": images, "labels": labels}
    transformation = layer.get_random_transformation(batch, training=True)
    if isinstance(layer, keras.layers.CutMix):
        pasted = tf.reduce_mean(tf.cast(transformation["batch_masks"], tf.float32), axis=(1, 2, 3))
        transformation = {**transformation, "mix_weight": 1.0 - pasted}
    return (layer.transform_images(images, transformation, training=True),
            layer.transform_labels(labels, transformation, training=True))


def one_hot_test_step(model: keras.Model, classes: int) -> Callable:
    """Keras's test step on validation batches with one-hot labels, as the
    dense loss the training compiled takes them."""
    keras_step = type(model).test_step.__get__(model)

    def test_step(data: tuple) -> dict:
        images, labels, weights = keras.utils.unpack_x_y_sample_weight(data)
        return keras_step(keras.utils.pack_x_y_sample_weight(images, one_hot(labels, classes), weights))

    return test_step


def one_hot(labels: Any, classes: int) -> tf.Tensor:
    """Integer labels (``[n]`` or ``[n, 1]``) as float one-hot rows."""
    labels = tf.cast(labels, tf.int32)
    if labels.shape.rank == 2:
        labels = tf.squeeze(labels, axis=-1)
    return tf.one_hot(labels, classes, dtype=tf.float32)
