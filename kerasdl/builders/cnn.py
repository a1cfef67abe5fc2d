"""CNN family: convolution blocks with batch norm, optionally residual."""

from __future__ import annotations

from typing import Optional, Sequence

import keras
from keras import layers

from kerasdl.builders import augmentations, options
from kerasdl.builders.blocks import plain_block, residual_block
from kerasdl.errors import BuilderArgumentError
from kerasdl.models.test_time import FlipAveraged
from kerasdl.registry import register_builder


def _check_size(
    input_shape: Sequence[int], blocks: int, kernel_size: int, strides: int, padding: str,
    convs: int, pool_size: Optional[int], pool_last_block: bool,
) -> None:
    """Raises a clear error when the blocks shrink the image to nothing
    (Keras would fail deep inside a layer)."""
    size = min(input_shape[:2])
    for block in range(blocks):
        for conv in range(convs):
            stride = strides if conv == 0 else 1
            size = (size - kernel_size) // stride + 1 if padding == "valid" else -(-size // stride)
        if pool_size and (pool_last_block or block < blocks - 1):
            size //= pool_size
        if size < 1:
            raise BuilderArgumentError(
                "filters",
                f"{blocks} blocks shrink a {input_shape[0]}x{input_shape[1]} image to nothing by block "
                f"{block + 1}: use fewer blocks, padding 'same', or a smaller pool_size or strides. "
                f"Received: {blocks} filters, padding={padding!r}, convs_per_block={convs}",
            )


