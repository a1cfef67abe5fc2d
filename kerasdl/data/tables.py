"""Tables of numbers: a CSV file with a label column (streamed line by
line), or NumPy arrays in an .npz (in memory)."""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from kerasdl.data.dataset import Dataset, encode_labels, hold_out
from kerasdl.data.files import count_lines, scan_csv_rows
from kerasdl.data.records import CsvLines, Records
from kerasdl.data.streaming import in_order
from kerasdl.errors import DataError
from kerasdl.registry import register_dataset


@dataclasses.dataclass(frozen=True, eq=False)
class CsvSpec(CsvLines):
    """A CSV table's lines as ``records.Records`` reads them: every column
    but the label a number, the label looked up by line (read once at
    loading).

    Attributes:
        feature_columns: The indices of the feature columns.
        input_shape: One example's shape (``feature_shape``, or the row).
        labels: Each data line's class, by line number (-1: not an example).
    """

    feature_columns: tuple[int, ...]
    input_shape: tuple[int, ...]
    labels: np.ndarray
    is_text = False

    def example(self, line: tf.Tensor, number: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        fields = tf.io.decode_csv(line, [[0.0]] * len(self.feature_columns), select_cols=list(self.feature_columns))
        return tf.reshape(tf.stack(fields), self.input_shape), tf.gather(self.labels, number)


def _scan_csv(path: Path, label_column: str, skip_corrupt: bool) -> tuple:
    """One pass over a CSV table keeping only its labels (never its numbers).

    Returns:
        ``(header, label index, labels, ragged)``: the label of each line
        after the header (None for a blank one or a ragged one skipped),
        and how many ragged lines were skipped.

    Raises:
        DataError: as ``read_csv_rows``; a ragged line names its number
            unless ``skip_corrupt``.
    """
    header, (label_index,), rows = scan_csv_rows(
        path, [("label_column", label_column)], "one example", ragged_ok=skip_corrupt, offers_skip=True,
    )
    labels, ragged = [], 0
    for line, row in rows:
        labels += [None] * (line - 2 - len(labels))  # Blank lines are not examples.
        ragged += row is None
        labels.append(None if row is None else row[label_index])
    # One label a line after the header, as TextLineDataset numbers them.
    return header, label_index, labels + [None] * (count_lines(path) - 1 - len(labels)), ragged


def _encoded(labels: list, source: str) -> tuple[np.ndarray, list[str]]:
    """Class numbers for labels (None: -1), as ``encode_labels`` numbers them."""
    present = [label for label in labels if label is not None]
    try:
        numbers = np.array([float(label) for label in present], np.float64)
    except ValueError:  # Class names.
        encoded, names = encode_labels(present, source=source)
    else:
        encoded, names = encode_labels(numbers, source=source)
    result = np.full(len(labels), -1, np.int64)
    result[[index for index, label in enumerate(labels) if label is not None]] = encoded
    return result, names


@register_dataset("csv")
def load_csv(
    path: str,
    label_column: str = "label",
    test_path: Optional[str] = None,
    test_fraction: float = 0.2,
    feature_shape: Optional[Sequence[int]] = None,
    seed: int = 42,
    skip_corrupt: bool = False,
) -> Records:
    """A CSV file with a header: one label column, every other column a
    number. Streamed: loading reads only the labels; lines are parsed as
    training reads them.

    Args:
        path: The training CSV (or the whole data when ``test_path`` is unset).
        label_column: Name of the label column (integers or class names).
        test_path: Optional CSV with the test split.
        test_fraction: Share held out for testing when there is no test_path.
        feature_shape: Reshape each row, e.g. ``[28, 28, 1]`` for images.
        seed: Seed of the held-out split.
        skip_corrupt: Leave out (and count) ragged lines and lines whose
            features are not numbers; by default such a line stops the run
            with a message naming it.
    """
    files = [Path(path).expanduser()] + ([Path(test_path).expanduser()] if test_path else [])
    scans = [_scan_csv(file, label_column, skip_corrupt) for file in files]
    header, label_index = scans[0][0], scans[0][1]
    for file, scan in zip(files[1:], scans[1:]):
        if scan[0] != header:
            raise DataError(f"{file}: its columns ({', '.join(scan[0])}) differ from {files[0]}'s "
                            f"({', '.join(header)}).")
    labels, names = _encoded([label for scan in scans for label in scan[2]], f"{path}: column '{label_column}'")
    offsets = np.cumsum([0] + [len(scan[2]) for scan in scans])
    features = tuple(index for index in range(len(header)) if index != label_index)
    shape = tuple(feature_shape) if feature_shape else (len(features),)
    if int(np.prod(shape)) != len(features):
        raise DataError(
            f"{path}: feature_shape {list(shape)} holds {int(np.prod(shape))} values "
            f"but each row has {len(features)} features."
        )
    numbers = np.flatnonzero(labels >= 0)
    split = int(offsets[1])
    if test_path:
        train, test = numbers[numbers < split], numbers[numbers >= split]
        train, train_labels, test, test_labels = train, labels[train], test, labels[test]
    else:
        train, train_labels, test, test_labels = hold_out(numbers, labels[numbers], test_fraction, seed)
        (train, train_labels), (test, test_labels) = in_order(train, train_labels), in_order(test, test_labels)
    ragged = sum(scan[3] for scan in scans)
    return Records(
        train, train_labels, test, test_labels, names, f"CSV {path}",
        skip_corrupt=skip_corrupt, skipped=ragged,
        notes=[f"Skipped {ragged} lines with the wrong number of fields (data.skip_corrupt)."] if ragged else [],
        files=tuple(map(str, files)), offsets=offsets, spec=CsvSpec(features, shape, labels),
    )


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
    if not zipfile.is_zipfile(file):
        raise DataError(f"{file}: not a NumPy .npz archive (a zip of .npy arrays). Write it with np.savez.")
    try:
        with np.load(file, allow_pickle=False) as arrays:
            content = {key: arrays[key] for key in arrays.files}
    except ValueError as error:  # Object arrays need pickle, which runs code: refused.
        raise DataError(f"{file}: {error}. Save plain numeric arrays (np.savez with numbers, not objects).") from None
    except (OSError, EOFError, zipfile.BadZipFile, AttributeError) as error:
        raise DataError(f"{file}: not a NumPy .npz archive ({error}). Write it with np.savez.") from None
    for key in ("x_train", "y_train"):
        if key not in content:
            raise DataError(f"{file} has no array '{key}'. Found: {', '.join(sorted(content))}.")
    for key in ("x_train", "y_train", "x_test", "y_test"):
        if key in content and content[key].ndim == 0:
            raise DataError(f"{file}: array '{key}' is a single number (0-d); kerasdl reads arrays of examples, "
                            "one per row. Save it with its examples along the first axis.")
    names = [str(name) for name in content["class_names"]] if "class_names" in content else None
    for x_key, y_key in (("x_train", "y_train"), ("x_test", "y_test")):
        if x_key in content and y_key in content and len(content[x_key]) != len(content[y_key]):
            raise DataError(
                f"{file}: {x_key} holds {len(content[x_key])} examples but {y_key} {len(content[y_key])} labels; "
                "they must pair one to one."
            )
    for key, array in content.items():
        if key != "class_names" and not np.issubdtype(array.dtype, np.number):
            raise DataError(f"{file}: array '{key}' holds {array.dtype} values; kerasdl reads numbers.")
    x, y = content["x_train"], content["y_train"]
    if "x_test" in content and "y_test" in content:
        x_test, y_test = content["x_test"], content["y_test"]
        y_all, names = encode_labels(np.concatenate([y, y_test]), names, f"{file}: y_train, y_test")
        y, y_test = y_all[: len(y)], y_all[len(y):]
    else:
        y, names = encode_labels(y, names, f"{file}: y_train")
        x, y, x_test, y_test = hold_out(x, y, test_fraction, seed)
    return Dataset(x, y, x_test, y_test, names, f"NPZ {file}")
