"""Optimizers and learning-rate schedules from a recipe's ``optimizer`` section."""

from __future__ import annotations

import keras
from keras.optimizers.schedules import LearningRateSchedule

from kerasdl.models.schedules import ConstantSchedule, WarmUp


def schedule_class(name: str) -> type:
    """The schedule class a recipe's ``schedule:`` name (one of
    ``schema.SCHEDULES``) stands for."""
    return {
        "constant": ConstantSchedule,
        "exponential": keras.optimizers.schedules.ExponentialDecay,
        "cosine": keras.optimizers.schedules.CosineDecay,
        "piecewise": keras.optimizers.schedules.PiecewiseConstantDecay,
        "linear": keras.optimizers.schedules.PolynomialDecay,
    }[name]


def build_schedule(spec: dict, steps_per_epoch: int, epochs: int) -> LearningRateSchedule:
    """Builds a schedule; ``decay_steps`` defaults to the run's remaining steps
    (cosine, linear) or one epoch (exponential). ``linear`` decays to
    ``end_learning_rate`` (default 1e-4), as word2vec does."""
    options = dict(spec)
    name = options.pop("schedule")
    warmup_steps = options.pop("warmup_steps", 0)
    total = max(1, steps_per_epoch * epochs - warmup_steps)
    if name in ("cosine", "linear"):
        options.setdefault("decay_steps", total)
    elif name == "exponential":
        options.setdefault("decay_steps", steps_per_epoch)
    schedule = schedule_class(name)(**options)
    return WarmUp(schedule, warmup_steps) if warmup_steps else schedule


def optimizer_class(name: str) -> type:
    """The Keras optimizer class of a recipe's ``optimizer.name`` (looked up,
    not instantiated: an instance would start TensorFlow's runtime before
    the devices are set up)."""
    classes = {cls.__name__.lower(): cls for cls in vars(keras.optimizers).values() if isinstance(cls, type)}
    return classes[name.lower()]


def build_optimizer(section: dict, steps_per_epoch: int, epochs: int) -> keras.optimizers.Optimizer:
    """Builds the optimizer of a resolved ``optimizer`` section.

    Args:
        section: ``name``, ``learning_rate`` (number or schedule mapping) and
            the Keras optimizer's own arguments (momentum, nesterov, ...).
        steps_per_epoch: Training steps in one epoch, for schedule defaults.
        epochs: Planned epochs, for schedule defaults.
    """
    options = dict(section)
    name = options.pop("name")
    rate = options.pop("learning_rate")
    if isinstance(rate, dict):
        rate = build_schedule(rate, steps_per_epoch, epochs)
    return optimizer_class(name)(learning_rate=rate, **options)
