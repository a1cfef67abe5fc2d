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
    """Batches ``(x, y)`` with optional cache and per-epoch reshuffling, then prefetches.

    ``batch_size`` is the global batch: a distribution strategy splits it
    across replicas (and workers)."""
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if cache:
        dataset = dataset.cache()
    if shuffle:
        buffer = min(shuffle_buffer or len(x), len(x))
        dataset = dataset.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    # In-memory data has no files to shard: each worker of a multi-worker
    # strategy keeps its share of the batches' elements.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE).with_options(options)
