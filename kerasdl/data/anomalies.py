"""Normal and abnormal examples for anomaly detection (the ``anomaly``
section): a dataset recast as two classes, ``normal`` (0) and ``abnormal``
(1), whose training split holds normal examples only.

Two settings, as the field scores detectors:

- ``abnormal_dataset``: another dataset's test split joins the test split
  as the abnormal inputs (Fashion-MNIST normal, MNIST digits abnormal);
- ``held_out_class``: one class is left out of training, and its test
  examples are the abnormal ones (one-class-out).
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Union

import numpy as np

from kerasdl.data.balance import class_index
from kerasdl.data.dataset import Dataset

CLASSES = ["normal", "abnormal"]
NORMAL, ABNORMAL = 0, 1
# What a detector answers for each example: one score, higher for the more abnormal.
SCORE = "score"


@dataclasses.dataclass
class Anomalies(Dataset):
    """Normal and abnormal examples: a detector answers one score each
    (``output_width`` 0: predictions of shape ``[n]``), named ``score``."""

    output_name = SCORE

    @property
    def output_width(self) -> int:
        return 0

    def export_assets(self) -> dict[str, str]:
        """None: a detector answers scores, not classes."""
        return {}


def _recast(data: Dataset, **changes: object) -> Anomalies:
    replaced = dataclasses.replace(data, **changes)
    return Anomalies(**{field.name: getattr(replaced, field.name) for field in dataclasses.fields(Dataset)})


def held_out_index(held_out: Union[int, str], class_names: list[str]) -> int:
    """A class given by index or by name, as its index.

    Raises:
        ValueError: naming the data's classes.
    """
    if isinstance(held_out, int) and not isinstance(held_out, bool):
        if not 0 <= held_out < len(class_names):
            raise ValueError(f"the data has classes 0 to {len(class_names) - 1} ({', '.join(class_names)}). "
                             f"Received: {held_out}")
        return held_out
    return class_index(held_out, class_names)


def one_class_out(data: Dataset, held_out: Union[int, str]) -> Anomalies:
    """Trains on every class but ``held_out``; its test examples are abnormal.

    Raises:
        ValueError: for a class the data does not have.
    """
    index = held_out_index(held_out, data.class_names)
    kept = data.y_train != index
    return _recast(
        data, x_train=data.x_train[kept], y_train=np.zeros(int(kept.sum()), np.int64),
        y_test=(data.y_test == index).astype(np.int64), class_names=list(CLASSES),
        source=f"{data.source}: normal every class but {data.class_names[index]}, abnormal {data.class_names[index]}",
    )


def against(data: Dataset, abnormal: Dataset, max_test: Optional[int] = None) -> Anomalies:
    """Trains on all of ``data``; the test split is its own (normal) then
    ``abnormal``'s test split (at most ``max_test`` of it).

    Raises:
        ValueError: when the two datasets' examples differ in shape.
    """
    if abnormal.input_shape != data.input_shape:
        raise ValueError(f"its examples have shape {abnormal.input_shape}, and {data.source}'s "
                         f"{data.input_shape}: a model of one cannot read the other")
    outsiders = abnormal.x_test[:max_test].astype(data.x_test.dtype)
    return _recast(
        data, y_train=np.zeros(len(data.y_train), np.int64),
        x_test=np.concatenate([data.x_test, outsiders]),
        y_test=np.concatenate([np.zeros(len(data.x_test), np.int64), np.ones(len(outsiders), np.int64)]),
        class_names=list(CLASSES), source=f"{data.source}: normal, {abnormal.source}: abnormal",
    )
