"""GAN training-step throughput: kerasdl's GAN against the Keras guide's DCGAN.

The contenders, on the same Fashion-MNIST images at batch 64, timed in
one process, interleaved round by round so that a noisy neighbour slows
all of them alike:

- ``keras guide``: the DCGAN of keras-io's "GAN overriding Model.train_step"
  (MNIST version), as written there, ported only where Keras 3 renamed
  an argument (LeakyReLU's ``alpha`` is ``negative_slope``).
- ``gan.yaml`` and ``cgan.yaml``: the GAN that ``kerasdl run`` trains
  from each recipe (its model, optimizer and batch size).

Prints steps/s (median over rounds), images/s and the ratio to the guide.

    python bench/gan.py [--rounds 5] [--steps 60]
"""

import argparse
import statistics
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from kerasdl.data.images import load_fashion_mnist
from kerasdl.recipe import load_recipe
from kerasdl.tasks import loop

ROOT = Path(__file__).resolve().parent.parent
BATCH_SIZE = 64
LATENT_DIM = 128


class GuideGAN(keras.Model):
    """The keras-io guide's GAN, its train_step as written."""

    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    def train_step(self, real_images):
        if isinstance(real_images, tuple):
            real_images = real_images[0]
        batch_size = tf.shape(real_images)[0]
        random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
        generated_images = self.generator(random_latent_vectors)
        combined_images = tf.concat([generated_images, real_images], axis=0)
        labels = tf.concat([tf.ones((batch_size, 1)), tf.zeros((batch_size, 1))], axis=0)
        labels += 0.05 * tf.random.uniform(tf.shape(labels))
        with tf.GradientTape() as tape:
            predictions = self.discriminator(combined_images)
            d_loss = self.loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
        misleading_labels = tf.zeros((batch_size, 1))
        with tf.GradientTape() as tape:
            predictions = self.discriminator(self.generator(random_latent_vectors))
            g_loss = self.loss_fn(misleading_labels, predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        return {"d_loss": d_loss, "g_loss": g_loss}


def guide(images: np.ndarray) -> tuple[keras.Model, tf.data.Dataset]:
    discriminator = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(64, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(128, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.GlobalMaxPooling2D(),
        layers.Dense(1),
    ], name="discriminator")
    generator = keras.Sequential([
        keras.Input(shape=(LATENT_DIM,)),
        layers.Dense(7 * 7 * 128),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Reshape((7, 7, 128)),
        layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(1, (7, 7), padding="same", activation="sigmoid"),
    ], name="generator")
    model = GuideGAN(discriminator, generator, LATENT_DIM)
    model.compile(
        d_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
        g_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
        loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    digits = images.astype("float32") / 255
    dataset = tf.data.Dataset.from_tensor_slices(digits).shuffle(buffer_size=1024).batch(BATCH_SIZE).prefetch(32)
    return model, dataset.repeat()


def kerasdl_gan(recipe_name: str, data) -> tuple[keras.Model, tf.data.Dataset]:
    """The recipe's GAN, built and compiled as ``kerasdl run`` does, fed by
    the same kind of pipeline (uint8 images and labels, batched)."""
    recipe = load_recipe(ROOT / "recipes" / recipe_name, [f"training.batch_size={BATCH_SIZE}"])
    model = loop.prepared(recipe, data, log=lambda _: None).model  # The GAN task's build and compile.
    dataset = tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train)).cache()
    dataset = dataset.shuffle(len(data.x_train), seed=0).batch(BATCH_SIZE).prefetch(tf.data.AUTOTUNE)
    return model, dataset.repeat()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=60, help="Training steps timed per contender per round.")
    arguments = parser.parse_args()
    keras.utils.set_random_seed(0)
    data = load_fashion_mnist()
    contenders = {
        "keras guide DCGAN": guide(data.x_train),
        "kerasdl gan.yaml": kerasdl_gan("gan.yaml", data),
        "kerasdl cgan.yaml": kerasdl_gan("cgan.yaml", data),
    }
    for model, dataset in contenders.values():  # Trace and warm up.
        model.fit(dataset, steps_per_epoch=10, epochs=1, verbose=0)
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(arguments.rounds):
        for name, (model, dataset) in contenders.items():
            start = time.perf_counter()
            model.fit(dataset, steps_per_epoch=arguments.steps, epochs=1, verbose=0)
            rates[name].append(arguments.steps / (time.perf_counter() - start))
    reference = statistics.median(rates["keras guide DCGAN"])
    print(f"GAN training steps at batch {BATCH_SIZE} on Fashion-MNIST, median of {arguments.rounds} rounds "
          f"of {arguments.steps} steps (one step updates the discriminator, then the generator):")
    print(f"{'model':<20} {'steps/s':>8} {'images/s':>9} {'vs guide':>9}   rounds")
    for name, values in rates.items():
        median = statistics.median(values)
        spread = " ".join(f"{value:.2f}" for value in values)
        print(f"{name:<20} {median:>8.2f} {median * BATCH_SIZE:>9.0f} {median / reference:>8.2f}x   {spread}")


if __name__ == "__main__":
    main()
