"""Data held in memory as arrays (``x_train``, ``y_train``, ``x_test``,
``y_test`` and a ``split``): what ``dataset.Dataset`` and ``series.Series``
share, the ``kinds.Examples`` interface as slices of arrays.
"""

from __future__ import annotations

import contextlib

import numpy as np
import tensorflow as tf

from kerasdl.data import balance, pipeline


class InMemory:
    """What in-memory data (``x_train``, ``y_train``, ``x_test``, ``y_test``
    arrays and a ``split``) shares with data streamed from files: the same
    methods, which for arrays are slices."""

    streamed = False
    skipped = 0
    notes: tuple = ()  # What the loader noticed about the data, shown before training.

    @property
    def test_examples(self) -> int:
        return len(self.y_test)

    def pipelines(self, feed: pipeline.Feed, validation_split: float) -> pipeline.Pipelines:
        """Training, validation and test batches of the arrays."""
        return from_arrays(self, feed, validation_split)

    def sample(self, count: int, split: str = "test") -> np.ndarray:
        """The first ``count`` examples' inputs of ``split`` (``train`` or ``test``)."""
        return (self.x_train if split == "train" else self.x_test)[:count]

    def test_inputs(self, batch_size: int) -> tf.data.Dataset:
        """The test split's inputs alone, in order, batched."""
        return tf.data.Dataset.from_tensor_slices(self.x_test).batch(batch_size)

    def in_memory(self) -> "InMemory":
        return self

    def without_corrupt(self) -> "InMemory":
        """Arrays were checked when they were loaded: unchanged."""
        return self

    def reading(self) -> contextlib.AbstractContextManager:
        """Arrays were read when they were loaded: no error to translate."""
        return contextlib.nullcontext()


def from_arrays(data: "InMemory", feed: pipeline.Feed, validation_split: float) -> pipeline.Pipelines:
    """The pipelines of in-memory data (``Dataset``, ``Series``): its own
    ``split`` of the training arrays, then ``finish``."""
    feed = feed.resolved(streamed=False)
    x, y, x_val, y_val = data.split(validation_split, feed.seed)
    fit_inputs, fit_labels = x, y
    if feed.oversample:
        keep = balance.oversampled(y, feed.seed)
        x, y = x[keep], y[keep]

    def batches(inputs, labels, split, shuffle=False):
        return pipeline.finish(
            tf.data.Dataset.from_tensor_slices((inputs, labels)), feed,
            split=split, identity=lambda: f"{len(inputs)}", size=len(inputs), shuffle=shuffle,
        )

    return pipeline.Pipelines(
        train=batches(x, y, "train", shuffle=True),
        validation=batches(x_val, y_val, "validation") if x_val is not None else None,
        test=batches(data.x_test, data.y_test, "test"),
        train_examples=len(x),
        fit_inputs=fit_inputs,
        fit_labels=fit_labels,
    )
