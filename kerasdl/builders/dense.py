"""Dense family: a multilayer perceptron on flattened inputs."""

from __future__ import annotations

from typing import Optional, Sequence

import keras
from keras import layers

from kerasdl.builders import options
from kerasdl.registry import register_builder


@register_builder("dense")
def build_dense(
    input_shape: Sequence[int],
    num_classes: int,
    units: Sequence[int] = (256, 128),
    activation: str = "relu",
    kernel_initializer: options.NamedSpec = "he_normal",
    l1: float = 0.0,
    l2: float = 0.0,
    dropout_rate: float = 0.2,
    batch_norm: bool = False,
    batch_norm_momentum: float = options.BATCH_NORM_MOMENTUM,
    rescale: Optional[float] = 1.0 / 255,
    output_activation: str = "softmax",
) -> keras.Model:
    """Builds an uncompiled multilayer perceptron classifier.

    Args:
        input_shape: Shape of one example, e.g. ``(28, 28, 1)``; it is
            flattened first.
        num_classes: Number of output units.
        units: Width of each hidden layer, first to last.
        activation: Name of the hidden activation (any ``keras.activations``
            name: relu, leaky_relu, elu, selu, gelu, swish, tanh, sigmoid...).
        kernel_initializer: Initializer name, or a mapping with ``name`` and
            its arguments, e.g. ``{"name": "truncated_normal", "stddev": 0.05}``.
        l1: L1 penalty factor on hidden kernels.
        l2: L2 penalty factor on hidden kernels.
        dropout_rate: Fraction of units dropped after each hidden layer.
        batch_norm: Whether to normalize each hidden layer's pre-activations.
        batch_norm_momentum: Weight of the old moving mean and variance at
            each batch (what the model uses at inference).
        rescale: Factor applied to raw inputs inside the model (1/255 maps
            pixels to [0, 1]), so the exported model takes raw values; None
            to feed inputs unchanged.
        output_activation: Activation of the output layer.

    Returns:
        A functional ``keras.Model`` named ``"dense"``.

    Raises:
        BuilderArgumentError: if an argument is out of range or unknown.

    Example:

    >>> model = build_dense((28, 28, 1), num_classes=10, units=(64,))
    >>> model.output_shape
    (None, 10)
    """
    options.check_positive("units", list(units))
    options.check_positive("num_classes", num_classes)
    options.check_rate("dropout_rate", dropout_rate)
    options.check_momentum("batch_norm_momentum", batch_norm_momentum)
    hidden_activation = options.activation_function("activation", activation)
    regularizer = options.regularizer(l1, l2)

    inputs = keras.Input(shape=tuple(input_shape), name="inputs")
    x = layers.Rescaling(rescale)(inputs) if rescale is not None else inputs
    x = layers.Flatten()(x)
    for width in units:
        x = layers.Dense(
            width,
            # The bias is redundant when batch norm re-centres the output.
            use_bias=not batch_norm,
            kernel_initializer=options.initializer("kernel_initializer", kernel_initializer),
            kernel_regularizer=regularizer,
        )(x)
        if batch_norm:
            x = options.batch_normalization(batch_norm_momentum)(x)
        x = layers.Activation(hidden_activation)(x)
        if dropout_rate:
            x = layers.Dropout(dropout_rate)(x)
    outputs = options.predictions(num_classes, output_activation)(x)
    return keras.Model(inputs, outputs, name="dense")
