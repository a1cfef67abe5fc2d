"""Learning-rate schedules that saved models name: ``kerasdl>ConstantSchedule``
and ``kerasdl>WarmUp``."""

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
