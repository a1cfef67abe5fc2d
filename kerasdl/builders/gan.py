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
from typing import Any, Iterator, Optional, Sequence

import keras
import tensorflow as tf
from keras import layers, ops

from kerasdl.builders import options
from kerasdl.errors import BuilderArgumentError
from kerasdl.registry import register_builder

LATENT = "latent"
CLASS_ID = "class_id"
IMAGES = "images"
NOISE_STATE = "latent_seed_state"


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


@keras.saving.register_keras_serializable(package="kerasdl")
class GAN(keras.Model):
    """A generator and a discriminator trained against each other by ``fit``.

    Each ``train_step`` takes a batch of real images (and their class ids)
    and makes two updates: the discriminator learns to tell the real images
    from generated ones (real labels ``1 - label_smoothing``: one-sided
    smoothing), then the generator learns to make the discriminator call
    its images real (the non-saturating loss). Latent vectors come from the
    model's ``SeedGenerator``, whose state is saved with the weights, so a
    resumed run draws the same noise as an uninterrupted one.

    Calling the model generates: ``gan(latent)`` or ``gan({"latent": ...,
    "class_id": ...})`` returns images.

    Args:
        generator: A ``build_generator`` model.
        discriminator: A ``build_discriminator`` model, conditional when the
            generator is.
        label_smoothing: Subtracted from the real label, in [0, 1).
        value_range: The pixel range of the images, as the networks were
            built for (exports map it to 0-255).
        seed: Seed of the latent noise.
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        label_smoothing: float = 0.0,
        value_range: Sequence[float] = (0.0, 255.0),
        seed: Optional[int] = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.label_smoothing = float(label_smoothing)
        self.value_range = tuple(float(value) for value in value_range)
        self.seed = seed
        self.latent_dim = int(_latent_input(generator).shape[-1])
        self.conditional = isinstance(generator.input, dict)
        if self.conditional != isinstance(discriminator.input, dict):
            raise ValueError("The generator and the discriminator must both be conditional or both not.")
        self.seed_generator = keras.random.SeedGenerator(seed, name="latent_seed")
        self.discriminator_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.generator_loss_tracker = keras.metrics.Mean(name="g_loss")
        # The discriminator's mean probability of "real" on real and on
        # generated images: 0.5 and 0.5 is the balance a GAN aims at.
        self.real_score_tracker = keras.metrics.Mean(name="d_real")
        self.fake_score_tracker = keras.metrics.Mean(name="d_fake")
        self.built = True  # Both networks are functional, built already.

    @property
    def metrics(self) -> list:
        return [
            self.discriminator_loss_tracker, self.generator_loss_tracker,
            self.real_score_tracker, self.fake_score_tracker,
        ]

    def compile(
        self,
        discriminator_optimizer: keras.optimizers.Optimizer,
        generator_optimizer: keras.optimizers.Optimizer,
        **kwargs: Any,
    ) -> None:
        """One optimizer per network. Both are built here, so that a
        checkpoint's optimizer state can be loaded before ``fit`` starts.

        Args:
            kwargs: ``compile``'s other arguments (``jit_compile``,
                ``steps_per_execution``); no ``optimizer`` or ``loss``: the
                GAN's losses are its own.
        """
        auto_scale_loss = kwargs.pop("auto_scale_loss", True)
        super().compile(optimizer=None, **kwargs)
        self.discriminator_optimizer = _loss_scaled(keras.optimizers.get(discriminator_optimizer), self, auto_scale_loss)
        self.generator_optimizer = _loss_scaled(keras.optimizers.get(generator_optimizer), self, auto_scale_loss)
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)
        self.generator_optimizer.build(self.generator.trainable_variables)

    def save_own_variables(self, store: Any) -> None:
        # The noise generator's state is not a layer's variable: saved here,
        # it makes a resumed run draw what an uninterrupted one would.
        super().save_own_variables(store)
        store[NOISE_STATE] = self.seed_generator.state

    def load_own_variables(self, store: Any) -> None:
        if NOISE_STATE in store.keys():
            self.seed_generator.state.assign(store[NOISE_STATE])
        # The GAN's own variables are the networks'; they load with them.

    def get_compile_config(self) -> Optional[dict]:
        if not self.compiled:
            return None
        return {
            "discriminator_optimizer": keras.saving.serialize_keras_object(self.discriminator_optimizer),
            "generator_optimizer": keras.saving.serialize_keras_object(self.generator_optimizer),
        }

    def compile_from_config(self, config: dict) -> None:
        self.compile(
            discriminator_optimizer=keras.saving.deserialize_keras_object(config["discriminator_optimizer"]),
            generator_optimizer=keras.saving.deserialize_keras_object(config["generator_optimizer"]),
        )

    def call(self, inputs: Any, training: bool = False) -> Any:
        return self.generator(inputs, training=training)

    def _noise(self, batch_size: Any) -> Any:
        """Latent vectors from the model's seed generator; each replica of a
        distribution strategy folds its id into the seed, or all replicas
        would draw the same vectors."""
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        seed = self.seed_generator.next()
        seed = seed + tf.cast(tf.stack([0, context.replica_id_in_sync_group]), seed.dtype)
        return tf.random.stateless_normal((batch_size, self.latent_dim), seed=seed)

    def _unpack(self, data: Any) -> tuple[Any, Any]:
        images, class_id = data if isinstance(data, tuple) else (data, None)
        if self.conditional and class_id is None:
            raise ValueError(
                "A conditional GAN trains on images and their class ids: fit(images, class_ids). "
                "Received images alone."
            )
        return images, class_id

    def _generator_inputs(self, latent: Any, class_id: Any) -> Any:
        return {LATENT: latent, CLASS_ID: class_id} if self.conditional else latent

    def _discriminator_inputs(self, images: Any, class_id: Any) -> Any:
        return {IMAGES: images, CLASS_ID: class_id} if self.conditional else images

    def _discriminator_loss(self, real_logits: Any, fake_logits: Any) -> Any:
        real_labels = ops.full_like(real_logits, 1.0 - self.label_smoothing)
        return _bce(real_labels, real_logits) + _bce(ops.zeros_like(fake_logits), fake_logits)

    def train_step(self, data: Any) -> dict:
        """Each loss is a mean over this replica's examples; divided by the
        replicas, the gradients that the optimizers sum across replicas are
        those of the mean over the global batch. Under ``mixed_float16``
        the optimizers are ``LossScaleOptimizer``s: ``scale_loss`` scales the
        loss up, ``apply`` scales the gradients back and skips a step whose
        gradients overflowed."""
        images, class_id = self._unpack(data)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        images = ops.cast(images, "float32")
        class_id = ops.cast(class_id, "int32") if class_id is not None else None
        batch_size = ops.shape(images)[0]

        # The discriminator: real images against generated ones.
        latent = self._noise(batch_size)
        fake = self.generator(self._generator_inputs(latent, class_id), training=True)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(self._discriminator_inputs(images, class_id), training=True)
            fake_logits = self.discriminator(self._discriminator_inputs(fake, class_id), training=True)
            discriminator_loss = self._discriminator_loss(real_logits, fake_logits)
            scaled = self.discriminator_optimizer.scale_loss(discriminator_loss / replicas)
        variables = self.discriminator.trainable_variables
        self.discriminator_optimizer.apply(tape.gradient(scaled, variables), variables)

        # The generator: new noise, judged by the updated discriminator.
        latent = self._noise(batch_size)
        with tf.GradientTape() as tape:
            fake = self.generator(self._generator_inputs(latent, class_id), training=True)
            logits = self.discriminator(self._discriminator_inputs(fake, class_id), training=True)
            generator_loss = _bce(ops.ones_like(logits), logits)
            scaled = self.generator_optimizer.scale_loss(generator_loss / replicas)
        variables = self.generator.trainable_variables
        self.generator_optimizer.apply(tape.gradient(scaled, variables), variables)
        return self._update_metrics(discriminator_loss, generator_loss, real_logits, fake_logits)

    def test_step(self, data: Any) -> dict:
        """The same losses on held-out images, nothing updated: a
        discriminator that memorises its training images scores the
        validation images as less real than the training ones."""
        images, class_id = self._unpack(data)
        images = ops.cast(images, "float32")
        class_id = ops.cast(class_id, "int32") if class_id is not None else None
        latent = self._noise(ops.shape(images)[0])
        fake = self.generator(self._generator_inputs(latent, class_id), training=False)
        real_logits = self.discriminator(self._discriminator_inputs(images, class_id), training=False)
        fake_logits = self.discriminator(self._discriminator_inputs(fake, class_id), training=False)
        return self._update_metrics(
            self._discriminator_loss(real_logits, fake_logits), _bce(ops.ones_like(fake_logits), fake_logits),
            real_logits, fake_logits,
        )

    def _update_metrics(self, discriminator_loss: Any, generator_loss: Any, real_logits: Any, fake_logits: Any) -> dict:
        self.discriminator_loss_tracker.update_state(discriminator_loss)
        self.generator_loss_tracker.update_state(generator_loss)
        self.real_score_tracker.update_state(ops.sigmoid(real_logits))
        self.fake_score_tracker.update_state(ops.sigmoid(fake_logits))
        return {metric.name: metric.result() for metric in self.metrics}

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "label_smoothing": self.label_smoothing,
            "value_range": list(self.value_range),
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config: dict) -> "GAN":
        config = dict(config)
        generator = keras.saving.deserialize_keras_object(config.pop("generator"))
        discriminator = keras.saving.deserialize_keras_object(config.pop("discriminator"))
        return cls(generator, discriminator, **config)


def _latent_input(generator: keras.Model) -> Any:
    return generator.input[LATENT] if isinstance(generator.input, dict) else generator.input


def _loss_scaled(optimizer: keras.optimizers.Optimizer, model: keras.Model, auto: bool) -> keras.optimizers.Optimizer:
    """The optimizer, wrapped in a ``LossScaleOptimizer`` under the
    ``mixed_float16`` policy (as ``Model.compile`` does for one optimizer)."""
    if (
        auto and model.dtype_policy.name == "mixed_float16"
        and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    ):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def _bce(labels: Any, logits: Any) -> Any:
    return ops.mean(ops.binary_crossentropy(labels, logits, from_logits=True))


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
    num_classes: int,
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
    class_embedding_dim: int = 50,
    value_range: Sequence[float] = (0.0, 255.0),
    seed: Optional[int] = None,
) -> GAN:
    """Builds an uncompiled DCGAN (or conditional GAN) for images of ``input_shape``.

    Compile it with one optimizer per network, then ``fit`` it on images
    (and class ids):

    >>> gan = build_gan((28, 28, 1), num_classes=10, latent_dim=64)
    >>> gan.compile(
    ...     discriminator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
    ...     generator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
    ... )
    >>> gan.generator.output_shape
    (None, 28, 28, 1)

    Args:
        input_shape: Shape of one image, ``(height, width, channels)``.
        num_classes: Classes in the data; used when ``conditional``.
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
        class_embedding_dim: Class embedding length in a conditional generator.
        value_range: The data's pixel range, e.g. ``[0, 255]``.
        seed: Seed of the latent noise drawn in training.

    Returns:
        A ``GAN``; ``gan.generator`` and ``gan.discriminator`` are the
        functional networks.

    Raises:
        BuilderArgumentError: for an argument out of range.
    """
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
        generator, discriminator, label_smoothing=label_smoothing, value_range=value_range, seed=seed, name="gan"
    )
