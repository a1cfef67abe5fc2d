"""The super-resolution model: a generator that restores downscaled images
and a discriminator that judges them, trained by ``fit`` (SRGAN's losses:
content plus a small adversarial term).

``kerasdl.builders.super_resolution`` builds the two networks and puts
them in a ``Restorer``. Saved models name the classes ``kerasdl>Restorer``
``kerasdl>PixelShuffle``, ``kerasdl>Upscale`` and ``kerasdl>ClipPixels``.
"""

from __future__ import annotations

from typing import Any, Optional

import keras
import tensorflow as tf
from keras import ops

from kerasdl.models.gan import GeneratorAndDiscriminator, bce

# The generator's input and output names, as its export takes and answers them.
LOW_RESOLUTION = "low_resolution"
RESTORED = "restored"
PIXELS = 255.0


def _grown(size: Optional[int], factor: int) -> Optional[int]:
    """An image side ``factor`` times longer (unknown stays unknown)."""
    return None if size is None else size * factor


@keras.saving.register_keras_serializable(package="kerasdl")
class PixelShuffle(keras.layers.Layer):
    """Sub-pixel upscaling (Shi et al., 2016): ``[b, h, w, s²·c]`` to
    ``[b, s·h, s·w, c]``, each pixel's channels laid out as an ``s × s``
    square (TensorFlow's ``depth_to_space``)."""

    def __init__(self, factor: int = 2, **kwargs: Any):
        super().__init__(**kwargs)
        self.factor = int(factor)

    def call(self, inputs: Any) -> Any:
        return tf.nn.depth_to_space(inputs, self.factor)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        batch, height, width, channels = input_shape
        return batch, _grown(height, self.factor), _grown(width, self.factor), channels // self.factor**2

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="kerasdl")
class Upscale(keras.layers.Layer):
    """Images ``factor`` times larger by ``method`` (``tf.image.resize``'s:
    bicubic by default), of any size: Keras's ``UpSampling2D`` needs a
    static size in a SavedModel's graph, and this is the very resize the
    baselines are scored with."""

    def __init__(self, factor: int = 2, method: str = "bicubic", **kwargs: Any):
        super().__init__(**kwargs)
        self.factor, self.method = int(factor), method

    def call(self, inputs: Any) -> Any:
        return tf.image.resize(inputs, tf.shape(inputs)[1:3] * self.factor, method=self.method)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        batch, height, width, channels = input_shape
        return batch, _grown(height, self.factor), _grown(width, self.factor), channels

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self.factor, "method": self.method}


@keras.saving.register_keras_serializable(package="kerasdl")
class ClipPixels(keras.layers.Layer):
    """Pixels clipped to 0-255 when the model answers; in training they
    pass as they are, so that the content loss sees a value outside the
    range and pulls it back. (A clip in training stops that pull: with a
    ReLU capped at 255 the pixels pushed out stayed out, and a
    straight-through clip let them drift, under the adversarial term, far
    enough that a 4x run diverged.)"""

    def call(self, inputs: Any, training: Optional[bool] = None) -> Any:
        return inputs if training else ops.clip(inputs, 0.0, PIXELS)


def degrade(images: Any, scale: int) -> Any:
    """Full-size images downscaled by ``scale``: each pixel the mean of a
    ``scale × scale`` square (area downscaling, as ``PIL``'s ``BOX``), in
    the images' units. The same in training, in the baselines and for the
    export's samples."""
    return ops.average_pool(ops.cast(images, "float32"), scale, strides=scale, padding="valid")


def psnr(reference: Any, restored: Any) -> Any:
    """Each image's peak signal-to-noise ratio in dB, pixels 0-255:
    ``10 · log10(255² / MSE)`` (the error floored at 1e-8: a perfect copy
    scores about 128 dB)."""
    error = ops.mean(ops.square(ops.cast(reference, "float32") - ops.cast(restored, "float32")), axis=(1, 2, 3))
    return 10.0 * ops.log(PIXELS**2 / ops.maximum(error, 1e-8)) / ops.log(10.0)


