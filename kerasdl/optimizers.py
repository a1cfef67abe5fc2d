"""Optimizers and learning-rate schedules from a recipe's ``optimizer`` section."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops
from keras.optimizers.schedules import LearningRateSchedule


@keras.saving.register_keras_serializable(package="kerasdl")
class ConstantSchedule(LearningRateSchedule):
    """A constant rate, so that a warm-up can precede it."""

    def __init__(self, initial_learning_rate: float):
        self.initial_learning_rate = initial_learning_rate

    def __call__(self, step: Any) -> Any:
        return ops.convert_to_tensor(self.initial_learning_rate, "float32")

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate}


@keras.saving.register_keras_serializable(package="kerasdl")
class WarmUp(LearningRateSchedule):
    """Linear warm-up from ~0 to the schedule's first rate, then the schedule.

    The wrapped schedule starts counting when the warm-up ends, so a cosine
    decay still spans its whole ``decay_steps`` after the warm-up.
    """

    def __init__(self, schedule: LearningRateSchedule, warmup_steps: int):
        self.schedule = schedule
        self.warmup_steps = warmup_steps

    def __call__(self, step: Any) -> Any:
        step = ops.cast(step, "float32")
        peak = ops.cast(self.schedule(0), "float32")
        warm = peak * (step + 1.0) / float(self.warmup_steps)
        after = ops.cast(self.schedule(ops.maximum(step - self.warmup_steps, 0.0)), "float32")
        return ops.where(step < self.warmup_steps, warm, after)

    def get_config(self) -> dict:
        return {
            "schedule": keras.saving.serialize_keras_object(self.schedule),
            "warmup_steps": self.warmup_steps,
        }

    @classmethod
    def from_config(cls, config: dict) -> "WarmUp":
        schedule = keras.saving.deserialize_keras_object(config["schedule"])
        return cls(schedule, config["warmup_steps"])


def schedule_class(name: str) -> type:
    """The schedule class a recipe's ``schedule:`` name stands for."""
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
