"""ResNet-18 and ResNet-34 (He et al., 2015): stages of basic blocks, the
course notes' ``BasicBlock`` x [2, 2, 2, 2]."""

from __future__ import annotations

from typing import Optional, Sequence

import keras
from keras import layers

from kerasdl.builders import augmentations, options
from kerasdl.builders.blocks import residual_block
from kerasdl.errors import BuilderArgumentError
from kerasdl.registry import register_builder

# Basic blocks per stage of each depth (the paper's table 1).
DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
# The ImageNet stem (a 7x7 convolution of stride 2 and a 3x3 max pool of
# stride 2) divides the image by 4 before the first stage; below this size
# the stem of the paper's CIFAR models (one 3x3 convolution) keeps it.
IMAGENET_STEM_FROM = 128


@register_builder("resnet")
def build_resnet(
    input_shape: Sequence[int],
    num_classes: int,
    depth: int = 18,
    blocks_per_stage: Optional[Sequence[int]] = None,
    filters: Sequence[int] = (64, 128, 256, 512),
    stem: str = "auto",
    batch_norm_momentum: float = options.BATCH_NORM_MOMENTUM,
    dropout_rate: float = 0.0,
    kernel_initializer: options.NamedSpec = "he_normal",
    l1: float = 0.0,
    l2: float = 0.0,
    random_flip: Optional[str] = None,
    random_rotation: float = 0.0,
    random_zoom: float = 0.0,
    random_translation: float = 0.0,
    random_contrast: float = 0.0,
    augmentation: Optional[Sequence[augmentations.LayerSpec]] = None,
    rescale: Optional[float] = 1.0 / 255,
    output_activation: str = "softmax",
) -> keras.Model:
    """Builds an uncompiled ResNet-18 or ResNet-34 image classifier.

    A stem, then one stage per entry of ``filters``, each of
    ``blocks_per_stage`` basic blocks (two 3x3 convolutions with batch norm
    and a shortcut; the first block of every stage after the first halves
    the size, with a 1x1 projection shortcut), global average pooling and
    the output layer.

    Args:
        input_shape: Shape of one image, ``(height, width, channels)``.
        num_classes: Number of output units.
        depth: 18 (blocks [2, 2, 2, 2]) or 34 ([3, 4, 6, 3]).
        blocks_per_stage: Basic blocks of each stage, overriding ``depth``'s.
        filters: Filters of each stage; the paper's 64, 128, 256, 512
            (a quarter, 16 to 128, costs a sixteenth).
        stem: ``"imagenet"`` (7x7 convolution of stride 2, 3x3 max pool of
            stride 2), ``"small"`` (one 3x3 convolution, as the paper's
            CIFAR models) or ``"auto"``: imagenet for images of 128 pixels
            and more on their shorter side, else small.
        batch_norm_momentum: Weight of the old moving mean and variance at
            each batch (see ``build_cnn``).
        dropout_rate: Dropout before the output layer.
        kernel_initializer: Initializer name, or a mapping with ``name`` and
            its arguments.
        l1: L1 penalty factor on convolution and dense kernels.
        l2: L2 penalty factor on convolution and dense kernels.
        random_flip, random_rotation, random_zoom, random_translation, random_contrast: Augmentation,
            as in ``build_cnn``.
        augmentation: More augmentation, as in ``build_cnn``: Keras 3 image
            augmentation layers by name with their own arguments
            ([Augmentation layers](#augmentation-layers)); in training only.
        rescale: Factor applied to raw inputs inside the model (1/255 maps
            pixels to [0, 1]); None to feed inputs unchanged.
        output_activation: Activation of the output layer.

    Returns:
        A functional ``keras.Model`` named ``"resnet18"`` (or the depth's
        name; ``"resnet"`` for blocks of one's own).

    Raises:
        BuilderArgumentError: if an argument is out of range or unknown.

    Example:

    >>> model = build_resnet((28, 28, 1), num_classes=10, filters=(8, 16, 32, 64))
    >>> model.name, model.output_shape
    ('resnet18', (None, 10))
    """
    options.check_positive("num_classes", num_classes)
    options.check_positive("filters", list(filters))
    options.check_choice("stem", stem, ("auto", "imagenet", "small"))
    options.check_rate("dropout_rate", dropout_rate)
    options.check_momentum("batch_norm_momentum", batch_norm_momentum)
    if blocks_per_stage is None:
        options.check_choice("depth", depth, tuple(DEPTHS))
        blocks_per_stage = DEPTHS[depth]
    options.check_positive("blocks_per_stage", list(blocks_per_stage))
    if len(blocks_per_stage) != len(filters):
        raise BuilderArgumentError(
            "filters", "ResNet has one entry of filters per stage, as many as blocks_per_stage has. "
            f"Received: filters={list(filters)}, blocks_per_stage={list(blocks_per_stage)}",
        )
    if len(input_shape) != 3:
        raise BuilderArgumentError(
            "input_shape", "ResNet takes images of shape (height, width, channels). "
            f"Received: input_shape={tuple(input_shape)}",
        )
    act = options.activation_function("activation", "relu")
    regularizer = options.regularizer(l1, l2)
    initializer = options.initializer("kernel_initializer", kernel_initializer)
    augment = options.augmentation(
        random_flip, random_rotation, random_zoom, random_translation, random_contrast
    ) + augmentations.build(augmentation, input_shape, (0.0, 255.0 * (rescale or 1.0)))
    conv_options = dict(kernel_size=3, padding="same", use_bias=False, kernel_initializer=initializer,
                        kernel_regularizer=regularizer)

    inputs = keras.Input(shape=tuple(input_shape), name="inputs")
    x = layers.Rescaling(rescale, name="rescale")(inputs) if rescale is not None else inputs
    for layer in augment:
        x = layer(x)
    large = stem == "imagenet" or (stem == "auto" and min(input_shape[:2]) >= IMAGENET_STEM_FROM)
    x = layers.Conv2D(filters[0], 7 if large else 3, strides=2 if large else 1, name="stem_conv",
                      **{key: value for key, value in conv_options.items() if key != "kernel_size"})(x)
    x = options.batch_normalization(batch_norm_momentum, "stem_bn")(x)
    x = layers.Activation(act, name="stem_act")(x)
    if large:
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    for stage, (width, blocks) in enumerate(zip(filters, blocks_per_stage)):
        for block in range(blocks):
            strides = 2 if stage > 0 and block == 0 else 1
            x = residual_block(x, width, strides, batch_norm_momentum, act, conv_options,
                               f"stage{stage + 1}_block{block + 1}")
    x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    if dropout_rate:
        x = layers.Dropout(dropout_rate)(x)
    outputs = options.predictions(num_classes, output_activation)(x)
    named = {value: key for key, value in DEPTHS.items()}.get(tuple(blocks_per_stage))
    return keras.Model(inputs, outputs, name=f"resnet{named}" if named else "resnet")
