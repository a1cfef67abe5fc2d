"""Autoencoder family: an input squeezed through a small code and rebuilt,
for anomaly detection (``kerasdl/tasks/anomaly.py`` scores an input by how
badly it is rebuilt).

The model works in the data's units: raw inputs in (0-255 pixels), the
reconstruction out in the same units (a sigmoid scaled back by
``1 / rescale``), so that the reconstruction error needs nothing but the
input and the output.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import keras
from keras import layers

from kerasdl.builders import options
from kerasdl.errors import BuilderArgumentError
from kerasdl.registry import register_builder

ARCHITECTURES = ("dense", "conv")
# The code: the layer a model's anomaly baselines match in size (PCA's components).
CODE = "code"
RECONSTRUCTION = "reconstruction"


@register_builder("autoencoder")
def build_autoencoder(
    input_shape: Sequence[int],
    num_classes: Optional[int] = None,
    architecture: str = "conv",
    code_size: int = 32,
    filters: Sequence[int] = (32, 64),
    units: Sequence[int] = (256,),
    activation: str = "relu",
    kernel_initializer: options.NamedSpec = "he_normal",
    batch_norm: bool = False,
    batch_norm_momentum: float = options.BATCH_NORM_MOMENTUM,
    rescale: Optional[float] = 1.0 / 255,
) -> keras.Model:
    """Builds an uncompiled autoencoder: encoder, a code of ``code_size``
    values, and a decoder that mirrors the encoder.

    Args:
        input_shape: Shape of one example, e.g. ``(28, 28, 1)``.
        num_classes: Ignored: an autoencoder learns no classes (kerasdl
            passes every builder of examples the class count).
        architecture: ``conv`` (images: strided 3x3 convolutions down, the
            same transposed up) or ``dense`` (any examples, flattened).
        code_size: Values in the code, the bottleneck every input is
            squeezed through; the smaller, the less an unusual input survives.
        filters: ``conv``: filters of each stride-2 convolution, first to
            last (the decoder runs them backwards). Image sides that do not
            halve evenly are padded with zeros and cropped back.
        units: Hidden widths of the encoder before the code (the decoder
            runs them backwards); ``dense`` only uses these, ``conv`` none.
        activation: Name of the hidden activation (any ``keras.activations`` name).
        kernel_initializer: Initializer name, or a mapping with ``name`` and
            its arguments.
        batch_norm: Whether to normalize each hidden layer's pre-activations.
        batch_norm_momentum: Weight of the old moving statistics at each batch.
        rescale: Factor from raw inputs to [0, 1] (1/255 for pixels): the
            decoder ends in a sigmoid scaled back by its inverse. None: the
            inputs are fed unchanged and the decoder's output is linear.

    Returns:
        A functional ``keras.Model`` named ``"autoencoder"``, raw inputs to
        their reconstruction (float32, the inputs' shape); its layer
        ``"code"`` is the bottleneck.

    Raises:
        BuilderArgumentError: for an unknown architecture, a ``conv`` model
            of inputs that are not images, or sizes out of range.

    Example:

    >>> model = build_autoencoder((28, 28, 1), code_size=16)
    >>> model.output_shape
    (None, 28, 28, 1)
    """
    options.check_choice("architecture", architecture, ARCHITECTURES)
    options.check_positive("code_size", code_size)
    options.check_momentum("batch_norm_momentum", batch_norm_momentum)
    if architecture == "conv":
        options.check_positive("filters", list(filters))
        if len(input_shape) != 3:
            raise BuilderArgumentError(
                "architecture",
                f"`architecture: conv` convolves images (height, width, channels), and the examples have shape "
                f"{tuple(input_shape)}. Use architecture: dense. Received: architecture={architecture!r}",
            )
    elif units:
        options.check_positive("units", list(units))
    hidden = options.activation_function("activation", activation)

    def block(x: keras.KerasTensor, layer: layers.Layer) -> keras.KerasTensor:
        x = layer(x)
        if batch_norm:
            x = options.batch_normalization(batch_norm_momentum)(x)
        return layers.Activation(hidden)(x)

    def initializer() -> keras.initializers.Initializer:
        return options.initializer("kernel_initializer", kernel_initializer)

    inputs = keras.Input(shape=tuple(input_shape), name="inputs")
    x = layers.Rescaling(rescale, name="rescale")(inputs) if rescale is not None else inputs
    if architecture == "conv":
        height, width, channels = input_shape
        step = 2 ** len(filters)
        padding = ((0, -height % step), (0, -width % step))  # Sides that halve evenly at every stride.
        if any(side for pair in padding for side in pair):
            x = layers.ZeroPadding2D(padding)(x)
        for count in filters:
            x = block(x, layers.Conv2D(count, 3, strides=2, padding="same", use_bias=not batch_norm,
                                       kernel_initializer=initializer()))
        feature_shape = tuple(x.shape[1:])
        x = layers.Dense(code_size, kernel_initializer=initializer(), name=CODE)(layers.Flatten()(x))
        x = block(x, layers.Dense(math.prod(feature_shape), use_bias=not batch_norm,
                                  kernel_initializer=initializer()))
        x = layers.Reshape(feature_shape)(x)
        for count in reversed(filters[:-1]):
            x = block(x, layers.Conv2DTranspose(count, 3, strides=2, padding="same", use_bias=not batch_norm,
                                                kernel_initializer=initializer()))
        x = layers.Conv2DTranspose(channels, 3, strides=2, padding="same", kernel_initializer=initializer())(x)
        if any(side for pair in padding for side in pair):
            x = layers.Cropping2D(padding)(x)
    else:
        x = layers.Flatten()(x)
        for width in units:
            x = block(x, layers.Dense(width, use_bias=not batch_norm, kernel_initializer=initializer()))
        x = layers.Dense(code_size, kernel_initializer=initializer(), name=CODE)(x)
        for width in reversed(units):
            x = block(x, layers.Dense(width, use_bias=not batch_norm, kernel_initializer=initializer()))
        x = layers.Dense(math.prod(input_shape), kernel_initializer=initializer())(x)
        x = layers.Reshape(tuple(input_shape))(x)
    # In float32 under mixed precision: the reconstruction error is a small difference of large values.
    if rescale is not None:
        x = layers.Activation("sigmoid", dtype="float32")(x)
        outputs = layers.Rescaling(1.0 / rescale, dtype="float32", name=RECONSTRUCTION)(x)
    else:
        outputs = layers.Activation("linear", dtype="float32", name=RECONSTRUCTION)(x)
    return keras.Model(inputs, outputs, name="autoencoder")
