"""Files of records streamed record by record and decoded in the graph:
TFRecord files of ``tf.train.Example`` here, CSV tables (``tables.py``)
with the same ``Records`` and their own spec.

The recipe describes the features (a documented spec, flat keys)::

    data:
      dataset: tfrecord
      files: data/train-*.tfrecord      # a glob or a list of globs
      test_files: data/test-*.tfrecord  # optional; else test_fraction of the records
      input_key: image/encoded          # the input feature
      input_type: image                 # image (encoded bytes: PNG, JPEG ...) or float
      label_key: image/class/label      # an int64 feature: the class index, 0 to n-1
      image_size: [128, 128]            # input_type image: every image resized to this
      color_mode: rgb
      input_shape: null                 # input_type float: the feature's shape, e.g. [8]
      class_names: null                 # optional; else "0", "1", ...

Loading reads every record's label once (no input is decoded): the labels
give the classes, the counts and the splits. An example is named by its
record number in file order; splits hold out whole records, never read by
training.
"""

from __future__ import annotations

import dataclasses
import glob
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np
import tensorflow as tf

from kerasdl.data.dataset import hold_out
from kerasdl.data.readers import ImageReader
from kerasdl.data.streaming import Streamed, failing, in_order
from kerasdl.errors import DataError
from kerasdl.registry import register_dataset

INPUT_TYPES = ("image", "float")
# Files a training epoch reads at once (in a new file order every epoch).
CYCLE_LENGTH = 4


