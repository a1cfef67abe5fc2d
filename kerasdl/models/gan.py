"""The GAN model: a generator and a discriminator that ``fit`` trains against
each other, with the adversarial ``train_step`` (two optimizers, one-sided
label smoothing, per-replica noise, loss scaling under mixed float16).

``kerasdl.builders.gan`` builds the two networks and puts them in a ``GAN``.
Saved models name the class ``kerasdl>GAN``.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import keras
import tensorflow as tf
from keras import ops

# The networks' input names (a conditional generator and discriminator take
# dicts), as the generator's export takes them too.
LATENT = "latent"
CLASS_ID = "class_id"
IMAGES = "images"
NOISE_STATE = "latent_seed_state"


class GeneratorAndDiscriminator:
    """What a ``keras.Model`` of two networks, ``generator`` and
    ``discriminator``, each with its own optimizer, needs to compile, save
    and load (the GAN, and the super-resolution ``Restorer``); put it
    before ``keras.Model`` among the bases, and add the model's own
    arguments to ``get_config``."""

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
                model's losses are its own.
        """
        auto_scale_loss = kwargs.pop("auto_scale_loss", True)
        super().compile(optimizer=None, **kwargs)
        self.discriminator_optimizer = _loss_scaled(keras.optimizers.get(discriminator_optimizer), self,
                                                    auto_scale_loss)
        self.generator_optimizer = _loss_scaled(keras.optimizers.get(generator_optimizer), self, auto_scale_loss)
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)
        self.generator_optimizer.build(self.generator.trainable_variables)

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

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
        }

    @classmethod
    def from_config(cls, config: dict) -> Any:
        config = dict(config)
        generator = keras.saving.deserialize_keras_object(config.pop("generator"))
        discriminator = keras.saving.deserialize_keras_object(config.pop("discriminator"))
        return cls(generator, discriminator, **config)


@keras.saving.register_keras_serializable(package="kerasdl")
class GAN(GeneratorAndDiscriminator, keras.Model):
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
        mode_seeking: Weight of the mode-seeking term in the generator's
            loss (Mao et al., 2019, "Mode Seeking GANs"), 0 for none. Each
            generator step pairs the batch's first half with its second,
            both asked for the same classes, and the term is the inverse
            of how far apart the paired images lie for how far apart their
            latent vectors do: a generator that draws a class the same way
            whatever the noise pays for it.
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        label_smoothing: float = 0.0,
        value_range: Sequence[float] = (0.0, 255.0),
        seed: Optional[int] = None,
        mode_seeking: float = 0.0,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.label_smoothing = float(label_smoothing)
        self.value_range = tuple(float(value) for value in value_range)
        self.seed = seed
        self.mode_seeking = float(mode_seeking)
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

    def save_own_variables(self, store: Any) -> None:
        # The noise generator's state is not a layer's variable: saved here,
        # it makes a resumed run draw what an uninterrupted one would.
        super().save_own_variables(store)
        store[NOISE_STATE] = self.seed_generator.state

    def load_own_variables(self, store: Any) -> None:
        if NOISE_STATE in store.keys():
            self.seed_generator.state.assign(store[NOISE_STATE])
        # The GAN's own variables are the networks'; they load with them.

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
        return bce(real_labels, real_logits) + bce(ops.zeros_like(fake_logits), fake_logits)

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
        if self.mode_seeking and class_id is not None:
            class_id = _paired(class_id)
        with tf.GradientTape() as tape:
            fake = self.generator(self._generator_inputs(latent, class_id), training=True)
            logits = self.discriminator(self._discriminator_inputs(fake, class_id), training=True)
            generator_loss = bce(ops.ones_like(logits), logits)
            objective = generator_loss
            if self.mode_seeking:
                objective = objective + self.mode_seeking * self._mode_seeking_loss(latent, fake)
            scaled = self.generator_optimizer.scale_loss(objective / replicas)
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
            self._discriminator_loss(real_logits, fake_logits), bce(ops.ones_like(fake_logits), fake_logits),
            real_logits, fake_logits,
        )

    def _mode_seeking_loss(self, latent: Any, fake: Any) -> Any:
        """MSGAN's term: 1 / (image distance / latent distance) between the
        batch's first and second halves, images in [0, 1] (mean absolute
        differences, as the paper's code)."""
        half = ops.shape(latent)[0] // 2
        low, high = self.value_range
        images = (ops.cast(fake, "float32") - low) / (high - low)
        image_distance = ops.mean(ops.abs(images[:half] - images[half:2 * half]))
        latent_distance = ops.mean(ops.abs(latent[:half] - latent[half:2 * half]))
        return 1.0 / (image_distance / latent_distance + 1e-5)

    def _update_metrics(self, discriminator_loss: Any, generator_loss: Any, real_logits: Any, fake_logits: Any) -> dict:
        self.discriminator_loss_tracker.update_state(discriminator_loss)
        self.generator_loss_tracker.update_state(generator_loss)
        self.real_score_tracker.update_state(ops.sigmoid(real_logits))
        self.fake_score_tracker.update_state(ops.sigmoid(fake_logits))
        return {metric.name: metric.result() for metric in self.metrics}

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "label_smoothing": self.label_smoothing,
            "value_range": list(self.value_range),
            "seed": self.seed,
            "mode_seeking": self.mode_seeking,
        }



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


def _paired(class_id: Any) -> Any:
    """The batch's class ids with the second half asked for the first
    half's classes (an odd batch's last id unchanged): image i and image
    i + half are then of one class, for the mode-seeking term."""
    half = ops.shape(class_id)[0] // 2
    return ops.concatenate([class_id[:half], class_id[:half], class_id[2 * half:]], axis=0)


def bce(labels: Any, logits: Any) -> Any:
    return ops.mean(ops.binary_crossentropy(labels, logits, from_logits=True))
