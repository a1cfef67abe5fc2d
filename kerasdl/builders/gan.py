"""GAN family: a DCGAN generator and discriminator, and the GAN that trains them.

``build_generator`` and ``build_discriminator`` are plain functional models
that TensorFlow users can take on their own. ``build_gan`` (registered as
``gan``) puts them in a ``GAN``: a ``keras.Model`` with its own
``train_step`` that ``fit`` trains like any other model, one optimizer per
network. ``conditional=True`` makes both networks take a class id.

Both networks work in the data's pixel units (``value_range``, 0-255 by
default): the generator ends in tanh scaled to that range, and the
discriminator scales its input back to [-1, 1] first.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Optional, Sequence

import keras
from keras import layers

from kerasdl.builders import options
from kerasdl.errors import BuilderArgumentError
from kerasdl.models.gan import CLASS_ID, GAN, IMAGES, LATENT
from kerasdl.registry import register_builder


def _check_common(
    num_classes: Optional[int], kernel_size: int, negative_slope: float, value_range: Sequence[float]
) -> None:
    if num_classes is not None:
        options.check_positive("num_classes", num_classes)
    options.check_positive("kernel_size", kernel_size)
    if not 0.0 <= negative_slope < 1.0:
        raise BuilderArgumentError(
            "negative_slope",
            f"`negative_slope` is LeakyReLU's slope for negative inputs and must be in [0, 1). "
            f"Received: negative_slope={negative_slope}",
        )
    if len(value_range) != 2 or not value_range[0] < value_range[1]:
        raise BuilderArgumentError(
            "value_range",
            f"`value_range` is the data's [lowest, highest] pixel value, e.g. [0, 255]. "
            f"Received: value_range={list(value_range)}",
        )


def _class_input(num_classes: Optional[int]) -> Optional[keras.KerasTensor]:
    return keras.Input(shape=(), dtype="int32", name=CLASS_ID) if num_classes else None


def build_generator(
    latent_dim: int,
    image_shape: Sequence[int],
    num_classes: Optional[int] = None,
    filters: Sequence[int] = (128, 64),
    kernel_size: int = 4,
    batch_norm: bool = True,
    negative_slope: float = 0.2,
    class_embedding_dim: int = 50,
    value_range: Sequence[float] = (0.0, 255.0),
) -> keras.Model:
    """Builds a DCGAN generator: latent vectors (and class ids) to images.

    A dense layer makes a ``filters[0]``-channel map at 1/2^len(filters) of
    the image size; each entry of ``filters`` is then a stride-2 transposed
    convolution (batch norm, LeakyReLU) that doubles it; a last convolution
    with tanh gives the channels, scaled to ``value_range``.

    Args:
        latent_dim: Length of the latent vector.
        image_shape: ``(height, width, channels)``; height and width must be
            multiples of 2^len(filters).
        num_classes: For a conditional generator, the class count: a class
            id's embedding is concatenated to the latent vector. None for
            an unconditional one.
        filters: Channels of each upsampling block.
        kernel_size: Transposed-convolution window.
        batch_norm: Batch normalization in every block (and the dense layer).
        negative_slope: LeakyReLU's slope for negative inputs.
        class_embedding_dim: Length of the class embedding.
        value_range: The pixel range of the images produced.

    Returns:
        A functional ``keras.Model`` named ``"generator"``; inputs
        ``latent`` ``[batch, latent_dim]`` (and ``class_id`` ``[batch]``),
        output float32 images ``[batch, *image_shape]`` in ``value_range``.

    Raises:
        BuilderArgumentError: for an argument out of range, or an image
            size the blocks cannot reach.

    Example:

    >>> generator = build_generator(64, (28, 28, 1))
    >>> generator.output_shape
    (None, 28, 28, 1)
    """
    options.check_positive("latent_dim", latent_dim)
    options.check_positive("filters", list(filters))
    options.check_positive("class_embedding_dim", class_embedding_dim)
    _check_common(num_classes, kernel_size, negative_slope, value_range)
    height, width, channels = _image_shape(image_shape)
    factor = 2 ** len(filters)
    if height % factor or width % factor:
        raise BuilderArgumentError(
            "filters",
            f"Each of the generator's {len(filters)} blocks doubles the image size, so height and width "
            f"must be multiples of {factor}; use fewer blocks. Received: image_shape={tuple(image_shape)}, "
            f"filters={list(filters)}",
        )
    latent = keras.Input(shape=(latent_dim,), name=LATENT)
    class_id = _class_input(num_classes)
    x = latent
    if class_id is not None:
        embedded = layers.Embedding(num_classes, class_embedding_dim, name="class_embedding")(class_id)
        x = layers.Concatenate(name="latent_and_class")([latent, embedded])
    start = (height // factor, width // factor, filters[0])
    x = layers.Dense(start[0] * start[1] * start[2], use_bias=not batch_norm, name="project")(x)
    if batch_norm:
        x = layers.BatchNormalization(name="project_bn")(x)
    x = layers.LeakyReLU(negative_slope, name="project_act")(x)
    x = layers.Reshape(start, name="reshape")(x)
    for index, block_filters in enumerate(filters):
        name = f"up{index + 1}"
        x = layers.Conv2DTranspose(
            block_filters, kernel_size, strides=2, padding="same", use_bias=not batch_norm, name=f"{name}_conv"
        )(x)
        if batch_norm:
            x = layers.BatchNormalization(name=f"{name}_bn")(x)
        x = layers.LeakyReLU(negative_slope, name=f"{name}_act")(x)
    # The last layers compute in float32 under mixed precision: tanh and the
    # pixel scale are where float16 would round visibly.
    x = layers.Conv2D(channels, kernel_size, padding="same", activation="tanh", dtype="float32", name="to_image")(x)
    low, high = (float(v) for v in value_range)
    images = layers.Rescaling((high - low) / 2.0, offset=(high + low) / 2.0, dtype="float32", name=IMAGES)(x)
    inputs = {LATENT: latent, CLASS_ID: class_id} if class_id is not None else latent
    return keras.Model(inputs, images, name="generator")


def build_discriminator(
    image_shape: Sequence[int],
    num_classes: Optional[int] = None,
    filters: Sequence[int] = (64, 128),
    kernel_size: int = 4,
    batch_norm: bool = False,
    negative_slope: float = 0.2,
    dropout_rate: float = 0.3,
    value_range: Sequence[float] = (0.0, 255.0),
) -> keras.Model:
    """Builds a DCGAN discriminator: images (and class ids) to a real/fake logit.

    Each entry of ``filters`` is a stride-2 convolution with LeakyReLU (and
    batch norm after the first, if asked), then dropout. A conditional
    discriminator is a projection discriminator (Miyato & Koyama, 2018):
    the logit adds the dot product of the image's features with the class
    id's embedding, so it judges "real and of this class".

    Args:
        image_shape: ``(height, width, channels)``.
        num_classes: For a conditional discriminator, the class count;
            None for an unconditional one.
        filters: Channels of each downsampling convolution.
        kernel_size: Convolution window.
        batch_norm: Batch normalization after every convolution but the first.
        negative_slope: LeakyReLU's slope for negative inputs.
        dropout_rate: Dropout after each block.
        value_range: The pixel range of the images judged.

    Returns:
        A functional ``keras.Model`` named ``"discriminator"``; inputs
        ``images`` (and ``class_id``), output float32 logits ``[batch, 1]``
        (positive: real).

    Raises:
        BuilderArgumentError: for an argument out of range.

    Example:

    >>> discriminator = build_discriminator((28, 28, 1), num_classes=10)
    >>> discriminator.output_shape
    (None, 1)
    """
    options.check_positive("filters", list(filters))
    options.check_rate("dropout_rate", dropout_rate)
    _check_common(num_classes, kernel_size, negative_slope, value_range)
    images = keras.Input(shape=_image_shape(image_shape), name=IMAGES)
    class_id = _class_input(num_classes)
    low, high = (float(v) for v in value_range)
    x = layers.Rescaling(2.0 / (high - low), offset=-(high + low) / (high - low), name="rescale")(images)
    for index, width in enumerate(filters):
        name = f"down{index + 1}"
        use_norm = batch_norm and index > 0
        x = layers.Conv2D(width, kernel_size, strides=2, padding="same", use_bias=not use_norm, name=f"{name}_conv")(x)
        if use_norm:
            x = layers.BatchNormalization(name=f"{name}_bn")(x)
        x = layers.LeakyReLU(negative_slope, name=f"{name}_act")(x)
        if dropout_rate:
            x = layers.Dropout(dropout_rate, name=f"{name}_dropout")(x)
    features = layers.Flatten(name="flatten")(x)
    logits = layers.Dense(1, dtype="float32", name="logit")(features)
    if class_id is None:
        return keras.Model(images, logits, name="discriminator")
    embedded = layers.Embedding(num_classes, features.shape[-1], name="class_projection")(class_id)
    projection = layers.Dot(axes=1, dtype="float32", name="projection")([features, embedded])
    logits = layers.Add(dtype="float32", name="conditional_logit")([logits, projection])
    return keras.Model({IMAGES: images, CLASS_ID: class_id}, logits, name="discriminator")


def _image_shape(image_shape: Sequence[int]) -> tuple[int, int, int]:
    if len(image_shape) != 3 or any(int(size) < 1 for size in image_shape):
        raise BuilderArgumentError(
            "input_shape",
            "A GAN makes images of shape (height, width, channels); reshape flat features with the "
            f"data section's `feature_shape`. Received: input_shape={tuple(image_shape)}",
        )
    return tuple(int(size) for size in image_shape)



@contextlib.contextmanager
def _named_as(prefix: str) -> Iterator[None]:
    """Renames a network's own ``filters``/``batch_norm`` in its errors to
    ``build_gan``'s ``<prefix>filters``/``<prefix>batch_norm``."""
    try:
        yield
    except BuilderArgumentError as error:
        if error.argument in ("filters", "batch_norm"):
            error.argument = prefix + error.argument
        raise


