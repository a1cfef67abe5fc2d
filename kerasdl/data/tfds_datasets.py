"""TensorFlow Datasets: a prepared TFDS dataset, streamed from its files,
offline unless allowed to download.

Loading reads every label once (images are not decoded); examples are
named by their number in the train split followed by the test split,
read in TFDS's order and shuffled through an element buffer
(``data.shuffle_buffer``). Images may differ in size: each is converted to
``color_mode`` and resized to ``image_size`` (by default the dataset's
own, when all its images share one).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional, Sequence

import numpy as np
import tensorflow as tf

from kerasdl.data.dataset import encode_labels
from kerasdl.data.readers import ImageReader
from kerasdl.data.streaming import Streamed, failing
from kerasdl.errors import DataError
from kerasdl.registry import register_dataset


@dataclasses.dataclass(kw_only=True)
class TfdsSplits(Streamed):
    """A TFDS dataset's train and test splits: the items are example numbers
    (train first), kept in reading order.

    Attributes:
        builder: The TFDS dataset builder.
        splits: The train and test split names.
        offsets: The first number of each split, and the total.
        reader: Converts and resizes an image; None for non-image inputs.
        channels: The images' own channels.
        shape: One input's shape.
    """

    builder: Any
    splits: tuple[str, str]
    offsets: np.ndarray
    reader: Optional[ImageReader]
    channels: int
    shape: tuple[int, ...]

    item_order = False  # Read in TFDS's order: shuffled through an element buffer.

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.shape

    def describe(self, item: Any) -> str:
        part = int(item >= self.offsets[1])
        return f"TFDS {self.builder.name} {self.splits[part]} example {int(item) - int(self.offsets[part])}"

    def numbered(self, items: np.ndarray) -> tf.data.Dataset:
        """``(number, input, label)`` of ``items``, in order."""
        keep = np.zeros(int(self.offsets[-1]), bool)
        keep[items] = True
        parts = []
        for part, split in enumerate(self.splits):
            start, end = int(self.offsets[part]), int(self.offsets[part + 1])
            if keep[start:end].any():
                parts.append(self.builder.as_dataset(split=split, as_supervised=True,
                                                     shuffle_files=False).enumerate(start))
        dataset = parts[0].concatenate(parts[1]) if len(parts) == 2 else parts[0]
        wanted = tf.constant(keep)
        # The count is known, so Keras knows an epoch's steps from the start.
        return dataset.filter(lambda number, pair: tf.gather(wanted, number)).map(
            lambda number, pair: (number, *pair),
        ).take(len(items)).apply(tf.data.experimental.assert_cardinality(len(items)))

    def examples(
        self, items: np.ndarray, labels: np.ndarray, shard: Optional[tuple[int, int]] = None,
        seed: Optional[int] = None,
    ) -> tf.data.Dataset:
        dataset = self.numbered(items)
        if shard:
            count, index = shard
            share = len(items) // count
            dataset = dataset.shard(count, index).take(share).apply(tf.data.experimental.assert_cardinality(share))
        return dataset.map(lambda number, x, y: (self.converted(x), y), num_parallel_calls=tf.data.AUTOTUNE)

    def corrupt(self, items: np.ndarray) -> np.ndarray:
        numbered = self.numbered(items).map(lambda number, x, y: (number, self.converted(x)))
        return failing(numbered, int(self.offsets[-1]))[items]

    def converted(self, x: tf.Tensor) -> tf.Tensor:
        """An input as the model takes it: an image made grey or RGB and resized."""
        return self.reader.converted(x, self.channels) if self.reader else x


@register_dataset("tfds")
def load_tfds(
    name: str,
    data_dir: Optional[str] = None,
    download: bool = False,
    train_split: str = "train",
    test_split: str = "test",
    image_size: Optional[Sequence[int]] = None,
    color_mode: Optional[str] = None,
    skip_corrupt: bool = False,
) -> TfdsSplits:
    """A TensorFlow Datasets dataset with (image or features, label) pairs.

    Args:
        name: TFDS name, e.g. ``mnist``.
        data_dir: Where prepared TFDS data lives (TFDS's default if null).
        download: Allow TFDS to download. Off by default: offline, TFDS
            retries for minutes before failing.
        train_split: TFDS split for training (slices work: ``train[:80%]``).
        test_split: TFDS split for the final evaluation.
        image_size: ``[height, width]`` images are resized to; the
            dataset's own by default (required when its sizes differ).
        color_mode: ``grayscale`` or ``rgb``; the dataset's own by default.
        skip_corrupt: Leave out (and count) examples that do not decode.
    """
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
        if download:
            builder.download_and_prepare()
        input_key, label_key = builder.info.supervised_keys
        feature = builder.info.features[input_key]
        is_image = isinstance(feature, tfds.features.Image)
        decoders = {input_key: tfds.decode.SkipDecoding()} if is_image else None
        found = []
        for split in (train_split, test_split):  # Every label, no image decoded.
            labels = builder.as_dataset(split=split, as_supervised=True, decoders=decoders).map(lambda x, y: y)
            batches = list(labels.batch(65536).as_numpy_iterator())
            found.append(np.concatenate(batches) if batches else np.zeros(0, np.int64))
    except Exception as error:  # TFDS raises many types for "not prepared".
        raise DataError(
            f"TFDS dataset '{name}' could not be loaded from data_dir={data_dir!r}: "
            f"{str(error).splitlines()[0] if str(error) else type(error).__name__}. "
            "Prepare it where you are online (or set `data.download: true`), then "
            "point `data.data_dir` at it."
        ) from None
    label = builder.info.features[label_key]
    names = list(label.names) if getattr(label, "names", None) else None
    values, names = encode_labels(np.concatenate(found), names)  # TFDS class labels are 0..n-1 already.
    offsets = np.array([0, len(found[0]), len(found[0]) + len(found[1])], np.int64)
    reader, channels, shape = None, 0, tuple(feature.shape)
    if is_image:
        height, width, channels = feature.shape
        size = tuple(image_size or (height, width))
        if None in size:
            raise DataError(
                f"TFDS {name}: its images differ in size; set data.image_size, e.g. image_size: [128, 128]."
            )
        mode = color_mode or ("grayscale" if channels == 1 else "rgb")
        if mode not in ("grayscale", "rgb"):
            raise DataError(f"data.color_mode must be 'grayscale' or 'rgb'. Received: color_mode={color_mode!r}")
        reader = ImageReader(tuple(int(side) for side in size), {"grayscale": 1, "rgb": 3}[mode])
        shape = reader.input_shape
    elif None in shape:
        raise DataError(f"TFDS {name}: its inputs ({input_key}) differ in shape; kerasdl reads images or "
                        "fixed-size features.")
    items = np.arange(offsets[-1])
    split = int(offsets[1])
    return TfdsSplits(
        items[:split], values[:split], items[split:], values[split:], names, f"TFDS {name}",
        skip_corrupt=skip_corrupt, builder=builder, splits=(train_split, test_split), offsets=offsets,
        reader=reader, channels=channels or 0, shape=shape,
    )

