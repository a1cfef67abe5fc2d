"""The interface every kind of data implements, as Keras's
``data_adapter.py`` states one for its inputs: what a task, the run loop
and the commands may ask of a recipe's data, whichever loader made it.

The kinds (``Data.kind``): labelled ``examples`` (images, tables) and
``texts``, in memory (``dataset.Dataset``) or streamed from files
(``streaming.Streamed``); a time ``series`` (``series.Series``); a text
``corpus`` for Word2Vec (``corpus.Corpus``, trained by its own task). All
but the corpus are ``Examples``: a model trains on them with ``fit``.
"""

from __future__ import annotations

import contextlib
from typing import Any, Optional, Protocol, Sequence, runtime_checkable

import numpy as np

# Each kind in words, for messages ("'gan' trains on examples with labels").
KINDS = {
    "examples": "examples with labels (images or tables)",
    "texts": "labelled texts",
    "series": "a time series",
    "corpus": "a text corpus",
}


@runtime_checkable
class Data(Protocol):
    """What every kind of data gives.

    Attributes:
        kind: One of ``KINDS``: what the catalogue picks a task by.
        description: What the data is, for messages.
        source: Where it came from, for messages.
        notes: What the loader noticed about it, shown before training.
        skipped: Examples left out as unreadable (``data.skip_corrupt``).
    """

    kind: str
    description: str
    source: str
    notes: Sequence[str]
    skipped: int

    def limited(self, max_train: Optional[int], max_test: Optional[int]) -> "Data":
        """The first examples of each split (``data.max_*_examples``)."""

    def only(self, classes: Sequence[int]) -> "Data":
        """The examples of these classes (``data.classes``), renumbered.

        Raises:
            ValueError: naming a class the data does not have.
        """

    def builder_inputs(self, fit_inputs: Any) -> tuple[dict, dict]:
        """The builder's keyword arguments the data fixes: ``(required,
        optional)``; a builder must take every required one."""

    def reading(self) -> contextlib.AbstractContextManager:
        """A context in which a read error becomes a ``DataError`` naming the file."""

    def without_corrupt(self) -> "Data":
        """The data without the examples that cannot be read."""


@runtime_checkable
class Examples(Data, Protocol):
    """Data a model trains on with ``fit``: labelled examples, texts, a
    series. Adds the pipelines and what the export and the scores need.

    Attributes:
        streamed: Whether examples are read from files as they train.
        input_shape: One input's shape.
        output_width: Values the model returns per example (0: one score,
            predictions of shape ``[n]``: an anomaly detector).
        output_name: The export's output name.
        test_examples: Examples in the test split.
        y_test: The test split's labels or targets, in order.
    """

    streamed: bool
    input_shape: tuple
    output_width: int
    output_name: str
    test_examples: int
    y_test: np.ndarray

    def pipelines(self, feed: Any, validation_split: float) -> Any:
        """Training, validation and test batches (a ``pipeline.Pipelines``) as ``feed`` says."""

    def sample(self, count: int, split: str = "test") -> np.ndarray:
        """The first ``count`` inputs of ``split``, as arrays."""

    def test_inputs(self, batch_size: int) -> Any:
        """The test split's inputs alone, in order, batched (a ``tf.data.Dataset``)."""

    def in_memory(self) -> "Examples":
        """The same examples as arrays (streamed files decoded)."""

    def export_assets(self) -> dict[str, str]:
        """Files for the export's ``assets.extra/`` (class names, a series' description)."""