@register_builder("gan")
def build_gan(
    input_shape: Sequence[int],
    num_classes: Optional[int] = None,
    latent_dim: int = 128,
    conditional: bool = False,
    generator_filters: Sequence[int] = (128, 64),
    discriminator_filters: Sequence[int] = (64, 128),
    kernel_size: int = 4,
    generator_batch_norm: bool = True,
    discriminator_batch_norm: bool = False,
    negative_slope: float = 0.2,
    dropout_rate: float = 0.3,
    label_smoothing: float = 0.1,
    mode_seeking: float = 0.0,
    class_embedding_dim: int = 50,
    value_range: Sequence[float] = (0.0, 255.0),
    seed: Optional[int] = None,
) -> GAN:
    """Builds an uncompiled DCGAN (or conditional GAN) for images of ``input_shape``.

    Compile it with one optimizer per network, then ``fit`` it on images
    (and class ids):

    >>> gan = build_gan((28, 28, 1), latent_dim=64)
    >>> gan.compile(
    ...     discriminator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
    ...     generator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
    ... )
    >>> gan.generator.output_shape
    (None, 28, 28, 1)

    Args:
        input_shape: Shape of one image, ``(height, width, channels)``.
        num_classes: Classes in the data; needed (and used) only when
            ``conditional``.
        latent_dim: Length of the latent vector.
        conditional: Condition both networks on the class id.
        generator_filters: Channels of the generator's upsampling blocks.
        discriminator_filters: Channels of the discriminator's strided
            convolutions.
        kernel_size: Convolution window of both networks.
        generator_batch_norm: Batch norm in the generator.
        discriminator_batch_norm: Batch norm in the discriminator (after
            its first convolution).
        negative_slope: LeakyReLU's slope in both networks.
        dropout_rate: Dropout in the discriminator.
        label_smoothing: One-sided: real images get the label
            ``1 - label_smoothing``.
        mode_seeking: Weight of a mode-seeking term in the generator's loss
            (Mao et al., 2019), 0 for none: it rewards images of a class
            that differ as their latent vectors do, against a generator
            that draws each class in only a few ways.
        class_embedding_dim: Class embedding length in a conditional generator.
        value_range: The data's pixel range, e.g. ``[0, 255]``.
        seed: Seed of the latent noise drawn in training.

    Returns:
        A ``GAN``; ``gan.generator`` and ``gan.discriminator`` are the
        functional networks.

    Raises:
        BuilderArgumentError: for an argument out of range, or a
            ``conditional`` GAN without ``num_classes``.
    """
    if mode_seeking < 0:
        raise BuilderArgumentError(
            "mode_seeking",
            f"`mode_seeking` weighs a term of the generator's loss: 0 (off) or more, e.g. 1.0. "
            f"Received: mode_seeking={mode_seeking}",
        )
    if conditional and not num_classes:
        raise BuilderArgumentError(
            "num_classes",
            "A conditional GAN draws images of a given class: pass the class count, e.g. "
            f"build_gan(input_shape, num_classes=10, conditional=True). Received: num_classes={num_classes!r}",
        )
    if not 0.0 <= label_smoothing < 1.0:
        raise BuilderArgumentError(
            "label_smoothing",
            f"`label_smoothing` is subtracted from the real label and must be in [0, 1). "
            f"Received: label_smoothing={label_smoothing}",
        )
    classes = num_classes if conditional else None
    with _named_as("generator_"):
        generator = build_generator(
            latent_dim, input_shape, classes, filters=generator_filters, kernel_size=kernel_size,
            batch_norm=generator_batch_norm, negative_slope=negative_slope,
            class_embedding_dim=class_embedding_dim, value_range=value_range,
        )
    with _named_as("discriminator_"):
        discriminator = build_discriminator(
            input_shape, classes, filters=discriminator_filters, kernel_size=kernel_size,
            batch_norm=discriminator_batch_norm, negative_slope=negative_slope, dropout_rate=dropout_rate,
            value_range=value_range,
        )
    return GAN(
        generator, discriminator, label_smoothing=label_smoothing, value_range=value_range, seed=seed,
        mode_seeking=mode_seeking, name="gan",
    )
