"""Super-resolution family: a generator from a downscaled image to the full
one, and a discriminator that judges the result (SRGAN, Ledig et al.,
2017, at the scale of 28-pixel garments).

The generator is fully convolutional (any image size in, ``scale`` times
that size out) and works in the data's units: raw 0-255 pixels in, 0-255
out. Its residual path starts at zero, so the untrained generator is
bicubic upscaling exactly, and whatever training adds is measured against
it. ``Restorer`` (``kerasdl/models/restoration.py``) trains the two.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import keras
from keras import layers

from kerasdl.builders import options
from kerasdl.builders.gan import build_discriminator
from kerasdl.errors import BuilderArgumentError
from kerasdl.models.restoration import LOW_RESOLUTION, RESTORED, ClipPixels, PixelShuffle, Restorer, Upscale
from kerasdl.registry import register_builder

CONTENT_LOSSES = ("mae", "mse")
SCALES = (2, 4, 8)


def build_super_resolution_generator(
    channels: int,
    scale: int = 2,
    filters: int = 64,
    blocks: int = 4,
    kernel_initializer: options.NamedSpec = "he_normal",
    negative_slope: float = 0.2,
) -> keras.Model:
    """Builds the generator: a low-resolution image to one ``scale`` times its size.

    Bicubic upscaling plus a learned residual: a convolution, ``blocks``
    residual blocks (conv-LeakyReLU-conv, added back) at the low resolution,
    then per factor 2 a convolution to four times the channels and a pixel
    shuffle (sub-pixel convolution, Shi et al., 2016: no checkerboard of
    transposed convolutions), and a last convolution to the image's
    channels, initialised to zero.

    Args:
        channels: The images' channels (1 grey, 3 RGB).
        scale: The upscaling factor: 2, 4 or 8.
        filters: Channels of every hidden convolution.
        blocks: Residual blocks at the low resolution.
        kernel_initializer: Of the hidden convolutions.
        negative_slope: The LeakyReLU slope of every hidden activation
            (0: ReLU, whose units a large step can leave dead for good: at
            4x, a run's residual fell back to zero and it to bicubic).

    Returns:
        A functional ``keras.Model`` named ``"generator"``: input
        ``low_resolution`` (``[batch, h, w, channels]``, any ``h`` and
        ``w``, pixels 0-255), output ``restored`` (float32 ``[batch, scale·h,
        scale·w, channels]``, clipped to 0-255 except in training:
        ``ClipPixels``).

    Example:

    >>> generator = build_super_resolution_generator(1, scale=4)
    >>> generator(np.zeros((1, 7, 7, 1))).shape
    TensorShape([1, 28, 28, 1])
    """
    options.check_choice("scale", scale, SCALES)
    options.check_positive("filters", filters)
    if not (isinstance(blocks, int) and blocks >= 0):
        raise BuilderArgumentError("blocks", f"`blocks` is a count of residual blocks, 0 or more. Received: {blocks!r}")
    if not (isinstance(negative_slope, (int, float)) and 0.0 <= negative_slope < 1.0):
        raise BuilderArgumentError("negative_slope", "`negative_slope` is LeakyReLU's slope for negative inputs, in "
                                   f"[0, 1). Received: negative_slope={negative_slope!r}")
    initializer = options.initializer("kernel_initializer", kernel_initializer)
    low = keras.Input(shape=(None, None, channels), name=LOW_RESOLUTION)
    x = layers.Rescaling(1.0 / 255, name="rescale")(low)
    bicubic = Upscale(scale, name="bicubic")(x)
    features = layers.Conv2D(filters, 3, padding="same", kernel_initializer=initializer, name="stem_conv")(x)
    features = layers.LeakyReLU(negative_slope, name="stem")(features)
    y = features
    for index in range(blocks):
        name = f"block{index + 1}"
        z = layers.Conv2D(filters, 3, padding="same", kernel_initializer=initializer, name=f"{name}_conv1")(y)
        z = layers.LeakyReLU(negative_slope, name=f"{name}_act")(z)
        z = layers.Conv2D(filters, 3, padding="same", kernel_initializer=initializer, name=f"{name}_conv2")(z)
        y = layers.Add(name=f"{name}_add")([y, z])
    y = layers.Add(name="skip")([features, y]) if blocks else y
    for index in range(int(math.log2(scale))):
        name = f"up{index + 1}"
        y = layers.Conv2D(4 * filters, 3, padding="same", kernel_initializer=initializer, name=f"{name}_conv")(y)
        y = PixelShuffle(2, name=f"{name}_shuffle")(y)
        y = layers.LeakyReLU(negative_slope, name=f"{name}_act")(y)
    residual = layers.Conv2D(channels, 3, padding="same", kernel_initializer="zeros", name="residual")(y)
    image = layers.Add(name="bicubic_plus_residual")([bicubic, residual])
    image = layers.Rescaling(255.0, name="to_pixels")(image)
    restored = ClipPixels(dtype="float32", name=RESTORED)(image)
    return keras.Model(low, restored, name="generator")


@register_builder("super_resolution")
def build_super_resolution(
    input_shape: Sequence[int],
    num_classes: Optional[int] = None,
    scale: int = 2,
    filters: int = 64,
    blocks: int = 4,
    kernel_initializer: options.NamedSpec = "he_normal",
    negative_slope: float = 0.2,
    content_loss: str = "mae",
    adversarial_weight: float = 1e-3,
    discriminator_filters: Sequence[int] = (32, 64),
    discriminator_dropout_rate: float = 0.3,
) -> Restorer:
    """Builds a super-resolution GAN: the generator
    (``build_super_resolution_generator``) and a DCGAN discriminator
    (``build_discriminator``) of full-size images, in a ``Restorer`` that
    downscales each training image itself (the mean of each ``scale`` ×
    ``scale`` square) and learns to undo it.

    Args:
        input_shape: Shape of one full-size image, e.g. ``(28, 28, 1)``;
            its sides must divide by ``scale``.
        num_classes: Ignored: the generator restores images of any class
            (kerasdl passes every builder of examples the class count).
        scale: The upscaling factor: 2, 4 or 8.
        filters: Channels of the generator's hidden convolutions.
        blocks: The generator's residual blocks.
        kernel_initializer: Of the generator's hidden convolutions.
        negative_slope: Of the generator's LeakyReLU activations.
        content_loss: ``mae`` or ``mse`` between restored and original
            pixels (in [0, 1]); MAE gives sharper edges for the same PSNR.
        adversarial_weight: Weight of the discriminator's verdict in the
            generator's loss (SRGAN: 1e-3); 0 trains on the content loss
            alone (the discriminator is then not trained).
        discriminator_filters: Channels of the discriminator's stride-2 convolutions.
        discriminator_dropout_rate: Dropout after each of them.

    Returns:
        An uncompiled ``Restorer``; ``restorer(images)`` downscales and
        restores full-size images, ``restorer.generator`` upscales
        low-resolution ones.

    Raises:
        BuilderArgumentError: for an argument out of range.

    Example:

    >>> restorer = build_super_resolution((28, 28, 1), scale=2)
    >>> restorer.generator.output_shape
    (None, None, None, 1)
    """
    if len(input_shape) != 3:
        raise BuilderArgumentError("input_shape", "super-resolution restores images (height, width, channels). "
                                   f"Received: input_shape={tuple(input_shape)}")
    height, width, channels = (int(size) for size in input_shape)
    if scale in SCALES and (height % scale or width % scale):
        raise BuilderArgumentError(
            "scale", f"the images ({height}x{width}) must downscale to whole pixels: their sides must divide by "
            f"`scale`. Received: scale={scale}")
    options.check_choice("content_loss", content_loss, CONTENT_LOSSES)
    if not (isinstance(adversarial_weight, (int, float)) and adversarial_weight >= 0):
        raise BuilderArgumentError("adversarial_weight", "`adversarial_weight` is a weight, 0 or more. "
                                   f"Received: adversarial_weight={adversarial_weight!r}")
    generator = build_super_resolution_generator(channels, scale, filters, blocks, kernel_initializer, negative_slope)
    discriminator = build_discriminator((height, width, channels), None, filters=discriminator_filters,
                                        dropout_rate=discriminator_dropout_rate)
    return Restorer(generator, discriminator, scale=scale, content_loss=content_loss,
                    adversarial_weight=adversarial_weight, name="super_resolution")
