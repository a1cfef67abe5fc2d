"""tf.data input pipelines from in-memory arrays."""

from __future__ import annotations

from typing import Optional

import numpy as np
import tensorflow as tf


def make_dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: Optional[int] = None,
    shuffle_buffer: Optional[int] = None,
    cache: bool = True,
) -> tf.data.Dataset:
    """Batches ``(x, y)`` with optional cache and per-epoch reshuffling, then prefetches."""
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if cache:
        dataset = dataset.cache()
    if shuffle:
        buffer = min(shuffle_buffer or len(x), len(x))
        dataset = dataset.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
