"""Transfer learning: a trained backbone, a new head for the data's classes.

The backbone is a model kerasdl trained (a run folder, an export or a
``.keras`` file), cut below its classification head, or a
``keras.applications`` architecture (any of them) with ``weights``
``imagenet`` (online), a local weights file, or none: then it trains from
scratch on the data's image size (at least Keras's minimum). Its layers are frozen by name, index or
fraction; batch-norm layers are always frozen, which in Keras 3 also runs
them in inference mode, as Keras's transfer-learning guide advises. A
second phase (the recipe's ``fine_tune`` section) later unfreezes the top.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import keras
from keras import layers

from kerasdl.builders import augmentations, options
from kerasdl.errors import BuilderArgumentError, KerasdlError
from kerasdl.models import test_time
from kerasdl.models.heads import TwoClassProbabilities
from kerasdl.models.preprocessing import APPLICATIONS, ApplicationPreprocessing
from kerasdl.registry import register_builder

BACKBONE = "backbone"
# The smallest input side keras.applications build (its imagenet_utils'
# min_size): 32, but for these.
SMALLEST_INPUT = 32
SMALLEST_INPUTS = {"InceptionV3": 75, "InceptionResNetV2": 75, "Xception": 71}
Selection = Union[bool, float, int, Sequence[str]]


def select_layers(candidates: Sequence[Any], selection: Selection, from_top: bool) -> list[Any]:
    """The layers a selection names: true (all), false (none), a fraction
    or a count of the layers (from the bottom, or from the top with
    ``from_top``), or a list of names and patterns (``block3_*``).

    Raises:
        ValueError: for a fraction outside [0, 1], a negative count, or a
            name that matches no layer.
    """
    candidates = list(candidates)
    if isinstance(selection, bool):
        return candidates if selection else []
    if isinstance(selection, (int, float)):
        if isinstance(selection, float):
            if not 0.0 <= selection <= 1.0:
                raise ValueError(f"a fraction of the layers is in [0, 1]. Received: {selection}")
            count = round(selection * len(candidates))
        else:
            if selection < 0:
                raise ValueError(f"a count of layers is >= 0. Received: {selection}")
            count = min(selection, len(candidates))
        if count == 0:
            return []
        return candidates[-count:] if from_top else candidates[:count]
    if isinstance(selection, (list, tuple)) and all(isinstance(name, str) for name in selection):
        chosen = []
        for pattern in selection:
            matched = [layer for layer in candidates if fnmatch.fnmatchcase(layer.name, pattern)]
            if not matched:
                names = ", ".join(layer.name for layer in candidates[:12])
                raise ValueError(f"no backbone layer is named {pattern!r}. Its layers: {names}, ...")
            chosen += [layer for layer in matched if layer not in chosen]
        return chosen
    raise ValueError(
        "expected true, false, a fraction (0.8), a count (20) or a list of layer names. "
        f"Received: {selection!r}"
    )


def _kerasdl_backbone(path: str, feature_layer: Optional[str]) -> keras.Model:
    """A model kerasdl trained, cut below its head: up to ``feature_layer``,
    by default the last layer before the output that is not dropout. Its
    layers are reused (the weights are shared), but its augmentation layers
    are replaced by identities."""
    from kerasdl.artifacts import trained

    try:
        # A test-time-flip model's own network (its wrapper has no layers to cut).
        model = test_time.unwrapped(trained.locate(path).keras_model())
    except KerasdlError as error:
        raise BuilderArgumentError("backbone", str(error)) from None
    if feature_layer is not None:
        try:
            features = model.get_layer(feature_layer).output
        except ValueError:
            names = ", ".join(layer.name for layer in model.layers)
            raise BuilderArgumentError(
                "feature_layer", f"{path} has no layer {feature_layer!r}. Its layers: {names}"
            ) from None
    else:
        head = 2 if isinstance(model.layers[-1], TwoClassProbabilities) else 1  # A sigmoid head is two layers.
        below = [layer for layer in model.layers[1:-head] if not isinstance(layer, layers.Dropout)]
        if not below:
            raise BuilderArgumentError("backbone", f"{path}: the model has no layers below its output to reuse.")
        features = below[-1].output
    cut = keras.Model(model.inputs, features, name=BACKBONE)
    # The old recipe's augmentation suited the old data (a flip that helps
    # garments hurts shoes, which all face one way): the new recipe brings its own.
    return keras.models.clone_model(
        cut, clone_function=lambda layer: (
            layers.Identity(name=layer.name) if isinstance(layer, augmentations.AUGMENTATION_LAYERS) else layer
        ),
    )


def _application_backbone(name: str, weights: Optional[str], size: Sequence[int]) -> keras.Model:
    """A keras.applications architecture without its top, average-pooled."""
    if weights not in (None, "imagenet") and not Path(weights).is_file():
        raise BuilderArgumentError(
            "weights", f"{weights}: no such weights file. Give imagenet (downloads, needs the internet), "
            "a local file of the architecture's no-top weights, or null for random weights."
        )
    build = getattr(keras.applications, name)
    shape = (int(size[0]), int(size[1]), 3)
    try:
        backbone = build(include_top=False, weights="imagenet" if weights == "imagenet" else None,
                         input_shape=shape, pooling="avg")
    except Exception as error:  # A failed download is an URLError, OSError or Exception.
        if weights == "imagenet":
            raise BuilderArgumentError(
                "weights", f"the ImageNet weights of {name} could not be downloaded ({error}); this needs "
                "the internet. Download them once elsewhere and give the file's path, or use weights: null."
            ) from None
        raise BuilderArgumentError("backbone", f"{name} cannot be built for inputs {shape}: {error}") from None
    if weights not in (None, "imagenet"):
        try:
            backbone.load_weights(weights)
        except Exception as error:  # Keras raises ValueError, OSError, KeyError for a wrong file.
            raise BuilderArgumentError(
                "weights", f"{weights} does not fit {name} without its top ({error})."
            ) from None
    return keras.Model(backbone.inputs, backbone.output, name=BACKBONE)


def _adapt(x: Any, source: Sequence[int], target: Sequence[Optional[int]]) -> Any:
    """Resizes and converts channels from the data's image shape to the
    backbone's input shape.

    Raises:
        BuilderArgumentError: when the shapes cannot be matched.
    """
    if len(source) != 3 or len(target) != 3:
        raise BuilderArgumentError(
            "backbone", f"the data's examples of shape {tuple(source)} cannot feed a backbone that takes "
            f"{tuple(target)}: transfer learning here adapts images (height, width, channels) only."
        )
    height, width, channels = source
    wanted_height, wanted_width, wanted_channels = target
    if (wanted_height, wanted_width) != (height, width) and None not in (wanted_height, wanted_width):
        x = layers.Resizing(int(wanted_height), int(wanted_width), name="resize_to_backbone")(x)
    if wanted_channels == channels:
        return x
    if channels == 1 and wanted_channels == 3:
        return layers.Concatenate(name="grey_to_rgb")([x, x, x])
    if channels == 3 and wanted_channels == 1:
        grey = layers.Dense(1, use_bias=False, trainable=False, name="rgb_to_grey")
        x = grey(x)
        grey.set_weights([keras.ops.convert_to_numpy(keras.ops.reshape(
            keras.ops.convert_to_tensor([0.299, 0.587, 0.114]), (3, 1)))])
        return x
    raise BuilderArgumentError(
        "backbone", f"the data's images have {channels} channels and the backbone takes {wanted_channels}; "
        "kerasdl converts grey to RGB and RGB to grey only."
    )


@register_builder("transfer")
def build_transfer(
    input_shape: Sequence[int],
    num_classes: int,
    backbone: str,
    weights: Optional[str] = None,
    input_size: Optional[Sequence[int]] = None,
    feature_layer: Optional[str] = None,
    freeze: Optional[Selection] = None,
    dense_units: Sequence[int] = (),
    dropout_rate: float = 0.2,
    activation: str = "relu",
    random_flip: Optional[str] = None,
    random_rotation: float = 0.0,
    random_zoom: float = 0.0,
    random_translation: float = 0.0,
    random_contrast: float = 0.0,
    augmentation: Optional[Sequence[augmentations.LayerSpec]] = None,
    output_activation: str = "softmax",
) -> keras.Model:
    """Builds an uncompiled classifier on a trained backbone (see the module).

    Args:
        input_shape: Shape of one image, ``(height, width, channels)``.
        num_classes: Classes of the new head.
        backbone: A kerasdl model (run folder, ``saved_models/<name>[/<version>]``
            or ``.keras`` file) or a ``keras.applications`` name
            (``MobileNetV2``, ``ResNet50``, ``EfficientNetB0``, ...).
        weights: For an application: ``imagenet`` (downloads), a local
            weights file of the architecture without its top, or None.
        input_size: For an application: ``[height, width]`` its input is
            resized to (default: the data's, at least Keras's minimum for the
            architecture: 32, 71 for Xception, 75 for the Inceptions).
        feature_layer: For a kerasdl backbone: the layer whose output the
            new head reads (default: the last one below the old head).
        freeze: Backbone layers frozen in the first phase: true (all),
            false, a fraction or a count from the bottom, or layer names
            and patterns. Default: true for trained weights (a kerasdl
            backbone, ``imagenet``, a weights file), false for ``weights:
            null``, which trains the architecture from scratch.
        dense_units: Hidden dense layers of the new head.
        dropout_rate: Dropout before each dense layer of the head.
        activation: The head's hidden activation.
        random_flip, random_rotation, random_zoom, random_translation, random_contrast: Augmentation of
            the new data, as in ``build_cnn``; a kerasdl backbone's own augmentation is dropped.
        augmentation: More augmentation, after the ``random_*`` layers, on the raw pixels: Keras 3
            image augmentation layers in the order they run, each a name or a
            mapping of its name and the layer's own arguments, e.g.
            ``[{name: random_color_jitter, brightness_factor: 0.2}, {name:
            gaussian_noise, stddev: 0.05}]``; in training only. The layers
            and their arguments: [Augmentation layers](#augmentation-layers).
        output_activation: Activation of the output layer.

    Returns:
        A functional ``keras.Model`` named ``"transfer"``; the backbone is
        its nested model ``"backbone"``.

    Raises:
        BuilderArgumentError: a backbone that is missing or not a model,
            weights that do not fit, an input that cannot be adapted.

    Example:

    >>> model = build_transfer((28, 28, 1), 5, backbone="MobileNetV2", input_size=(32, 32))
    >>> model.output_shape
    (None, 5)
    """
    options.check_positive("num_classes", num_classes)
    options.check_rate("dropout_rate", dropout_rate)
    if dense_units:
        options.check_positive("dense_units", list(dense_units))
    act = options.activation_function("activation", activation)
    augment = options.augmentation(random_flip, random_rotation, random_zoom, random_translation, random_contrast)
    augment += augmentations.build(augmentation, input_shape, (0.0, 255.0))
    if backbone in APPLICATIONS:
        smallest = SMALLEST_INPUTS.get(backbone, SMALLEST_INPUT)
        size = tuple(input_size) if input_size else tuple(max(smallest, int(side)) for side in input_shape[:2])
        if len(size) != 2 or min(size) < smallest:
            raise BuilderArgumentError(
                "input_size", f"{backbone} takes inputs of at least {smallest}x{smallest} pixels (Keras's minimum "
                f"for it): give [height, width], each >= {smallest}, or leave it out. Received: input_size="
                f"{list(input_size) if input_size else None}")
        base = _application_backbone(backbone, weights, size)
    elif Path(backbone).suffix == "" and not Path(backbone).exists() and "/" not in backbone:
        close = ", ".join(sorted(APPLICATIONS))
        raise BuilderArgumentError(
            "backbone", f"{backbone!r} is neither a keras.applications name ({close}) nor an existing path."
        )
    else:
        if weights is not None or input_size is not None:
            raise BuilderArgumentError(
                "weights" if weights is not None else "input_size",
                "weights and input_size are for keras.applications backbones; a kerasdl backbone comes "
                "with its weights and input size.",
            )
        base = _kerasdl_backbone(backbone, feature_layer)
    if freeze is None:  # Random weights are trained, not kept.
        freeze = not (backbone in APPLICATIONS and weights is None)
    try:
        frozen = select_layers(base.layers[1:], freeze, from_top=False)
    except ValueError as error:
        raise BuilderArgumentError("freeze", str(error)) from None
    for layer in base.layers:
        layer.trainable = layer not in frozen and not isinstance(layer, layers.BatchNormalization)

    inputs = keras.Input(shape=tuple(input_shape), name="inputs")
    x = inputs
    for layer in augment:
        x = layer(x)
    x = _adapt(x, tuple(input_shape), tuple(base.input_shape[1:]))
    if backbone in APPLICATIONS:
        x = ApplicationPreprocessing(backbone, name="preprocess")(x)
    x = base(x)
    if len(x.shape) == 4:
        x = layers.GlobalAveragePooling2D(name="head_pool")(x)
    elif len(x.shape) != 2:
        x = layers.Flatten(name="head_flatten")(x)
    for index, width in enumerate(dense_units):
        if dropout_rate:
            x = layers.Dropout(dropout_rate)(x)
        x = layers.Dense(width, activation=act, name=f"head_dense{index + 1}")(x)
    if dropout_rate:
        x = layers.Dropout(dropout_rate)(x)
    outputs = options.predictions(num_classes, output_activation)(x)
    return keras.Model(inputs, outputs, name="transfer")
