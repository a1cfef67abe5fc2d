"""Tables of numbers: a CSV file with a label column, or NumPy arrays in an .npz."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from kerasdl.data.dataset import Dataset, encode_labels, hold_out
from kerasdl.data.files import read_csv_rows
from kerasdl.errors import DataError
from kerasdl.registry import register_dataset


def _read_csv(path: Path, label_column: str) -> tuple[np.ndarray, list]:
    _, (label_index,), rows = read_csv_rows(path, [("label_column", label_column)], "one example")
    features, labels = [], []
    for line, row in rows:
        labels.append(row[label_index])
        try:
            features.append([float(v) for i, v in enumerate(row) if i != label_index])
        except ValueError as error:
            raise DataError(f"{path}, line {line}: features must be numbers ({error}).") from None
    try:
        labels = [int(label) for label in labels]
    except ValueError:
        pass  # String class names.
    return np.asarray(features, dtype=np.float32), labels


@register_dataset("csv")
def load_csv(
    path: str,
    label_column: str = "label",
    test_path: Optional[str] = None,
    test_fraction: float = 0.2,
    feature_shape: Optional[Sequence[int]] = None,
    seed: int = 42,
) -> Dataset:
    """A CSV file with a header: one label column, every other column a number.

    Args:
        path: The training CSV (or the whole data when ``test_path`` is unset).
        label_column: Name of the label column (integers or class names).
        test_path: Optional CSV with the test split.
        test_fraction: Share held out for testing when there is no test_path.
        feature_shape: Reshape each row, e.g. ``[28, 28, 1]`` for images.
        seed: Seed of the held-out split.
    """
    x, labels = _read_csv(Path(path), label_column)
    if test_path:
        x_test, test_labels = _read_csv(Path(test_path), label_column)
        y_all, names = encode_labels(list(labels) + list(test_labels))
        y, y_test = y_all[: len(x)], y_all[len(x):]
    else:
        y, names = encode_labels(labels)
        x, y, x_test, y_test = hold_out(x, y, test_fraction, seed)
    if feature_shape:
        shape = tuple(feature_shape)
        if int(np.prod(shape)) != x.shape[1]:
            raise DataError(
                f"{path}: feature_shape {list(shape)} holds {int(np.prod(shape))} values "
                f"but each row has {x.shape[1]} features."
            )
        x, x_test = x.reshape((-1,) + shape), x_test.reshape((-1,) + shape)
    return Dataset(x, y, x_test, y_test, names, f"CSV {path}")


@register_dataset("npz")
def load_npz(path: str, test_fraction: float = 0.2, seed: int = 42) -> Dataset:
    """A NumPy .npz with ``x_train``, ``y_train`` and optionally ``x_test``,
    ``y_test`` and ``class_names``.

    Args:
        path: The .npz file.
        test_fraction: Share of the training data held out for testing when
            the file has no ``x_test`` and ``y_test``.
        seed: Seed of the held-out split.
    """
    file = Path(path)
    if not file.is_file():
        raise DataError(f"NPZ file not found: {file}. Set `data.path` to an existing file.")
    with np.load(file, allow_pickle=False) as arrays:
        content = {key: arrays[key] for key in arrays.files}
    for key in ("x_train", "y_train"):
        if key not in content:
            raise DataError(f"{file} has no array '{key}'. Found: {', '.join(sorted(content))}.")
    names = [str(name) for name in content["class_names"]] if "class_names" in content else None
    x, y = content["x_train"], content["y_train"]
    if "x_test" in content and "y_test" in content:
        x_test, y_test = content["x_test"], content["y_test"]
        y_all, names = encode_labels(np.concatenate([y, y_test]), names)
        y, y_test = y_all[: len(y)], y_all[len(y):]
    else:
        y, names = encode_labels(y, names)
        x, y, x_test, y_test = hold_out(x, y, test_fraction, seed)
    return Dataset(x, y, x_test, y_test, names, f"NPZ {file}")
