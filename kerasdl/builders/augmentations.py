"""Keras 3's image augmentation layers, named in a recipe: the builders'
``augmentation`` argument, a list of layers in the order they run, each a
name or a mapping of its name and the Keras layer's own arguments::

    augmentation:
      - random_flip                          # Keras's defaults
      - {name: random_color_jitter, brightness_factor: 0.2, contrast_factor: 0.2}
      - {name: random_erasing, factor: 0.5}
      - {name: gaussian_noise, stddev: 0.05}

Every layer runs only in training (``fit`` passes ``training=True``):
validation, test, ``predict`` and the export see the image as it is. Each
is checked when the model is built, as builder arguments are: an unknown
name or argument gets a did-you-mean, Keras's own refusal of a value is
passed on, and the layer is tried once on an image of the model's input
shape (a hue shift on grey images, a crop whose size the inference path
would not keep, are refused then, not in the first step). Colour layers get
the range of the pixels they see (``value_range``), unless a recipe sets it.

MixUp and CutMix mix labels as well as images, so they cannot be model
layers, and RandomCrop changes the image's size in training only: they are
refused with that reason (``REFUSED``).
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any, Mapping, Optional, Sequence, Union

import keras
import numpy as np

from kerasdl.builders import options
from kerasdl.errors import BuilderArgumentError, keras_said, unknown_layer_argument

# The Keras layers a recipe may name, by their snake_case names.
LAYERS: dict[str, type] = {
    "random_flip": keras.layers.RandomFlip,
    "random_rotation": keras.layers.RandomRotation,
    "random_zoom": keras.layers.RandomZoom,
    "random_translation": keras.layers.RandomTranslation,
    "random_shear": keras.layers.RandomShear,
    "random_perspective": keras.layers.RandomPerspective,
    "random_elastic_transform": keras.layers.RandomElasticTransform,
    "random_contrast": keras.layers.RandomContrast,
    "random_brightness": keras.layers.RandomBrightness,
    "random_color_jitter": keras.layers.RandomColorJitter,
    "random_color_degeneration": keras.layers.RandomColorDegeneration,
    "random_hue": keras.layers.RandomHue,
    "random_saturation": keras.layers.RandomSaturation,
    "random_sharpness": keras.layers.RandomSharpness,
    "random_grayscale": keras.layers.RandomGrayscale,
    "random_invert": keras.layers.RandomInvert,
    "random_posterization": keras.layers.RandomPosterization,
    "solarization": keras.layers.Solarization,
    "random_gaussian_blur": keras.layers.RandomGaussianBlur,
    "gaussian_noise": keras.layers.GaussianNoise,
    "random_erasing": keras.layers.RandomErasing,
    "rand_augment": keras.layers.RandAugment,
    "aug_mix": keras.layers.AugMix,
}
# The classes of LAYERS, the builders' random_* layers among them: a
# backbone reused for a new task drops them.
AUGMENTATION_LAYERS = tuple(LAYERS.values())
# Keras's layers that cannot be a classifier's model layers, and why.
_MIXES = ("mixes the labels of two examples as well as their images, so it cannot be a layer of the model, which "
          "sees images only: kerasdl runs it in the training step")
REFUSED = {
    "mix_up": f"keras.layers.MixUp {_MIXES}. Use training.label_mixing: {{name: mix_up, alpha: 0.2}}.",
    "cut_mix": f"keras.layers.CutMix {_MIXES}. Use training.label_mixing: {{name: cut_mix, factor: 1.0}}.",
    "random_crop": ("keras.layers.RandomCrop crops to a smaller size in training and keeps the size otherwise, and a "
                    "model needs one size. To crop at random and keep the size, use random_zoom (or "
                    "random_translation)."),
}
# Arguments kerasdl sets itself.
SUPPLIED = ("name", "dtype", "seed", "data_format")
ARGUMENT = "augmentation"
# What the recipe reference says above the table of LAYERS.
REFERENCE = (
    "The `augmentation` argument of `cnn` and `transfer` lists layers by these names, in the order they run, each "
    "a name (Keras's defaults) or a mapping of its name and the Keras layer's arguments, e.g. "
    "`[random_flip, {name: random_erasing, factor: 0.5}, {name: gaussian_noise, stddev: 0.05}]`. They run in "
    "training only: validation, test, predict and the export see images as they are. `value_range` defaults to "
    "the range of the pixels where the layers run (0 to 1 after `cnn`'s 1/255 `rescale`, 0 to 255 in "
    "`transfer`), not Keras's [0, 255]. A layer is tried on an image of the model's input shape when the model is "
    "built: one that fails there (a hue shift on grey images) or changes the image's size is refused then. "
    "`mix_up` and `cut_mix` mix labels too, so they are not layers of the model: `training.label_mixing` runs them "
    "in the training step. `random_crop` (it changes the size in training only) is refused, with the reason."
)

LayerSpec = Union[str, Mapping[str, Any]]


def build(specs: Optional[Sequence[LayerSpec]], input_shape: Sequence[int], value_range: tuple) -> list:
    """The augmentation layers ``specs`` names, checked on ``input_shape``.

    Args:
        specs: The builder's ``augmentation`` argument (None or empty: none).
        input_shape: One image's shape, as the layers see it.
        value_range: The pixels' range where the layers run, e.g. (0, 1)
            after a 1/255 rescaling; given to the layers that take one.

    Raises:
        BuilderArgumentError: naming ``augmentation[i]``.
    """
    if specs is None:
        return []
    if isinstance(specs, (str, Mapping)) or not isinstance(specs, Sequence):
        raise BuilderArgumentError(
            ARGUMENT, f"`{ARGUMENT}` is a list of layers, e.g. [random_flip, {{name: gaussian_noise, stddev: 0.05}}]. "
                      f"Received: {ARGUMENT}={specs!r}")
    return [_layer(f"{ARGUMENT}[{index}]", spec, input_shape, value_range) for index, spec in enumerate(specs)]


def _layer(where: str, spec: LayerSpec, input_shape: Sequence[int], value_range: tuple) -> keras.layers.Layer:
    name, arguments = options.split_spec(where, spec, "{name: random_rotation, factor: 0.1}")
    layer_class = LAYERS.get(name)
    if layer_class is None:
        raise BuilderArgumentError(where, _unknown(name))
    unknown = unknown_layer_argument(layer_class, arguments, SUPPLIED)
    if unknown:
        raise BuilderArgumentError(where, unknown)
    if "value_range" in inspect.signature(layer_class.__init__).parameters:
        arguments.setdefault("value_range", list(value_range))
    try:
        layer = layer_class(**arguments)
    except (TypeError, ValueError, NotImplementedError) as error:  # Keras raises all three for a bad value.
        said = keras_said(error)
        received = "" if "Received" in said else f". Received: {spec!r}"
        raise BuilderArgumentError(
            where, f"keras.layers.{layer_class.__name__} refuses these arguments: {said}{received}") from None
    _try(where, layer, input_shape, value_range)
    return layer


def _unknown(name: str) -> str:
    if name in REFUSED:
        return f"{name}: {REFUSED[name]}"
    close = difflib.get_close_matches(name, list(LAYERS), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown augmentation layer '{name}'{hint}. Expected one of: {', '.join(LAYERS)}."


def _try(where: str, layer: keras.layers.Layer, input_shape: Sequence[int], value_range: tuple) -> None:
    """Runs the layer once in training and once not, on two images of
    ``input_shape``: each must keep the image's shape."""
    images = np.random.default_rng(0).uniform(*value_range, (2, *input_shape)).astype("float32")
    try:
        shapes = {mode: tuple(keras.ops.shape(layer(images, training=mode))) for mode in (True, False)}
    except Exception as error:  # Keras's or TensorFlow's, of any type: its words say what failed.
        channels = input_shape[-1]
        raise BuilderArgumentError(
            where, f"keras.layers.{type(layer).__name__} fails on images of shape {tuple(input_shape)} "
                   f"({channels} channel{'s' if channels != 1 else ''}): {keras_said(error)}") from None
    if shapes[True] != images.shape or shapes[False] != images.shape:
        raise BuilderArgumentError(
            where, f"keras.layers.{type(layer).__name__} makes {shapes[True][1:]} images in training and "
                   f"{shapes[False][1:]} otherwise, from {tuple(input_shape)}: the model needs one size. To crop "
                   "at random and keep the size, use random_zoom (or random_translation).")

