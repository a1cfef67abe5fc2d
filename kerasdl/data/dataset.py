"""The labelled-examples dataset: train and test arrays, class names, and the
seeded splits every loader of examples uses (``hold_out``,
``stratified_hold_out``) with its label encoding."""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import numpy as np

from kerasdl.data.in_memory import InMemory
from kerasdl.errors import DataError

# Names a model's classes, one a line: in a run folder and an export's assets.
CLASS_NAMES_FILE = "class_names.txt"

# What a classifier's export returns: class probabilities.
PROBABILITIES = "probabilities"


class Labelled:
    """What labelled examples, in memory or streamed, tell a model about
    their classes (``class_names``, set by the kind of data)."""

    class_names: list[str]
    is_text: bool
    output_name = PROBABILITIES

    @property
    def kind(self) -> str:
        """``texts`` (one string an example) or ``examples`` (arrays of numbers)."""
        return "texts" if self.is_text else "examples"

    @property
    def description(self) -> str:
        """What the data is, for messages."""
        return "labelled texts" if self.is_text else "examples with labels"

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def output_width(self) -> int:
        """Values the model returns per example: one probability per class."""
        return self.num_classes

    def export_assets(self) -> dict[str, str]:
        """Files for the export's ``assets.extra/``: the class names."""
        return {CLASS_NAMES_FILE: class_names_text(self.class_names)}


@dataclasses.dataclass
class Dataset(InMemory, Labelled):
    """Train and test arrays plus what a model needs to know about them."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    source: str
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One example's shape; ``()`` for texts (one string each)."""
        return tuple(self.x_train.shape[1:])

    @property
    def is_text(self) -> bool:
        return self.x_train.dtype == object

    def limited(self, max_train: Optional[int], max_test: Optional[int]) -> "Dataset":
        """The first ``max_train`` training and ``max_test`` test examples (all for None)."""
        return dataclasses.replace(
            self,
            x_train=self.x_train[:max_train], y_train=self.y_train[:max_train],
            x_test=self.x_test[:max_test], y_test=self.y_test[:max_test],
        )

    def only(self, classes: Sequence[int]) -> "Dataset":
        """The examples of ``classes`` alone (indices into ``class_names``),
        relabelled 0, 1, ... in the order given.

        Raises:
            ValueError: naming the index that is not a class, or a repeat.
        """
        relabel = kept_classes(self.class_names, classes, self.source)

        def keep(x: np.ndarray, y: np.ndarray) -> tuple:
            mask = relabel[y] >= 0
            return x[mask], relabel[y[mask]]

        x_train, y_train = keep(self.x_train, self.y_train)
        x_test, y_test = keep(self.x_test, self.y_test)
        return dataclasses.replace(
            self, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
            class_names=[self.class_names[index] for index in classes],
            source=f"{self.source}, classes {', '.join(self.class_names[index] for index in classes)}",
        )

    def split(self, fraction: float, seed: int) -> tuple:
        """The training examples less a seeded random validation share.

        Returns:
            ``(x, y, x_validation, y_validation)``; the last two are None
            when ``fraction`` is 0.
        """
        if not fraction:
            return self.x_train, self.y_train, None, None
        return hold_out(self.x_train, self.y_train, fraction, seed, "training.validation_split")

    def builder_inputs(self, fit_inputs: np.ndarray) -> tuple[dict, dict]:
        """What a builder learns from the data: ``(required, optional)``
        keyword arguments. A builder must take every required one; it gets
        an optional one when it takes it.

        Args:
            fit_inputs: The inputs the model trains on (validation share
                removed): preprocessing layers adapt to these only.
        """
        required = {"input_shape": self.input_shape, "num_classes": self.num_classes}
        adapt = {"adapt_data": fit_inputs}
        # Texts need a vocabulary: only a builder that adapts one fits them.
        return ({**required, **adapt}, {}) if self.is_text else (required, adapt)



