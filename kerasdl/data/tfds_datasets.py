"""TensorFlow Datasets: a prepared TFDS dataset, offline unless allowed to download."""

from __future__ import annotations

from typing import Optional

import numpy as np

from kerasdl.data.dataset import Dataset, encode_labels
from kerasdl.errors import DataError
from kerasdl.registry import register_dataset


@register_dataset("tfds")
def load_tfds(
    name: str,
    data_dir: Optional[str] = None,
    download: bool = False,
    train_split: str = "train",
    test_split: str = "test",
) -> Dataset:
    """A TensorFlow Datasets dataset with (image or features, label) pairs.

    Args:
        name: TFDS name, e.g. ``mnist``.
        data_dir: Where prepared TFDS data lives (TFDS's default if null).
        download: Allow TFDS to download. Off by default: offline, TFDS
            retries for minutes before failing.
        train_split: TFDS split for training.
        test_split: TFDS split for the final evaluation.
    """
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
        if download:
            builder.download_and_prepare()
        splits = builder.as_dataset(split=[train_split, test_split], as_supervised=True)
    except Exception as error:  # TFDS raises many types for "not prepared".
        raise DataError(
            f"TFDS dataset '{name}' could not be loaded from data_dir={data_dir!r}: "
            f"{str(error).splitlines()[0] if str(error) else type(error).__name__}. "
            "Prepare it where you are online (or set `data.download: true`), then "
            "point `data.data_dir` at it."
        ) from None
    # Batches, then one concatenation: batch_size=-1 aborts on generator-backed
    # datasets (TFDS's mock data among them).
    (x_train, y_train), (x_test, y_test) = (
        [np.concatenate(part) for part in zip(*tfds.as_numpy(split.batch(4096)))]
        for split in splits
    )
    label = builder.info.features["label"] if "label" in builder.info.features else None
    names = list(label.names) if getattr(label, "names", None) else None
    y_all, names = encode_labels(np.concatenate([y_train, y_test]), names)
    return Dataset(x_train, y_all[: len(y_train)], x_test, y_all[len(y_train):], names, f"TFDS {name}")
