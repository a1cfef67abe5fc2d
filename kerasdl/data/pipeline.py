"""tf.data input pipelines: how examples, in memory or streamed from files,
become the batches a model trains on.

Every kind of labelled data hands the task a ``Pipelines`` (train,
validation and test batches, ``Feed`` deciding cache, shuffle and
sharding); ``finish`` is the one place where elements are cached,
shuffled, batched and prefetched.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import tensorflow as tf

# A streamed source's element shuffle buffer when the recipe sets none and
# a cache fixes the order of elements (file order is shuffled otherwise):
# bounded, as the elements may be large images.
STREAM_SHUFFLE_BUFFER = 2048


@dataclasses.dataclass(frozen=True)
class Feed:
    """How examples become batches.

    Attributes:
        batch_size: The global batch (a strategy splits it across replicas
            and workers).
        seed: Seeds the shuffles and the validation split.
        cache: ``memory``, ``disk`` or ``none`` (``auto`` is resolved by the
            data: memory for arrays, none for streamed files).
        shuffle_buffer: Elements in the shuffle buffer; None for the data's
            default (the whole set for arrays).
        cache_dir: Where ``disk`` caches go; None until the run has a
            folder (no cache meanwhile).
        shard: ``(count, index)``: this worker's share of a multi-worker
            run's files, or None.
        service: A tf.data service dispatcher (``grpc://host:port``) that
            does the training pipeline's preprocessing, or None.
        oversample: Repeat the training examples of smaller classes until
            every class has as many as the largest (``balance.oversampled``).
    """

    batch_size: int
    seed: int
    cache: str = "memory"
    shuffle_buffer: Optional[int] = None
    cache_dir: Optional[Path] = None
    shard: Optional[tuple[int, int]] = None
    service: Optional[str] = None
    oversample: bool = False

    def resolved(self, streamed: bool) -> "Feed":
        """``cache: auto`` made concrete for in-memory (memory) or streamed (none) data."""
        if self.cache != "auto":
            return self
        return dataclasses.replace(self, cache="none" if streamed else "memory")


@dataclasses.dataclass
class Pipelines:
    """What a task trains and tests on.

    Attributes:
        train, validation, test: Batched ``(inputs, labels)`` datasets;
            validation is None without a validation split.
        train_examples: Examples in one epoch of ``train`` (all workers).
        fit_inputs: What preprocessing layers adapt to: the training
            inputs (arrays), or a bounded sample of them for streamed data.
        fit_labels: The training labels (validation share removed), each
            example once (before any oversampling).
    """

    train: tf.data.Dataset
    validation: Optional[tf.data.Dataset]
    test: tf.data.Dataset
    train_examples: int
    fit_inputs: Any
    fit_labels: np.ndarray


def cache_name(split: str, identity: str) -> str:
    """A disk cache's file name: the split and a digest of what it holds, so
    a cache is never read for other files or another split."""
    return f"{split}-{hashlib.sha256(identity.encode()).hexdigest()[:16]}"


def finish(
    dataset: tf.data.Dataset,
    feed: Feed,
    *,
    split: str,
    identity: Callable[[], str],
    size: int,
    shuffle: bool = False,
    default_buffer: Optional[int] = None,
    sharded: bool = False,
) -> tf.data.Dataset:
    """Caches, shuffles, batches and prefetches a dataset of single examples.

    Args:
        split: ``train``, ``validation`` or ``test`` (names a disk cache).
        identity: What the dataset holds (its files, its arrays' size):
            part of a disk cache's name, asked for only when there is one.
        size: Examples in ``dataset``.
        shuffle: Reshuffle every epoch (training), through a buffer of
            ``feed.shuffle_buffer`` examples, or else ``default_buffer``
            (the whole set when None; 0 for none, as a source that
            shuffles its own files needs none).
        sharded: The source took this worker's share of the files itself;
            tf.data must not shard again.
    """
    cached = feed.cache in ("memory", "disk") and split != "test"  # The test split is read once.
    if cached and feed.cache == "memory":
        dataset = dataset.cache()
    elif cached and feed.cache_dir is not None:
        dataset = dataset.cache(str(disk_cache(feed.cache_dir, cache_name(split, identity()))))
    if shuffle:
        buffer = feed.shuffle_buffer or (size if default_buffer is None else default_buffer)
        if buffer:
            dataset = dataset.shuffle(min(buffer, max(size, 1)), seed=feed.seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(feed.batch_size)
    if shuffle and feed.service:
        # The service's workers split an epoch's files among them: each
        # example is read once an epoch, however many workers there are.
        dataset = dataset.apply(tf.data.experimental.service.distribute(
            processing_mode="distributed_epoch", service=feed.service,
        ))
    options = tf.data.Options()
    # A source that sharded its files itself must not be sharded again; in
    # memory there are no files, so each worker keeps its share of elements.
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.OFF if sharded else tf.data.experimental.AutoShardPolicy.DATA
    )
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)


def disk_cache(folder: Path, name: str) -> Path:
    """The path of a disk cache in ``folder``, with any unfinished cache of
    that name removed: a run killed while writing leaves a lock file that
    would stop every later read (one run owns its folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.glob(f"{name}*.lockfile")):
        for stale in folder.glob(f"{name}*"):
            stale.unlink()
    return folder / name


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
    """Batches in-memory ``(x, y)`` with optional cache and per-epoch
    reshuffling (the whole set by default), then prefetches."""
    feed = Feed(batch_size, seed or 0, "memory" if cache else "none", shuffle_buffer)
    return finish(
        tf.data.Dataset.from_tensor_slices((x, y)), feed, split="arrays", identity=str, size=len(x), shuffle=shuffle,
    )