def kept_classes(class_names: Sequence[str], classes: Sequence[int], source: str) -> np.ndarray:
    """Maps each class index to its new label when only ``classes`` are kept
    (0, 1, ... in the order given), -1 for a class left out.

    Raises:
        ValueError: naming the index that is not a class, or a repeat.
    """
    if len(set(classes)) != len(classes) or not classes:
        raise ValueError(f"expected distinct class indices. Received: {list(classes)}")
    for index in classes:
        if not 0 <= index < len(class_names):
            raise ValueError(
                f"{source} has classes 0 to {len(class_names) - 1} ({', '.join(class_names)}). Received: {index}"
            )
    relabel = np.full(len(class_names), -1, dtype=np.int64)
    relabel[list(classes)] = np.arange(len(classes))
    return relabel


def class_names_text(names: Sequence[str]) -> str:
    """The content of ``class_names.txt``."""
    return "\n".join(names) + "\n"


def hold_out(x: np.ndarray, y: np.ndarray, fraction: float, seed: int, key: str = "test_fraction"):
    """Splits off a seeded random ``fraction`` of the examples (at least one).

    Returns:
        ``(x_kept, y_kept, x_held_out, y_held_out)``.

    Raises:
        DataError: if ``fraction`` is not in (0, 1); the message names ``key``.
    """
    if not 0.0 < fraction < 1.0:
        raise DataError(f"{key} must be in (0, 1). Received: {key}={fraction}")
    order = np.random.default_rng(seed).permutation(len(x))
    cut = len(x) - max(1, int(round(len(x) * fraction)))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def stratified_hold_out(x: np.ndarray, y: np.ndarray, fraction: float, seed: int, key: str = "test_fraction"):
    """Like ``hold_out``, but holds out ``fraction`` of each class (at
    least one example of a class that has two or more)."""
    if not 0.0 < fraction < 1.0:
        raise DataError(f"{key} must be in (0, 1). Received: {key}={fraction}")
    rng = np.random.default_rng(seed)
    held = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        count = min(len(members) - 1, max(1, int(round(len(members) * fraction))))
        held.append(members[:count])
    held_out = np.zeros(len(x), bool)
    held_out[np.concatenate(held)] = True
    # Shuffled, so that a cut with max_train_examples keeps every class.
    kept, held = rng.permutation(np.flatnonzero(~held_out)), rng.permutation(np.flatnonzero(held_out))
    return x[kept], y[kept], x[held], y[held]


def encode_labels(labels: Sequence, class_names: Optional[list[str]] = None, source: str = "the data"):
    """Maps labels to 0..n-1; integer labels 0..n-1 keep their meaning
    (integral floats count as integers), and class names are numbered in
    sorted order.

    Raises:
        DataError: naming ``source``, for fractional or negative numbers
            (a regression target is not a class: each distinct value would
            silently become one).
    """
    values = np.asarray(labels)
    numbers = _as_numbers(values)
    if numbers is not None:
        fractional = numbers[numbers != np.round(numbers)]
        if fractional.size or (numbers.size and numbers.min() < 0):
            example = fractional[0] if fractional.size else numbers.min()
            raise DataError(
                f"{source}: the labels are numbers but not class numbers 0, 1, 2, ... (one is {example:g}). "
                "kerasdl classifies: give each example a class number or a class name."
            )
        values = numbers.astype(np.int64)
    if np.issubdtype(values.dtype, np.integer):
        count = int(values.max()) + 1 if values.size else 0
        names = class_names or [str(index) for index in range(count)]
        return values.astype(np.int64), names
    names = class_names or sorted({str(value) for value in values})
    lookup = {name: index for index, name in enumerate(names)}
    return np.array([lookup[str(value)] for value in values], dtype=np.int64), names


def _as_numbers(values: np.ndarray) -> Optional[np.ndarray]:
    """Numeric labels as float64; None for class names (strings, booleans)."""
    if np.issubdtype(values.dtype, np.number) and not np.issubdtype(values.dtype, np.bool_):
        return values.astype(np.float64)
    return None
