"""Adversarial examples: the FGSM and PGD attacks on an image classifier
(``kerasdl evaluate --attack``), and training against them
(``training.adversarial``).

kerasdl's image models take raw pixels, 0 to 255, and rescale inside. An
attack's ``epsilon`` and ``step_size`` are on the 0-to-1 scale the literature
quotes: epsilon 0.1 moves each pixel by at most 25.5 levels. Attacked images
stay in the pixels' range.

- FGSM (Goodfellow et al. 2015): one step of ``epsilon`` along the sign of
  the loss's gradient. For training, FGSM starts from a random point of the
  epsilon ball and steps 1.25 epsilon ("fast is better than free", Wong, Rice
  and Kolter 2020): plain FGSM training overfits to the attack.
- PGD (Madry et al. 2018): a random start, then ``steps`` signed steps of
  ``step_size`` (2.5 epsilon / steps by default), each projected back into
  the epsilon ball.

Training replaces each batch by its attacked copy (the loss of Madry et al.
and Wong et al.), attacked against the model as it is at that step, with
dropout off and batch norm's moving statistics (``training=False``).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterable, Optional

import keras
import numpy as np
import tensorflow as tf

from kerasdl.schema import ATTACKS

# The pixels an image model takes: what attacked images are clipped to.
PIXELS = (0.0, 255.0)
# PGD's step by default: 2.5 epsilon spread over the steps (Madry et al.).
PGD_REACH = 2.5
# FGSM's step from a random start, in training (Wong et al.).
FAST_STEP = 1.25


@dataclasses.dataclass(frozen=True)
class Attack:
    """One attack, its sizes on the 0-to-1 pixel scale.

    Attributes:
        method: One of ``ATTACKS``.
        epsilon: How far a pixel may move.
        steps: PGD's steps (FGSM takes one).
        step_size: Each step's size; by default FGSM's epsilon (1.25 epsilon
            from a random start), PGD's 2.5 epsilon / steps.
        random_start: Whether to start from a random point of the ball (PGD
            always; FGSM in training).
    """

    method: str
    epsilon: float
    steps: int = 10
    step_size: Optional[float] = None
    random_start: bool = False

    def __post_init__(self) -> None:
        if self.method not in ATTACKS:
            raise ValueError(f"attack {self.method!r} is not one of {', '.join(ATTACKS)}")
        if not 0 < self.epsilon <= 1:
            raise ValueError(f"epsilon {self.epsilon} is not in (0, 1] (a share of the pixels' range)")

    @classmethod
    def for_training(cls, setting: dict) -> "Attack":
        """The attack ``training.adversarial`` names (its resolved mapping)."""
        return cls(setting["attack"], setting["epsilon"], setting["steps"], setting["step_size"],
                   random_start=True)

    @property
    def iterations(self) -> int:
        return self.steps if self.method == "pgd" else 1

    @property
    def step(self) -> float:
        """Each step's size on the 0-to-1 scale."""
        if self.step_size is not None:
            return self.step_size
        if self.method == "pgd":
            return PGD_REACH * self.epsilon / self.steps
        return FAST_STEP * self.epsilon if self.random_start else self.epsilon

    @property
    def starts_at_random(self) -> bool:
        return self.random_start or self.method == "pgd"

    def describe(self) -> dict:
        """The attack as ``metrics.json`` records it."""
        return {"method": self.method, "epsilon": self.epsilon, "steps": self.iterations, "step_size": self.step,
                "random_start": self.starts_at_random}

    def perturb(self, loss_of: Callable[[tf.Tensor], tf.Tensor], images: tf.Tensor) -> tf.Tensor:
        """Attacked copies of ``images`` (pixels): each step climbs
        ``loss_of(attacked)`` along its gradient's sign, within epsilon of
        the image and within ``PIXELS``."""
        low, high = PIXELS
        images = tf.cast(images, tf.float32)
        radius, step = self.epsilon * (high - low), self.step * (high - low)
        attacked = images
        if self.starts_at_random:
            attacked = tf.clip_by_value(images + tf.random.uniform(tf.shape(images), -radius, radius), low, high)

        def climb(index: tf.Tensor, attacked: tf.Tensor) -> tuple:
            with tf.GradientTape() as tape:
                tape.watch(attacked)
                loss = tf.cast(loss_of(attacked), tf.float32)
            moved = attacked + step * tf.sign(tape.gradient(loss, attacked))
            moved = tf.clip_by_value(moved, images - radius, images + radius)
            return index + 1, tf.clip_by_value(moved, low, high)

        _, attacked = tf.while_loop(lambda index, _: index < self.iterations, climb, (tf.constant(0), attacked))
        return tf.stop_gradient(attacked)


def classifier_loss(model: keras.Model, labels: tf.Tensor) -> Callable[[tf.Tensor], tf.Tensor]:
    """The crossentropy of a classifier's probabilities against class
    indices, as a function of its inputs (what an attack climbs)."""
    def loss_of(images: tf.Tensor) -> tf.Tensor:
        probabilities = tf.cast(model(images, training=False), tf.float32)
        return tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(labels, probabilities))

    return loss_of


def attacked_predictions(
    model: keras.Model, attack: Attack, batches: Iterable[tuple[np.ndarray, np.ndarray]], keep: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The model's outputs on attacked copies of each batch of images and
    labels, and the first ``keep`` attacked images (for a figure).

    Returns:
        ``(predictions, kept)``: predictions for every example in order.
    """
    @tf.function(reduce_retracing=True)
    def answer(images: tf.Tensor, labels: tf.Tensor) -> tuple:
        attacked = attack.perturb(classifier_loss(model, labels), images)
        return attacked, model(attacked, training=False)

    outputs, kept = [], []
    for images, labels in batches:
        attacked, predictions = answer(tf.constant(images, tf.float32), tf.constant(labels, tf.int64))
        outputs.append(np.asarray(predictions, np.float32))
        if sum(len(batch) for batch in kept) < keep:
            kept.append(attacked.numpy())
    kept_images = np.concatenate(kept)[:keep] if kept else np.zeros((0,))
    return np.concatenate(outputs), kept_images


def train_against(model: keras.Model, attack: Attack) -> None:
    """Makes ``model.fit`` take each step on attacked copies of its batch
    (``attacking_step`` on Keras's own step). Called after each
    ``compile``; the model saves and exports as it is (the step is not part
    of it)."""
    model.train_step = attacking_step(model, attack, type(model).train_step.__get__(model))


def attacking_step(model: keras.Model, attack: Attack, step: Callable) -> Callable:
    """A training step that takes ``step`` (Keras's own: the loss, loss
    scaling, the metrics) on the images ``attack`` makes against the
    model's compiled loss, in place of the batch's."""

    def train_step(data: tuple) -> dict:
        images, labels, weights = keras.utils.unpack_x_y_sample_weight(data)

        def loss_of(inputs: tf.Tensor) -> tf.Tensor:
            return model.compute_loss(x=inputs, y=labels, y_pred=model(inputs, training=False))

        attacked = attack.perturb(loss_of, images)
        return step(keras.utils.pack_x_y_sample_weight(attacked, labels, weights))

    return train_step
