"""Class imbalance: weights for the loss (``training.class_weight``) and
oversampling of the training split (``training.oversample``).

Both act on the training split only; validation and test keep the data's
own class frequencies, so their scores stay comparable between runs.
"""

from __future__ import annotations

from typing import Any, Sequence, Union

import numpy as np

# training.class_weight's one string value.
BALANCED = "balanced"


def class_weights(setting: Union[str, dict], labels: np.ndarray, class_names: Sequence[str]) -> dict[int, float]:
    """The weight of each class's examples in the training loss.

    Args:
        setting: ``"balanced"`` (scikit-learn's rule: examples / (classes x
            the class's examples), so every class weighs the same in all),
            or a mapping of class name to weight (classes not named weigh 1).
        labels: The training labels (class indices).
        class_names: The data's classes, in index order.

    Raises:
        ValueError: for a name that is not a class of the data, or a
            class the training split does not have.
    """
    counts = np.bincount(np.asarray(labels, np.int64), minlength=len(class_names))
    if setting == BALANCED:
        present = counts > 0
        return {
            index: float(len(labels) / (present.sum() * count)) if count else 1.0
            for index, count in enumerate(counts)
        }
    weights = {index: 1.0 for index in range(len(class_names))}
    for name, weight in setting.items():
        index = class_index(name, class_names)
        if not counts[index]:
            raise ValueError(f"class '{name}' has no training examples to weigh")
        weights[index] = float(weight)
    return weights


def class_index(name: Any, class_names: Sequence[str]) -> int:
    """The index of a class named in a recipe (YAML may read ``0`` as a number).

    Raises:
        ValueError: naming the data's classes.
    """
    names = [str(known) for known in class_names]
    if str(name) not in names:
        raise ValueError(f"'{name}' is not a class of the data; its classes are: {', '.join(names)}")
    return names.index(str(name))


def oversampled(labels: np.ndarray, seed: int) -> np.ndarray:
    """Indices into ``labels`` that repeat each class's examples, drawn at
    random with replacement, until every class has as many as the largest
    (imbalanced-learn's ``RandomOverSampler``): every original example
    once, in order, then the draws, sorted."""
    labels = np.asarray(labels, np.int64)
    counts = np.bincount(labels)
    rng = np.random.default_rng(seed)
    extra = [
        rng.choice(np.flatnonzero(labels == label), counts.max() - count, replace=True)
        for label, count in enumerate(counts) if 0 < count < counts.max()
    ]
    return np.concatenate([np.arange(len(labels)), np.sort(np.concatenate(extra))]) if extra else np.arange(len(labels))