@dataclasses.dataclass(frozen=True)
class ExampleSpec:
    """What a TFRecord's ``tf.train.Example`` holds and how its input is decoded.

    A spec reads a file's records (``read``), names one (``where``) and
    decodes one (``example``); ``tables.CsvSpec`` is another."""

    input_key: str
    input_type: str
    label_key: str
    input_shape: tuple[int, ...]
    reader: Optional[ImageReader]
    is_text = False

    def read(self, path: tf.Tensor, compression: str) -> tf.data.Dataset:
        return tf.data.TFRecordDataset(path, compression_type=compression)

    def where(self, path: str, number: int) -> str:
        return f"{path} record {number}"

    def label(self, record: tf.Tensor) -> tf.Tensor:
        return tf.io.parse_single_example(record, {self.label_key: tf.io.FixedLenFeature([], tf.int64)})[self.label_key]

    def example(self, record: tf.Tensor, number: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """``(input, label)`` of one record (record ``number`` of all)."""
        if self.input_type == "image":
            features = {self.input_key: tf.io.FixedLenFeature([], tf.string)}
        else:
            features = {self.input_key: tf.io.FixedLenFeature(self.input_shape, tf.float32)}
        features[self.label_key] = tf.io.FixedLenFeature([], tf.int64)
        parsed = tf.io.parse_single_example(record, features)
        value = parsed[self.input_key]
        return (self.reader.decode(value) if self.reader else value), parsed[self.label_key]


class CsvLines:
    """How a spec reads a CSV file's records: its lines after the header,
    named by line (``tables.CsvSpec``, ``texts.CsvTextSpec``)."""

    def read(self, path: tf.Tensor, compression: str) -> tf.data.Dataset:
        return tf.data.TextLineDataset(path, compression_type=compression).skip(1)  # The header.

    def where(self, path: str, number: int) -> str:
        return f"{path}, line {number + 2}"


@dataclasses.dataclass(kw_only=True)
class Records(Streamed):
    """Files of records: the items are record numbers in file order (kept
    sorted, so that the test split is predicted in the order of its labels).

    Attributes:
        files: The files, in order.
        offsets: The number of each file's first record, and the total.
        spec: Reads, names and decodes records (``ExampleSpec``, ``tables.CsvSpec``).
        compression: ``GZIP``, ``ZLIB`` or "" (none).
    """

    files: tuple[str, ...]
    offsets: np.ndarray
    spec: Any
    compression: str = ""

    item_order = False  # Read file by file: shuffled by file order and an element buffer.

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.spec.input_shape

    @property
    def is_text(self) -> bool:
        return self.spec.is_text

    def describe(self, item: Any) -> str:
        file = int(np.searchsorted(self.offsets, item, side="right")) - 1
        return self.spec.where(self.files[file], int(item) - int(self.offsets[file]))

    def counts(self, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which records ``items`` keeps (a mask of all) and how many in each file."""
        keep = np.zeros(int(self.offsets[-1]), bool)
        keep[items] = True
        return keep, np.array([keep[start:end].sum() for start, end in zip(self.offsets[:-1], self.offsets[1:])])

    def share(self, items: np.ndarray, shard: tuple[int, int]) -> int:
        """Whole files are shared out (the fewest records any worker has),
        or with fewer files than workers, every ``count``-th record."""
        count = shard[0]
        if len(self.files) < count:
            return len(items) // count
        per_file = self.counts(items)[1]
        return min(int(per_file[worker::count].sum()) for worker in range(count))

    def records(self, items: np.ndarray, shard: Optional[tuple[int, int]] = None, seed: Optional[int] = None):
        """``(record number, serialized record)`` of ``items``, file by file
        (the files in a new order every epoch with ``seed``; in a
        multi-worker run each worker reads whole files of its own)."""
        keep, per_file = self.counts(items)
        files = np.arange(len(self.files))
        take = self.share(items, shard) if shard else len(items)
        by_file = shard and len(self.files) >= shard[0]
        if by_file:
            files = files[shard[1]::shard[0]]
        files = files[per_file[files] > 0]
        dataset = tf.data.Dataset.from_tensor_slices((np.array(self.files)[files], self.offsets[files]))
        if seed is not None:
            dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
        spec, compression = self.spec, self.compression

        def numbered(path, offset):
            return spec.read(path, compression).enumerate(offset)

        dataset = dataset.interleave(
            numbered, cycle_length=CYCLE_LENGTH if seed is not None else 1, num_parallel_calls=tf.data.AUTOTUNE,
        )
        wanted = tf.constant(keep)
        dataset = dataset.filter(lambda number, record: tf.gather(wanted, number))
        if shard and not by_file:  # Fewer files than workers: each keeps every count-th record.
            dataset = dataset.shard(*shard)
        # Known, so Keras knows an epoch's steps from the start.
        return dataset.take(take).apply(tf.data.experimental.assert_cardinality(take))

    def examples(
        self, items: np.ndarray, labels: np.ndarray, shard: Optional[tuple[int, int]] = None,
        seed: Optional[int] = None,
    ) -> tf.data.Dataset:
        return self.records(items, shard, seed).map(
            lambda number, record: self.spec.example(record, number), num_parallel_calls=tf.data.AUTOTUNE,
        )

    def corrupt(self, items: np.ndarray) -> np.ndarray:
        numbered = self.records(items).map(lambda number, record: (number, self.spec.example(record, number)[0]))
        return failing(numbered, int(self.offsets[-1]))[items]


def _files(patterns: Union[str, Sequence[str]], key: str) -> list[str]:
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    found = sorted({path for pattern in patterns for path in glob.glob(str(Path(pattern).expanduser()))})
    if not found:
        raise DataError(f"data.{key}: no file matches {', '.join(map(str, patterns))}. Give TFRecord files or a glob.")
    return found


def _labels(files: list[str], spec: ExampleSpec, compression: str) -> tuple[np.ndarray, np.ndarray]:
    """Every record's label, reading nothing else; and each file's first record number."""
    labels, offsets = [], [0]
    for path in files:
        dataset = tf.data.TFRecordDataset(path, compression_type=compression)
        try:
            found = [batch for batch in dataset.map(spec.label, num_parallel_calls=tf.data.AUTOTUNE).batch(65536)
                     .as_numpy_iterator()]
        except (tf.errors.InvalidArgumentError, tf.errors.DataLossError) as error:
            raise _mismatch(path, dataset, spec, error) from None
        labels.append(np.concatenate(found) if found else np.zeros(0, np.int64))
        offsets.append(offsets[-1] + len(labels[-1]))
    return np.concatenate(labels).astype(np.int64), np.array(offsets, np.int64)


def _mismatch(path: str, dataset: tf.data.Dataset, spec: ExampleSpec, error: Exception) -> DataError:
    """The error for a file whose records do not hold the label, naming the first such record."""
    where = path
    if isinstance(error, tf.errors.InvalidArgumentError):  # A record without the label, not a damaged file.
        good = {int(number) for number, _ in dataset.enumerate().map(lambda n, r: (n, spec.label(r))).ignore_errors()
                .as_numpy_iterator()}
        where = f"{path} record {min(set(range(len(good) + 1)) - good)}"
    reason = str(error).strip().splitlines()[0]
    return DataError(
        f"{where} does not match the recipe's features: every record needs an int64 `{spec.label_key}` "
        f"(data.label_key) ({reason}). Fix data.label_key, or the file."
    )


@register_dataset("tfrecord")
def load_tfrecord(
    files: Union[str, Sequence[str]],
    input_key: str = "image",
    input_type: str = "image",
    label_key: str = "label",
    test_files: Union[str, Sequence[str], None] = None,
    test_fraction: float = 0.2,
    image_size: Sequence[int] = (28, 28),
    color_mode: str = "grayscale",
    input_shape: Optional[Sequence[int]] = None,
    class_names: Optional[Sequence[str]] = None,
    compression: Optional[str] = None,
    seed: int = 42,
    skip_corrupt: bool = False,
) -> Records:
    """TFRecord files of ``tf.train.Example`` with an input and a class label
    (see the module for a recipe).

    Args:
        files: Training files: a glob or a list of globs.
        input_key: The input feature: encoded image bytes, or floats.
        input_type: ``image`` or ``float``.
        label_key: The int64 class feature, 0 to n-1.
        test_files: Test files; else ``test_fraction`` of the records is
            held out (seeded).
        test_fraction: Share of the records held out for testing when
            there are no test_files.
        image_size: ``[height, width]`` for images.
        color_mode: ``grayscale`` or ``rgb`` for images.
        input_shape: The shape of a float input (required for ``float``).
        class_names: Names of the classes; ``0`` .. ``n-1`` by default.
        compression: ``GZIP`` or ``ZLIB`` for compressed files.
        seed: Seed of the held-out split.
        skip_corrupt: Leave out (and count) records that do not decode.
    """
    if input_type not in INPUT_TYPES:
        raise DataError(f"data.input_type must be one of {', '.join(INPUT_TYPES)}. Received: input_type={input_type!r}")
    if color_mode not in ("grayscale", "rgb"):
        raise DataError(f"data.color_mode must be 'grayscale' or 'rgb'. Received: color_mode={color_mode!r}")
    if input_type == "float" and not input_shape:
        raise DataError("data.input_shape: a float input needs its shape, e.g. input_shape: [8].")
    reader = ImageReader(tuple(int(side) for side in image_size), {"grayscale": 1, "rgb": 3}[color_mode])
    spec = ExampleSpec(
        input_key, input_type, label_key,
        reader.input_shape if input_type == "image" else tuple(int(side) for side in input_shape),
        reader if input_type == "image" else None,
    )
    compression = (compression or "").upper()
    train_files = _files(files, "files")
    all_files = train_files + (_files(test_files, "test_files") if test_files else [])
    labels, offsets = _labels(all_files, spec, compression)
    if not len(labels):
        raise DataError(f"data.files: {', '.join(all_files)} hold no records.")
    count = int(labels.max()) + 1
    names = list(class_names) if class_names else [str(index) for index in range(count)]
    if labels.min() < 0 or count > len(names):
        raise DataError(
            f"data.label_key: labels run from {labels.min()} to {labels.max()}, but data.class_names names "
            f"{len(names)} classes. Labels must be 0 to {len(names) - 1}."
        )
    items = np.arange(len(labels))
    split = int(offsets[len(train_files)])
    if test_files:
        train, train_labels, test, test_labels = items[:split], labels[:split], items[split:], labels[split:]
    else:
        train, train_labels, test, test_labels = hold_out(items, labels, test_fraction, seed)
        (train, train_labels), (test, test_labels) = in_order(train, train_labels), in_order(test, test_labels)
    return Records(
        train, train_labels, test, test_labels, names,
        f"TFRecord {', '.join(map(str, [files] if isinstance(files, str) else files))}",
        skip_corrupt=skip_corrupt, files=tuple(all_files), offsets=offsets, spec=spec, compression=compression,
    )
