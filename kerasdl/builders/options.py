"""Turns recipe-friendly option values into Keras objects.

Builders accept plain names (``"he_normal"``) or a name plus arguments
(``{"name": "truncated_normal", "stddev": 0.05}``) so that a YAML recipe can
say everything a Python user could.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Union

import keras

from kerasdl.errors import BuilderArgumentError
from kerasdl.models.fused import FusedBatchNormalization
from kerasdl.models.heads import TwoClassProbabilities

# A name, or a mapping with "name" and the object's constructor arguments.
NamedSpec = Union[str, Mapping[str, Any]]
# Batch norm's momentum in the classifiers' builders (cnn, dense). Keras's
# 0.99 makes the moving statistics (what the model uses at inference) lag
# far behind the weights in a short run: build_cnn((28, 28, 1), 10) with its
# other defaults, 2 epochs of 10,000 MNIST images at batch 128 (156 steps),
# validated on the 10,000 test images, scored 0.50 and 0.27 (seeds 1, 2)
# with 0.99 against 0.93 and 0.92 with 0.9, at the same training accuracy (0.78).
BATCH_NORM_MOMENTUM = 0.9
FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


def split_spec(
    argument: str, spec: NamedSpec, example: str = "{name: truncated_normal, stddev: 0.05}"
) -> tuple[str, dict[str, Any]]:
    """A name, or a mapping of a name and arguments: ``(name, arguments)``."""
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
        options = dict(spec)
        return options.pop("name"), options
    raise BuilderArgumentError(
        argument,
        f"`{argument}` must be a name or a mapping with a 'name' key and the "
        f"constructor's arguments, e.g. {example}. "
        f"Received: {argument}={spec!r}",
    )


def activation_function(argument: str, name: str) -> Any:
    """Returns the Keras activation function called ``name``.

    Every function in ``keras.activations`` is accepted (relu, leaky_relu,
    elu, selu, gelu, swish/silu, sigmoid, tanh, softmax, ...).
    """
    try:
        return keras.activations.get(name)
    except (ValueError, TypeError) as error:
        known = sorted(
            key
            for key, value in vars(keras.activations).items()
            if callable(value) and not key.startswith("_")
            and key not in ("get", "serialize", "deserialize")
        )
        raise BuilderArgumentError(
            argument,
            f"Unknown activation for `{argument}`. Expected one of: "
            f"{', '.join(known)}. Received: {argument}={name!r}",
        ) from error


def initializer(argument: str, spec: NamedSpec) -> keras.initializers.Initializer:
    """Returns a Keras initializer from a name or a name with arguments."""
    name, options = split_spec(argument, spec)
    try:
        base = keras.initializers.get(name)
        return type(base)(**options) if options else base
    except (ValueError, TypeError) as error:
        raise BuilderArgumentError(
            argument,
            f"Cannot make initializer `{argument}`: {error}. Use a name from "
            f"keras.initializers (he_normal, glorot_uniform, truncated_normal, "
            f"...) and that initializer's arguments. Received: {argument}={spec!r}",
        ) from error


def regularizer(l1: float, l2: float) -> keras.regularizers.Regularizer | None:
    """Returns an L1/L2 weight penalty, or None when both factors are zero."""
    for argument, value in (("l1", l1), ("l2", l2)):
        if value < 0:
            raise BuilderArgumentError(
                argument,
                f"`{argument}` is a penalty factor and must be >= 0. "
                f"Received: {argument}={value}",
            )
    if not l1 and not l2:
        return None
    return keras.regularizers.L1L2(l1=l1, l2=l2)


def predictions(num_classes: int, activation: str) -> Callable[[Any], Any]:
    """The output layer every classifier ends in, as a function of its input.

    It computes in float32 even under a mixed-precision policy, which keeps
    the softmax and the loss numerically stable. A ``sigmoid`` on two
    classes is one unit, the probability of class 1, answered as ``[1 - p,
    p]`` (``models.heads.TwoClassProbabilities``).
    """
    if activation == "sigmoid" and num_classes == 2:
        unit = keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="sigmoid")
        return lambda x: TwoClassProbabilities(dtype="float32", name="predictions")(unit(x))
    return keras.layers.Dense(
        num_classes,
        activation=activation_function("output_activation", activation),
        dtype="float32",
        name="predictions",
    )


def batch_normalization(momentum: float, name: Optional[str] = None) -> keras.layers.BatchNormalization:
    """A batch-norm layer whose moving statistics (those used at inference)
    follow the last batches with ``momentum``: see ``BATCH_NORM_MOMENTUM``.

    Keras's layer with TensorFlow's fused kernel in training
    (``models.fused``): the same answers, and an epoch of cnn.yaml's and
    cnn_bn.yaml's networks in 0.67 and 0.50 of the time with Keras's own
    (medians of 7, bench/batch_norm.py)."""
    return FusedBatchNormalization(momentum=momentum, name=name)


def check_momentum(argument: str, value: float) -> None:
    """Checks that a moving-average momentum lies in [0, 1)."""
    _check_fraction(argument, value, "the weight of the old moving statistics at each batch",
                    " (lower follows the weights faster)")


def check_rate(argument: str, value: float) -> None:
    """Checks that a dropout-like rate lies in [0, 1)."""
    _check_fraction(argument, value, "a fraction of units to drop")


def _check_fraction(argument: str, value: float, meaning: str, hint: str = "") -> None:
    if not 0.0 <= value < 1.0:
        raise BuilderArgumentError(
            argument, f"`{argument}` is {meaning} and must be in [0, 1){hint}. Received: {argument}={value}",
        )


def check_positive(argument: str, values: Any) -> None:
    """Checks that an int or every int in a sequence is >= 1."""
    items = values if isinstance(values, (list, tuple)) else [values]
    if not items or any(int(item) < 1 for item in items):
        raise BuilderArgumentError(
            argument,
            f"`{argument}` must be a positive integer or a non-empty list of "
            f"them. Received: {argument}={values!r}",
        )


def check_choice(argument: str, value: Any, choices: tuple) -> None:
    """Checks that ``value`` is one of ``choices``."""
    if value not in choices:
        raise BuilderArgumentError(
            argument,
            f"`{argument}` must be one of {', '.join(map(repr, choices))}. "
            f"Received: {argument}={value!r}",
        )



def augmentation(
    random_flip: Optional[str],
    random_rotation: float,
    random_zoom: float,
    random_translation: float,
    random_contrast: float,
) -> list[keras.layers.Layer]:
    """The augmentation layers asked for, in a fixed order; Keras runs them
    only in training (``training=True``, which ``fit`` passes)."""
    if random_flip is not None:
        check_choice("random_flip", random_flip, FLIP_MODES)
    for argument, value in (
        ("random_rotation", random_rotation),
        ("random_zoom", random_zoom),
        ("random_translation", random_translation),
        ("random_contrast", random_contrast),
    ):
        check_rate(argument, value)
    augment = []
    if random_flip:
        augment.append(keras.layers.RandomFlip(random_flip))
    if random_rotation:
        augment.append(keras.layers.RandomRotation(random_rotation, fill_mode="constant"))
    if random_zoom:
        augment.append(keras.layers.RandomZoom(random_zoom, fill_mode="constant"))
    if random_translation:
        augment.append(
            keras.layers.RandomTranslation(random_translation, random_translation, fill_mode="constant")
        )
    if random_contrast:
        augment.append(keras.layers.RandomContrast(random_contrast))
    return augment