@register_builder("cnn")
def build_cnn(
    input_shape: Sequence[int],
    num_classes: int,
    filters: Sequence[int] = (32, 64),
    kernel_size: int = 3,
    strides: int = 1,
    padding: str = "same",
    convs_per_block: int = 2,
    residual: bool = False,
    batch_norm: bool = True,
    batch_norm_momentum: float = options.BATCH_NORM_MOMENTUM,
    pooling: Optional[str] = "max",
    pool_size: int = 2,
    pool_last_block: bool = True,
    head: str = "flatten",
    dense_units: Sequence[int] = (),
    dropout_rate: float = 0.3,
    activation: str = "relu",
    kernel_initializer: options.NamedSpec = "he_normal",
    l1: float = 0.0,
    l2: float = 0.0,
    random_flip: Optional[str] = None,
    random_rotation: float = 0.0,
    random_zoom: float = 0.0,
    random_translation: float = 0.0,
    random_contrast: float = 0.0,
    augmentation: Optional[Sequence[augmentations.LayerSpec]] = None,
    test_time_flip: bool = False,
    rescale: Optional[float] = 1.0 / 255,
    output_activation: str = "softmax",
) -> keras.Model:
    """Builds an uncompiled convolutional image classifier.

    The network is a stack of blocks, one per entry of ``filters``. A plain
    block is ``convs_per_block`` convolutions, each followed by batch norm
    and the activation; a residual block is a ResNet basic block with a
    projection shortcut when its shape changes. Each block ends in pooling
    (unless ``pooling`` is None, when ``strides`` does the downsampling).

    Args:
        input_shape: Shape of one image, ``(height, width, channels)``.
        num_classes: Number of output units.
        filters: Filters of each block, first to last.
        kernel_size: Convolution window size.
        strides: Stride of the first convolution of each block.
        padding: ``"same"`` or ``"valid"`` (each convolution then trims
            ``kernel_size - 1`` pixels: fewer multiply-adds, a smaller map).
        convs_per_block: Convolutions in a plain block (residual blocks have two).
        residual: Use ResNet basic blocks instead of plain ones.
        batch_norm: Batch normalization after each convolution.
        batch_norm_momentum: Weight of the old moving mean and variance at
            each batch (what the model uses at inference); Keras's 0.99
            lags far behind the weights in a short run.
        pooling: ``"max"``, ``"avg"`` or None, applied after each block.
        pool_size: Pooling window and stride.
        pool_last_block: Pool after the last block too; off keeps its
            positions for a ``"flatten"`` head.
        head: ``"flatten"`` (keeps where each feature is) or
            ``"global_average"`` (global average pooling). Flatten trains
            faster: in a plain TensorFlow loop of 2 epochs on 10,000 MNIST
            images the defaults score 0.968 with it and 0.874 with global
            pooling (seed 1; bench/custom_loop.py).
        dense_units: Widths of hidden dense layers between head and output.
        dropout_rate: Dropout before each dense layer of the head.
        activation: Name of the hidden activation.
        kernel_initializer: Initializer name, or a mapping with ``name`` and
            its arguments.
        l1: L1 penalty factor on convolution and dense kernels.
        l2: L2 penalty factor on convolution and dense kernels.
        random_flip: Augmentation: ``"horizontal"``, ``"vertical"``,
            ``"horizontal_and_vertical"`` or None.
        random_rotation: Augmentation: rotation range, a fraction of a full turn.
        random_zoom: Augmentation: zoom range, a fraction of the image size.
        random_translation: Augmentation: shift range, a fraction of the size.
        random_contrast: Augmentation: contrast factor range.
        augmentation: More augmentation, after the ``random_*`` layers: Keras 3
            image augmentation layers in the order they run, each a name or a
            mapping of its name and the layer's own arguments, e.g.
            ``[{name: random_color_jitter, brightness_factor: 0.2}, {name:
            gaussian_noise, stddev: 0.05}]``; in training only. The layers
            and their arguments: [Augmentation layers](#augmentation-layers).
        test_time_flip: At inference, average the predictions on the image
            and on its mirror image (``kerasdl.models.test_time``); needs
            training with ``random_flip`` horizontal. Costs nothing in
            training and doubles the cost of a prediction.
        rescale: Factor applied to raw inputs inside the model (1/255 maps
            pixels to [0, 1]); None to feed inputs unchanged.
        output_activation: Activation of the output layer.

    Returns:
        A functional ``keras.Model`` named ``"cnn"``. Augmentation layers are
        part of it and are active only when called with ``training=True``.
        With ``test_time_flip`` the network is a ``FlipAveraged`` layer of
        the model (``kerasdl.models.test_time.unwrapped`` returns it).

    Raises:
        BuilderArgumentError: if an argument is out of range or unknown.

    Example:

    >>> model = build_cnn((28, 28, 1), num_classes=10, filters=(8, 16))
    >>> model.output_shape
    (None, 10)
    """
    options.check_positive("filters", list(filters))
    options.check_positive("kernel_size", kernel_size)
    options.check_positive("strides", strides)
    options.check_positive("convs_per_block", convs_per_block)
    options.check_positive("pool_size", pool_size)
    options.check_positive("num_classes", num_classes)
    if dense_units:
        options.check_positive("dense_units", list(dense_units))
    options.check_choice("padding", padding, ("same", "valid"))
    options.check_choice("pooling", pooling, ("max", "avg", None))
    options.check_choice("head", head, ("global_average", "flatten"))
    options.check_rate("dropout_rate", dropout_rate)
    options.check_momentum("batch_norm_momentum", batch_norm_momentum)
    if len(input_shape) != 3:
        raise BuilderArgumentError(
            "input_shape",
            "The CNN takes images of shape (height, width, channels); reshape "
            "flat features with the data section's `feature_shape`. "
            f"Received: input_shape={tuple(input_shape)}",
        )
    if test_time_flip and "horizontal" not in (random_flip or ""):
        raise BuilderArgumentError(
            "test_time_flip",
            "Test-time flips average the predictions on an image and its mirror image, which the model "
            "must have seen in training: set random_flip to 'horizontal' too (for images whose mirror "
            f"is as likely as themselves). Received: test_time_flip=True, random_flip={random_flip!r}",
        )
    if residual and padding != "same":
        raise BuilderArgumentError(
            "padding",
            "Residual blocks add a block's input to its output, so their convolutions "
            f"keep the size: use padding 'same'. Received: padding={padding!r}",
        )
    _check_size(input_shape, len(filters), kernel_size, strides, padding,
                2 if residual else convs_per_block, pooling and pool_size, pool_last_block)
    act = options.activation_function("activation", activation)
    regularizer = options.regularizer(l1, l2)
    augment = options.augmentation(
        random_flip, random_rotation, random_zoom, random_translation, random_contrast
    ) + augmentations.build(augmentation, input_shape, (0.0, 255.0 * (rescale or 1.0)))
    conv_options = dict(
        kernel_size=kernel_size,
        padding=padding,
        use_bias=not batch_norm,
        kernel_initializer=options.initializer("kernel_initializer", kernel_initializer),
        kernel_regularizer=regularizer,
    )

    inputs = keras.Input(shape=tuple(input_shape), name="inputs")
    x = layers.Rescaling(rescale, name="rescale")(inputs) if rescale is not None else inputs
    for layer in augment:
        x = layer(x)
    momentum = batch_norm_momentum if batch_norm else None
    for index, width in enumerate(filters):
        name = f"block{index + 1}"
        if residual:
            x = residual_block(x, width, strides, momentum, act, conv_options, name)
        else:
            x = plain_block(x, width, strides, convs_per_block, momentum, act, conv_options, name)
        pooled = pool_last_block or index < len(filters) - 1
        if pooled and pooling == "max":
            x = layers.MaxPooling2D(pool_size, name=f"{name}_pool")(x)
        elif pooled and pooling == "avg":
            x = layers.AveragePooling2D(pool_size, name=f"{name}_pool")(x)

    if head == "global_average":
        x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    else:
        x = layers.Flatten(name="flatten")(x)
    for index, width in enumerate(dense_units):
        if dropout_rate:
            x = layers.Dropout(dropout_rate)(x)
        x = layers.Dense(
            width,
            activation=act,
            kernel_initializer=conv_options["kernel_initializer"],
            kernel_regularizer=regularizer,
            name=f"dense{index + 1}",
        )(x)
    if dropout_rate:
        x = layers.Dropout(dropout_rate)(x)
    outputs = options.predictions(num_classes, output_activation)(x)
    if not test_time_flip:
        return keras.Model(inputs, outputs, name="cnn")
    network = keras.Model(inputs, outputs, name="cnn_network")
    images = keras.Input(shape=tuple(input_shape), name="inputs")
    return keras.Model(images, FlipAveraged(network, name="test_time_flip")(images), name="cnn")
