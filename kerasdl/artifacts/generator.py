"""A GAN generator's export: latent vectors (and class ids) in, uint8 images out."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from kerasdl.artifacts.savedmodel import SIGNATURE, publish, write_assets
from kerasdl.errors import ExportError
from kerasdl.models.gan import CLASS_ID, LATENT

# The images the serving signature returns.
IMAGES_OUTPUT = "images"


def to_uint8(images: Any, value_range: Sequence[float] = (0.0, 255.0)) -> Any:
    """Maps generated pixel values from ``value_range`` to 0-255, rounded
    and clipped, as uint8."""
    low, high = (float(value) for value in value_range)
    scaled = (tf.cast(images, tf.float32) - low) * (255.0 / (high - low))
    return tf.cast(tf.clip_by_value(tf.round(scaled), 0.0, 255.0), tf.uint8)


class _GeneratorModule(tf.Module):
    """The serving function of a generator, with the uint8 conversion."""

    def __init__(self, generator: keras.Model, conditional: bool, value_range: Sequence[float]):
        super().__init__()
        self.generator = generator
        latent_dim = int((generator.input[LATENT] if conditional else generator.input).shape[-1])
        latent = tf.TensorSpec([None, latent_dim], tf.float32, name=LATENT)
        if conditional:
            self.serve = tf.function(
                lambda latent, class_id: {IMAGES_OUTPUT: to_uint8(
                    generator({LATENT: latent, CLASS_ID: class_id}, training=False), value_range
                )},
                input_signature=[latent, tf.TensorSpec([None], tf.int32, name=CLASS_ID)],
            )
        else:
            self.serve = tf.function(
                lambda latent: {IMAGES_OUTPUT: to_uint8(generator(latent, training=False), value_range)},
                input_signature=[latent],
            )


def export_generator(
    generator: keras.Model,
    directory: str,
    name: str,
    sample: dict[str, np.ndarray],
    assets: dict[str, str],
    value_range: Sequence[float] = (0.0, 255.0),
    check: bool = True,
    origin: Optional[Path] = None,
) -> tuple[Path, Optional[float]]:
    """Exports a GAN's generator as a SavedModel (TF Serving layout, atomic).

    The ``serving_default`` signature takes ``latent`` (float32 ``[batch,
    latent_dim]``, standard normal) and, for a conditional generator,
    ``class_id`` (int32 ``[batch]``), and returns ``images`` (uint8
    ``[batch, height, width, channels]``, pixels 0-255).

    Args:
        sample: The inputs the reloaded export is verified on, by name.
        assets: File name -> text, written to ``assets.extra/``.
        value_range: The generator's pixel range, mapped to 0-255.
        origin: The run folder exporting (``savedmodel.publish``).

    Returns:
        The version folder and the verification's largest pixel difference
        (None when ``check`` is off).
    """
    conditional = CLASS_ID in sample

    def write(path: Path) -> Optional[float]:
        module = _GeneratorModule(generator, conditional, value_range)
        tf.saved_model.save(module, str(path), signatures={SIGNATURE: module.serve})
        write_assets(path, assets)
        return verify_generator(path, generator, sample, value_range) if check else None

    return publish(directory, name, write, origin)


def verify_generator(
    path: Path, generator: keras.Model, sample: dict[str, np.ndarray],
    value_range: Sequence[float] = (0.0, 255.0), atol: int = 1,
) -> float:
    """Reloads a generator export and compares its images with the generator's.

    A pixel may differ by one where a value lies on a rounding boundary.

    Raises:
        ExportError: if the images differ by more than ``atol`` levels, or
            are not uint8 of the generator's shape.
    """
    serve = tf.saved_model.load(str(path)).signatures[SIGNATURE]
    inputs = {key: tf.constant(value) for key, value in sample.items()}
    exported = serve(**inputs)[IMAGES_OUTPUT]
    model_inputs = inputs if CLASS_ID in inputs else inputs[LATENT]
    expected = to_uint8(generator(model_inputs, training=False), value_range).numpy()
    if exported.dtype != tf.uint8 or tuple(exported.shape) != expected.shape:
        raise ExportError(
            f"The SavedModel at {path} returns {exported.dtype.name} images of shape {tuple(exported.shape)}; "
            f"expected uint8 of shape {expected.shape}."
        )
    difference = float(np.max(np.abs(exported.numpy().astype(np.int16) - expected.astype(np.int16))))
    if not difference <= atol:
        raise ExportError(
            f"The SavedModel at {path} does not reproduce the generator: max |difference| = {difference:.0f} "
            f"pixel levels > {atol}."
        )
    return difference
