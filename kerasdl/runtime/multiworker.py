"""Keras 3's ``fit`` under ``MultiWorkerMirroredStrategy``: two repairs.

Keras 3 (3.15 here, and every 3.x since TensorFlow 2.16) fails ``fit``
with ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585,
tensorflow/tensorflow#72388), in two places of its TensorFlow trainer:

1. Before the first step, ``_maybe_symbolic_build`` averages the first
   distributed batch with ``strategy.reduce(..., axis=None)``, which a
   multi-worker strategy cannot do eagerly on a batch ("Attempt to convert
   a value (PerReplica ...) to a Tensor"). The batch only gives the build
   its shapes: this worker's first local batch does the same.
2. After each step, ``reduce_per_replica`` averages the metric results
   across workers with ``axis=0``, which fails for the scalar results
   ("Invalid reduction dimension 0 for input with 0 dimensions"). A scalar's
   mean across replicas is ``axis=None``.

``repair()`` patches both, once, and only when a multi-worker strategy is
in use; single-process training runs Keras unchanged.
"""

from __future__ import annotations

import functools

import tensorflow as tf
from keras.src.backend.tensorflow import trainer as tf_trainer

_repaired = False


def repair() -> None:
    """Applies both repairs (idempotent)."""
    global _repaired
    if _repaired:
        return
    _repaired = True
    original_reduce = tf_trainer.reduce_per_replica

    @functools.wraps(original_reduce)
    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and tf_trainer._collective_all_reduce_multi_worker(strategy):
            return tf.nest.map_structure(
                lambda value: strategy.reduce("MEAN", value, axis=None)
                if value.shape.rank == 0 else strategy.reduce("MEAN", value, axis=0),
                values,
            )
        return original_reduce(values, strategy, reduction)

    tf_trainer.reduce_per_replica = reduce_per_replica
    original_build = tf_trainer.TensorFlowTrainer._maybe_symbolic_build

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if iterator is None or strategy is None or not tf_trainer._collective_all_reduce_multi_worker(strategy):
            return original_build(self, iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:
            batch = next(batches)
            local = tf.nest.map_structure(
                lambda value: strategy.experimental_local_results(value)[0]
                if isinstance(value, tf.distribute.DistributedValues) else value,
                batch,
            )
            break
        with strategy.scope():
            self._symbolic_build(data_batch=local)

    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