@keras.saving.register_keras_serializable(package="kerasdl")
class Restorer(GeneratorAndDiscriminator, keras.Model):
    """A super-resolution generator and its discriminator, trained by ``fit``
    on full-size images alone (labels, if the data gives them, are ignored).

    Each ``train_step`` downscales the batch (``degrade``) and makes two
    updates: the discriminator learns to tell the real images from the
    generator's restorations, then the generator learns to lower its
    content loss (``mae`` or ``mse`` between its restoration and the real
    image, pixels in [0, 1]) plus ``adversarial_weight`` times the
    non-saturating GAN loss of the updated discriminator. With
    ``adversarial_weight`` 0 the discriminator is skipped: the generator
    trains on the content loss alone.

    Calling the model restores full-size images through their downscaled
    copies: ``restorer(images)`` is ``generator(degrade(images))``, what the
    test split is scored on. ``restorer.generator`` takes low-resolution
    images of any size.

    Logged: ``loss`` (the generator's objective), ``content``, ``psnr``
    (dB) and, when adversarial, ``d_loss`` and ``g_adv``.

    Args:
        generator: A ``build_super_resolution_generator`` model.
        discriminator: A ``build_discriminator`` model of full-size images.
        scale: The downscaling factor the generator undoes.
        content_loss: ``mae`` or ``mse``.
        adversarial_weight: The GAN term's weight in the generator's loss.
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        scale: int = 2,
        content_loss: str = "mae",
        adversarial_weight: float = 1e-3,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.scale = int(scale)
        self.content_loss = content_loss
        self.adversarial_weight = float(adversarial_weight)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.logged}
        self.built = True  # Both networks are functional, built already.

    @property
    def served(self) -> keras.Model:
        """What answers for a run of this model (``artifacts.trained``) and
        is exported: the generator, low-resolution images in."""
        return self.generator

    @property
    def adversarial(self) -> bool:
        return self.adversarial_weight > 0

    @property
    def logged(self) -> tuple[str, ...]:
        """The names ``fit`` logs (``val_`` of each on validation data)."""
        return ("loss", "content", "psnr") + (("d_loss", "g_adv") if self.adversarial else ())

    @property
    def metrics(self) -> list:
        return list(self.trackers.values())

    def call(self, images: Any, training: bool = False) -> Any:
        return self.generator(degrade(images, self.scale), training=training)

    def _content(self, images: Any, restored: Any) -> Any:
        difference = (ops.cast(restored, "float32") - images) / PIXELS
        return ops.mean(ops.abs(difference) if self.content_loss == "mae" else ops.square(difference))

    def train_step(self, data: Any) -> dict:
        """The generator restores the batch once: the discriminator learns
        on that restoration (its gradient stopped there), then judges it
        again, updated, inside the generator's tape. Losses are means over
        this replica's examples, divided by the replicas: the optimizers
        sum the gradients across replicas to those of the global batch's
        mean. Under ``mixed_float16`` the optimizers are
        ``LossScaleOptimizer``s (as the GAN's)."""
        images = ops.cast(data[0] if isinstance(data, tuple) else data, "float32")
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        logged: dict = {}
        with tf.GradientTape() as tape:
            restored = self.generator(degrade(images, self.scale), training=True)
            content = self._content(images, restored)
            objective = content
            if self.adversarial:
                logged["d_loss"] = self._train_discriminator(images, ops.stop_gradient(restored), replicas)
                logits = self.discriminator(restored, training=True)
                logged["g_adv"] = bce(ops.ones_like(logits), logits)
                objective = content + self.adversarial_weight * logged["g_adv"]
            scaled = self.generator_optimizer.scale_loss(objective / replicas)
        variables = self.generator.trainable_variables
        self.generator_optimizer.apply(tape.gradient(scaled, variables), variables)
        return self._update(images, restored, objective, content, logged)

    def _train_discriminator(self, images: Any, restored: Any, replicas: int) -> Any:
        """One step of the discriminator, real ``images`` against ``restored``; its loss."""
        with tf.GradientTape() as tape:
            loss = self._discriminator_loss(images, restored, training=True)
            scaled = self.discriminator_optimizer.scale_loss(loss / replicas)
        variables = self.discriminator.trainable_variables
        self.discriminator_optimizer.apply(tape.gradient(scaled, variables), variables)
        return loss

    def _discriminator_loss(self, images: Any, restored: Any, training: bool) -> Any:
        real_logits = self.discriminator(images, training=training)
        fake_logits = self.discriminator(restored, training=training)
        return bce(ops.ones_like(real_logits), real_logits) + bce(ops.zeros_like(fake_logits), fake_logits)

    def test_step(self, data: Any) -> dict:
        """The same losses on held-out images, nothing updated."""
        images = ops.cast(data[0] if isinstance(data, tuple) else data, "float32")
        restored = self(images, training=False)
        content = self._content(images, restored)
        objective, logged = content, {}
        if self.adversarial:
            logged["d_loss"] = self._discriminator_loss(images, restored, training=False)
            logits = self.discriminator(restored, training=False)
            logged["g_adv"] = bce(ops.ones_like(logits), logits)
            objective = content + self.adversarial_weight * logged["g_adv"]
        return self._update(images, restored, objective, content, logged)

    def _update(self, images: Any, restored: Any, objective: Any, content: Any, logged: dict) -> dict:
        answered = ops.clip(ops.cast(restored, "float32"), 0.0, PIXELS)  # As the model answers.
        values = {"loss": objective, "content": content, "psnr": ops.mean(psnr(images, answered)), **logged}
        for name, tracker in self.trackers.items():
            tracker.update_state(values[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "scale": self.scale,
            "content_loss": self.content_loss,
            "adversarial_weight": self.adversarial_weight,
        }
