"""Labelled examples streamed from files: only what names each example
(an image file's path, a TFRecord's record number) and its label live in
memory; tf.data reads and decodes the examples in parallel as training
needs them.

``Streamed`` is what every streamed source shares: splits, ``classes``
and ``max_*_examples`` cut the lists of examples before anything is
decoded, so a held-out example is never a training one; an example that
cannot be decoded stops the run with a ``DataError`` naming it, or, with
``data.skip_corrupt``, is found by one parallel pass before training and
left out (counted in ``skipped``). ``Files`` is a folder of images or
texts, one example a file; ``records.Records`` TFRecord files or a CSV
table, record by record.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence, Union

import numpy as np
import tensorflow as tf

from kerasdl.data import balance, pipeline
from kerasdl.data.dataset import (
    Dataset,
    Labelled,
    hold_out,
    kept_classes,
    stratified_hold_out,
)
from kerasdl.data.files import list_class_folders
from kerasdl.data.readers import ImageReader, TextReader
from kerasdl.errors import DataError

# Streamed training examples a preprocessing layer adapts to (a seeded
# sample, a batched tf.data.Dataset): bounded, so adapting costs the same
# at any dataset size.
ADAPT_EXAMPLES = 2048
# Files named in a message about undecodable files.
NAMED_FILES = 5


@dataclasses.dataclass
class Streamed(Labelled):
    """Train and test examples, named by ``*_items`` with their labels,
    decoded as they are read.

    It has the interface of ``dataset.Dataset`` (``limited``, ``only``,
    ``split``, ``pipelines``, ``sample``, ``y_test`` ...) without its
    arrays; ``in_memory`` decodes everything into one for tasks that need
    arrays (a GAN). A source says how its items become examples
    (``examples``), which cannot be decoded (``corrupt``) and how to name
    one in a message (``describe``).
    """

    train_items: np.ndarray
    y_train: np.ndarray
    test_items: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    source: str
    skip_corrupt: bool = False
    skipped: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)

    is_text = False
    streamed = True
    # Whether ``examples`` reads the items in the order given, so shuffling
    # the items (names, a few bytes each) shuffles the examples; records
    # read file by file keep their items sorted and need an element buffer.
    item_order = True

    # -- What a source defines --------------------------------------------------

    @property
    def input_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    def examples(
        self, items: np.ndarray, labels: np.ndarray, shard: Optional[tuple[int, int]] = None,
        seed: Optional[int] = None,
    ) -> tf.data.Dataset:
        """``(input, label)`` for ``items`` (with ``labels``), decoded in
        parallel: in their order, or with ``seed`` in a new order every
        epoch (as far as the source can: ``item_order``); only the share
        ``shard`` = ``(count, index)`` in a multi-worker run, every worker's
        the same size."""
        raise NotImplementedError

    def corrupt(self, items: np.ndarray) -> np.ndarray:
        """Which of ``items`` cannot be read or decoded (a boolean mask)."""
        raise NotImplementedError

    def describe(self, item: Any) -> str:
        """An item as a message names it."""
        return str(item)

    def share(self, items: np.ndarray, shard: tuple[int, int]) -> int:
        """How many of ``items`` each worker reads when ``shard`` = ``(count,
        index)`` shares them out: the same number for every worker, so that
        all take as many steps."""
        return len(items) // shard[0]

    # -- The interface of every kind of data --------------------------------------

    @property
    def test_examples(self) -> int:
        return len(self.test_items)

    def limited(self, max_train: Optional[int], max_test: Optional[int]) -> "Streamed":
        """The first ``max_train`` training and ``max_test`` test examples (all for None)."""
        return dataclasses.replace(
            self, train_items=self.train_items[:max_train], y_train=self.y_train[:max_train],
            test_items=self.test_items[:max_test], y_test=self.y_test[:max_test],
        )

    def only(self, classes: Sequence[int]) -> "Streamed":
        """The examples of ``classes`` alone, relabelled 0, 1, ... in the order given."""
        relabel = kept_classes(self.class_names, classes, self.source)
        train, test = relabel[self.y_train] >= 0, relabel[self.y_test] >= 0
        return dataclasses.replace(
            self,
            train_items=self.train_items[train], y_train=relabel[self.y_train[train]],
            test_items=self.test_items[test], y_test=relabel[self.y_test[test]],
            class_names=[self.class_names[index] for index in classes],
            source=f"{self.source}, classes {', '.join(self.class_names[index] for index in classes)}",
        )

    def split(self, fraction: float, seed: int) -> tuple:
        """The training examples less a seeded random validation share:
        ``(items, labels, validation_items, validation_labels)``, each in
        reading order for a source that reads in its own order."""
        if not fraction:
            return self.train_items, self.y_train, None, None
        items, labels, held, held_labels = hold_out(self.train_items, self.y_train, fraction, seed,
                                                    "training.validation_split")
        if self.item_order:
            return items, labels, held, held_labels
        return (*in_order(items, labels), *in_order(held, held_labels))

    def builder_inputs(self, fit_inputs: Any) -> tuple[dict, dict]:
        """As ``Dataset.builder_inputs``; ``fit_inputs`` is a bounded sample."""
        return {"input_shape": self.input_shape, "num_classes": self.num_classes}, {"adapt_data": fit_inputs}

    # -- Reading -----------------------------------------------------------------

    def inputs(self, items: np.ndarray) -> tf.data.Dataset:
        """The inputs of ``items`` alone, in order."""
        return self.examples(items, np.zeros(len(items), np.int64)).map(lambda x, y: x)

    def read(self, items: np.ndarray) -> np.ndarray:
        """The inputs of ``items`` as one array (uint8 pixels, numbers, or
        ``str`` objects for texts)."""
        with self.reading():
            batches = [as_numpy(batch) for batch in self.inputs(items).batch(512)]
        return np.concatenate(batches) if batches else np.zeros((0, *self.input_shape),
                                                                object if self.is_text else np.uint8)

    def sample(self, count: int, split: str = "test") -> np.ndarray:
        """The first ``count`` examples' inputs of ``split`` (``train`` or ``test``)."""
        return self.read((self.train_items if split == "train" else self.test_items)[:count])

    def test_inputs(self, batch_size: int) -> tf.data.Dataset:
        """The test split's inputs alone, in order, batched."""
        return self.inputs(self.test_items).batch(batch_size).prefetch(tf.data.AUTOTUNE)

    def in_memory(self) -> Dataset:
        """Everything decoded into a ``Dataset`` (for tasks that need arrays)."""
        return Dataset(
            self.read(self.train_items), self.y_train, self.read(self.test_items), self.y_test,
            list(self.class_names), self.source,
        )

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Turns TensorFlow's error about an undecodable example (which does
        not say which one) into a ``DataError`` naming it."""
        try:
            yield
        except tf.errors.InvalidArgumentError as error:
            items = np.concatenate([self.train_items, self.test_items])
            bad = items[self.corrupt(items)]
            if not len(bad):
                raise
            raise undecodable([self.describe(item) for item in bad], error) from None

    def without_corrupt(self) -> "Streamed":
        """With ``skip_corrupt``: the examples that decode alone, the others
        counted in ``skipped`` (and the copy marked checked: ``skip_corrupt``
        off, so another call reads nothing); unchanged otherwise."""
        if not self.skip_corrupt:
            return self
        train, test = self.corrupt(self.train_items), self.corrupt(self.test_items)
        bad = int(train.sum() + test.sum())
        checked = dataclasses.replace(
            self, train_items=self.train_items[~train], y_train=self.y_train[~train],
            test_items=self.test_items[~test], y_test=self.y_test[~test], skipped=self.skipped + bad,
            skip_corrupt=False,
        )
        if bad:
            first = self.describe((self.train_items[train] if train.any() else self.test_items[test])[0])
            checked.notes = [*self.notes, f"Skipped {bad} examples that cannot be decoded (data.skip_corrupt), "
                                          f"e.g. {first}."]
        return checked

    # -- Pipelines ---------------------------------------------------------------

    def pipelines(self, feed: pipeline.Feed, validation_split: float) -> pipeline.Pipelines:
        """Training, validation and test batches streamed from the files.

        Training examples are shuffled every epoch by their items (all of
        them, a few bytes each) before they are decoded; a cache, or a
        source read file by file, adds a bounded element buffer. In a
        multi-worker run each worker reads its own share (``feed.shard``)."""
        feed = feed.resolved(streamed=True)
        items, labels, validation_items, validation_labels = self.split(validation_split, feed.seed)
        originals, original_labels = items, labels
        if feed.oversample:
            if not self.item_order:
                raise DataError(
                    f"training.oversample: {self.source} is read record by record, in its own order, so "
                    "kerasdl cannot repeat single examples of it. Use training.class_weight: balanced instead."
                )
            keep = balance.oversampled(labels, feed.seed)
            items, labels = items[keep], labels[keep]

        def batches(names, targets, split, shuffle=False):
            # Without a cache the items are shuffled every epoch before
            # decoding; behind a cache (which keeps the first epoch's order)
            # the decoded examples go through a bounded buffer instead.
            order_seed = feed.seed if shuffle and feed.cache == "none" else None
            dataset = self.examples(names, targets, shard=feed.shard if shuffle else None, seed=order_seed)
            return pipeline.finish(
                dataset, feed, split=split,
                identity=lambda: f"{type(self).__name__} {self.source}\n" + "\n".join(map(str, names)),
                size=len(names), shuffle=shuffle,
                default_buffer=0 if order_seed is not None and self.item_order else pipeline.STREAM_SHUFFLE_BUFFER,
                sharded=shuffle and feed.shard is not None,
            )

        # Preprocessing adapts to a seeded sample, decoded only if a layer
        # adapts; a vocabulary to every training text (TextVectorization
        # streams them, keeping word counts only).
        rng = np.random.default_rng(feed.seed)
        count = len(originals) if self.is_text else min(ADAPT_EXAMPLES, len(originals))
        adapt = np.sort(rng.choice(len(originals), count, replace=False))
        return pipeline.Pipelines(
            train=batches(items, labels, "train", shuffle=True),
            validation=batches(validation_items, validation_labels,
                               "validation") if validation_items is not None else None,
            test=batches(self.test_items, self.y_test, "test"),
            train_examples=self.share(items, feed.shard) * feed.shard[0] if feed.shard else len(items),
            fit_inputs=self.inputs(originals[adapt]).batch(256),
            fit_labels=original_labels,
        )


@dataclasses.dataclass(kw_only=True)
class Files(Streamed):
    """Files, one example each (images, or texts): the items are their paths."""

    reader: Union[ImageReader, TextReader]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.reader.input_shape

    @property
    def is_text(self) -> bool:
        return isinstance(self.reader, TextReader)

    @classmethod
    def from_class_folders(
        cls, path: str, test_path: Optional[str], test_fraction: float, seed: int, *,
        reader: Union[ImageReader, TextReader], suffixes: Sequence[str], example: str, stratified: bool = False,
        skip_corrupt: bool = False,
    ) -> "Files":
        """The files of ``path/<class>/`` (and ``test_path/<class>/``, or a
        seeded ``test_fraction`` of the files, stratified by class if
        asked), listed without opening them; files with other suffixes are
        left out and noted."""
        paths, labels, names, others, ignored = list_class_folders(Path(path).expanduser(), suffixes, example)
        if test_path:
            test_paths, test_labels, _, test_others, test_ignored = list_class_folders(
                Path(test_path).expanduser(), suffixes, example, names)
            others, ignored = others + test_others, ignored + test_ignored
        else:
            split = stratified_hold_out if stratified else hold_out
            paths, labels, test_paths, test_labels = split(paths, labels, test_fraction, seed)
        notes = [f"Left out {len(others)} files that are not {example}s ({', '.join(suffixes)}), e.g. {others[0]}."
                 ] if others else []
        if ignored:
            notes.append(f"Ignored {ignored} system files and folders (.DS_Store, ._* AppleDouble, __MACOSX, "
                         "Thumbs.db, desktop.ini, other dot-files).")
        return cls(
            paths, labels, test_paths, test_labels, names, f"{example}s in {path}",
            skip_corrupt=skip_corrupt, notes=notes, reader=reader,
        )

    def examples(
        self, items: np.ndarray, labels: np.ndarray, shard: Optional[tuple[int, int]] = None,
        seed: Optional[int] = None,
    ) -> tf.data.Dataset:
        if shard:
            count, index = shard
            share = self.share(items, shard)
            items, labels = items[index::count][:share], labels[index::count][:share]
        dataset = tf.data.Dataset.from_tensor_slices((items, labels))
        if seed is not None:
            dataset = dataset.shuffle(len(items), seed=seed, reshuffle_each_iteration=True)
        return dataset.map(lambda path, label: (self.reader(path), label), num_parallel_calls=tf.data.AUTOTUNE)

    def corrupt(self, items: np.ndarray) -> np.ndarray:
        numbered = tf.data.Dataset.from_tensor_slices((np.arange(len(items)), items)).map(
            lambda number, path: (number, self.reader(path)), num_parallel_calls=tf.data.AUTOTUNE,
        )
        return failing(numbered, len(items))


def failing(numbered: tf.data.Dataset, total: int) -> np.ndarray:
    """Which of ``total`` examples cannot be read or decoded (a boolean mask
    by number), from ``(number, input)`` pairs: one parallel pass, each input
    reduced to a number that depends on all of it (so that its decoding is
    not optimised away) and the failures dropped."""
    def touch(value: tf.Tensor) -> tf.Tensor:
        if value.dtype == tf.string:
            return tf.cast(tf.reduce_sum(tf.strings.length(value)), tf.float32)
        return tf.reduce_max(tf.cast(value, tf.float32))

    touched = numbered.map(
        lambda number, value: (number, touch(value)), num_parallel_calls=tf.data.AUTOTUNE,
    ).ignore_errors()
    good = np.zeros(total, bool)
    for numbers, _ in touched.batch(4096).as_numpy_iterator():
        good[numbers] = True
    return ~good


def as_numpy(batch: tf.Tensor) -> np.ndarray:
    """A batch of inputs from tf.data as the model's callers give them:
    numbers as they are, texts as ``str`` objects (tf.data gives bytes)."""
    values = batch.numpy()
    return np.array([value.decode("utf-8") for value in values], dtype=object) if values.dtype == object else values


def in_order(items: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Items (record numbers) sorted, with their labels: the order a source
    that reads its files in order gives them in."""
    order = np.argsort(items, kind="stable")
    return items[order], labels[order]


def undecodable(names: Sequence[str], error: Exception) -> DataError:
    """The error for examples that cannot be decoded, naming the first few
    (TensorFlow's reason, as it says which example it could not)."""
    more = len(names) - NAMED_FILES
    named = ", ".join(names[:NAMED_FILES]) + (f" and {more} more" if more > 0 else "")
    lines = [line.strip() for line in str(error).splitlines() if line.strip() and not line.strip().startswith("[[")]
    reason = lines[-1] if lines else type(error).__name__
    # TensorFlow's framing ({{function_node ...}}, the iterator's path, [Op:...]) says nothing of the data.
    reason = re.sub(r"\{\{.*?\}\}|.*Iterator::[\w:]+: |\[Op:.*?\]", "", reason).strip() or type(error).__name__
    return DataError(
        f"{named} cannot be decoded ({reason}). Fix or remove {'it' if len(names) == 1 else 'them'}, "
        "or set `data.skip_corrupt: true` to leave such examples out."
    )
