"""The convolution blocks the image builders stack: plain blocks
(``cnn``) and ResNet basic blocks (``cnn`` with ``residual``, ``resnet``)."""

from __future__ import annotations

from typing import Any, Optional

from keras import layers

from kerasdl.builders import options


def conv(x: Any, filters: int, strides: int, conv_options: dict, name: str) -> Any:
    return layers.Conv2D(filters, strides=strides, name=name, **conv_options)(x)


def plain_block(
    x: Any, filters: int, strides: int, convs: int, momentum: Optional[float],
    act: Any, conv_options: dict, name: str,
) -> Any:
    """``convs`` convolutions, each with batch norm of ``momentum`` (None: no batch norm)."""
    for index in range(convs):
        x = conv(x, filters, strides if index == 0 else 1, conv_options, f"{name}_conv{index + 1}")
        if momentum is not None:
            x = options.batch_normalization(momentum, f"{name}_bn{index + 1}")(x)
        x = layers.Activation(act, name=f"{name}_act{index + 1}")(x)
    return x


def residual_block(
    x: Any, filters: int, strides: int, momentum: Optional[float],
    act: Any, conv_options: dict, name: str,
) -> Any:
    """ResNet basic block: two convolutions plus a shortcut (He et al., 2015),
    with batch norm of ``momentum`` (None: no batch norm)."""
    shortcut = x
    x = conv(x, filters, strides, conv_options, f"{name}_conv1")
    if momentum is not None:
        x = options.batch_normalization(momentum, f"{name}_bn1")(x)
    x = layers.Activation(act, name=f"{name}_act1")(x)
    x = conv(x, filters, 1, conv_options, f"{name}_conv2")
    if momentum is not None:
        x = options.batch_normalization(momentum, f"{name}_bn2")(x)
    if strides != 1 or shortcut.shape[-1] != filters:
        # Projection shortcut: a 1x1 convolution matches the new shape.
        projection = dict(conv_options, kernel_size=1, padding="same")
        shortcut = conv(shortcut, filters, strides, projection, f"{name}_projection")
        if momentum is not None:
            shortcut = options.batch_normalization(momentum, f"{name}_projection_bn")(shortcut)
    x = layers.Add(name=f"{name}_add")([x, shortcut])
    return layers.Activation(act, name=f"{name}_out")(x)
