"""Reading one example from its file's bytes, in the graph: an image
decoded, converted to the recipe's channels and resized (``ImageReader``),
a text transcoded to UTF-8 (``TextReader``). Every streamed source decodes
with these, and so does ``kerasdl predict``: an image reaches the model as
it reached it in training.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class ImageReader:
    """Decodes an image file in the graph: any format ``tf.io.decode_image``
    reads (PNG, JPEG, GIF's first frame, BMP, WebP), converted to
    ``channels`` and resized to ``image_size``, as uint8 pixels."""

    image_size: tuple[int, int]
    channels: int
    interpolation: str = "bilinear"

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (*self.image_size, self.channels)

    def __call__(self, path: tf.Tensor) -> tf.Tensor:
        return self.decode(tf.io.read_file(path))

    def decode(self, contents: tf.Tensor) -> tf.Tensor:
        """The image in ``contents`` (an encoded file's bytes)."""
        if self.channels == 1:
            # TensorFlow decodes PNG and JPEG to grey directly, GIF and WebP
            # to RGB only (made grey after).
            png_or_jpeg = tf.logical_or(
                tf.strings.substr(contents, 0, 4) == b"\x89PNG", tf.strings.substr(contents, 0, 3) == b"\xff\xd8\xff"
            )
            image = tf.cond(
                png_or_jpeg,
                lambda: tf.io.decode_image(contents, channels=1, expand_animations=False),
                lambda: tf.image.rgb_to_grayscale(tf.io.decode_image(contents, channels=3, expand_animations=False)),
            )
        else:
            image = tf.io.decode_image(contents, channels=self.channels, expand_animations=False)
        return self.resized(image)

    def converted(self, image: tf.Tensor, channels: int) -> tf.Tensor:
        """A decoded uint8 image with ``channels`` channels (1, 3 or 4),
        made grey or RGB and resized."""
        if channels == 4:
            image, channels = image[..., :3], 3  # Alpha dropped, as decoding to RGB does.
        if channels != self.channels:
            image = tf.image.rgb_to_grayscale(image) if self.channels == 1 else tf.image.grayscale_to_rgb(image)
        return self.resized(image)

    def resized(self, image: tf.Tensor) -> tf.Tensor:
        """``image`` at ``image_size`` (uint8, rounded); as it is for a size
        of ``None`` (a fully convolutional model takes any)."""
        if None in self.image_size:
            return tf.ensure_shape(image, self.input_shape)
        image = tf.cond(  # An image of the right size skips the float round trip.
            tf.reduce_all(tf.shape(image)[:2] == self.image_size),
            lambda: image,
            lambda: tf.cast(tf.clip_by_value(tf.round(
                tf.image.resize(image, self.image_size, method=self.interpolation)), 0.0, 255.0), tf.uint8),
        )
        return tf.ensure_shape(image, self.input_shape)


@dataclasses.dataclass(frozen=True)
class TextReader:
    """Reads a text file in the graph as one UTF-8 string (transcoded from
    ``encoding``); a file that is not ``encoding`` text, or holds only
    blanks, fails to decode."""

    encoding: str = "utf-8"
    input_shape = ()

    def __call__(self, path: tf.Tensor) -> tf.Tensor:
        text = tf.strings.unicode_transcode(
            tf.io.read_file(path), input_encoding=self.encoding, output_encoding="UTF-8", errors="strict",
        )
        empty = tf.equal(tf.strings.length(tf.strings.strip(text)), 0)
        with tf.control_dependencies([tf.debugging.assert_equal(empty, False, message="the file holds no text")]):
            return tf.identity(text)
