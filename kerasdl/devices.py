"""Device strategy: where training runs (one device, several GPUs, ...)."""

from __future__ import annotations

import tensorflow as tf

from kerasdl.errors import RecipeError


def create_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """Returns the ``tf.distribute`` strategy a recipe's ``training.strategy`` names.

    Args:
        name: ``auto`` picks MirroredStrategy when several GPUs are visible
            and the default strategy otherwise; ``default``, ``mirrored`` and
            ``one_device`` force one.

    Raises:
        RecipeError: for an unknown name.
    """
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    raise RecipeError(
        "training.strategy must be one of: auto, default, mirrored, one_device. "
        f"Received: strategy={name!r}"
    )
