"""Word2Vec's sparse training step: trains a ``build_word2vec`` model's two
embedding tables much faster than ``model.fit`` could, because it touches
only the rows a batch uses.

The gradients come from ``models.skipgram`` or ``models.cbow`` (the model's
architecture) on the batch's block layout and go back to the rows with
sparse updates (plain SGD, or row-wise Adagrad). The step is compiled with
XLA.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
import time
from typing import Any, Iterator, Optional

import keras
import numpy as np
import tensorflow as tf

from kerasdl.data import skipgram as batching
from kerasdl.data.corpus import Corpus
from kerasdl.models import cbow, skipgram

# The sparse updates kerasdl has.
OPTIMIZERS = ("sgd", "adagrad")


class Word2VecTrainer:
    """Trains a ``build_word2vec`` model's embeddings, skip-gram or CBOW.

    Args:
        model: The model; its ``target_embedding`` and ``context_embedding``
            tables are updated in place.
        corpus: Its window and block layout.
        batch_size: Centre tokens per step (a multiple of the block size).
        optimizer: ``sgd``, or ``adagrad`` (row-wise: one accumulator per
            row, updated from the row's squared gradient).
        learning_rate: A number or a Keras schedule of the step.
        jit_compile: Compile the step with XLA.
        strategy: A ``tf.distribute`` strategy with several replicas splits
            each batch's blocks across them; the replicas' sparse gradients
            are gathered (across workers too) and the same update is applied
            to every copy of the tables. The model must have been built in
            the strategy's scope (its tables mirrored).
        steps_per_execution: Steps per call into the compiled function on
            one device: the producer thread stacks that many batches and the
            call loops over them, so Python's share of a step (converting
            the batch, dispatching the call, about a fifth of a 4,096-centre
            step on 2 cores) is paid once per call. The steps and their
            order are the same as one by one. With several replicas each
            call is one step.
    """

    def __init__(
        self,
        model: keras.Model,
        corpus: Corpus,
        batch_size: int,
        optimizer: str = "sgd",
        learning_rate: Any = 0.025,
        jit_compile: bool = True,
        strategy: Optional[tf.distribute.Strategy] = None,
        steps_per_execution: int = 1,
    ):
        if steps_per_execution < 1:
            raise ValueError("steps_per_execution must be at least 1. Received: "
                             f"steps_per_execution={steps_per_execution}")
        replicas = strategy.num_replicas_in_sync if strategy is not None else 1
        if replicas > 1 and batch_size % (replicas * corpus.block_size):
            raise ValueError(
                f"batch_size must split into whole blocks of {corpus.block_size} across the {replicas} replicas "
                f"(a multiple of {replicas * corpus.block_size}). Received: batch_size={batch_size}"
            )
        batching.check_layout(corpus.window, batch_size // replicas, corpus.block_size)
        self.strategy = strategy if replicas > 1 else None
        self.replicas = replicas
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}. Received: optimizer={optimizer!r}")
        self.corpus, self.batch_size, self.optimizer = corpus, batch_size, optimizer
        self.learning_rate = learning_rate
        self.target = model.get_layer(skipgram.TARGET_EMBEDDING).embeddings.value
        self.context = model.get_layer(skipgram.CONTEXT_EMBEDDING).embeddings.value
        self.num_negative_samples = int(model.input["negatives"].shape[-1])
        self.architecture = skipgram.architecture(model)
        rows = int(self.target.shape[0])
        with strategy.scope() if self.strategy else contextlib.nullcontext():
            self.accumulators = (
                (tf.Variable(tf.zeros(rows)), tf.Variable(tf.zeros(rows))) if optimizer == "adagrad" else None
            )
            self.iterations = tf.Variable(0, dtype=tf.int64)
            # The epoch's summed loss and pair count, kept on the device.
            self.totals = tf.Variable(tf.zeros(2))
        self.noise = batching.NoiseTable(corpus.vocabulary.counts)
        self.steps_per_execution = steps_per_execution if self.strategy is None else 1
        if self.strategy is None:
            self._step = tf.function(self._train_step, jit_compile=jit_compile)
            self._steps = tf.function(self._train_steps, jit_compile=jit_compile)
        else:
            self._gradients_fn = tf.function(self._gradients, jit_compile=jit_compile)
            self._distributed = tf.function(self._distributed_step)

    def _rate(self) -> tf.Tensor:
        if callable(self.learning_rate):
            return tf.cast(self.learning_rate(self.iterations), tf.float32)
        return tf.constant(self.learning_rate, tf.float32)

    def _apply(self, table: tf.Variable, accumulator: Optional[tf.Variable], rows: tf.Tensor, gradient: tf.Tensor,
               rate: tf.Tensor) -> None:
        if accumulator is None:
            table.scatter_sub(tf.IndexedSlices(rate * gradient, rows))
            return
        accumulator.scatter_add(tf.IndexedSlices(tf.reduce_mean(gradient * gradient, axis=1), rows))
        scale = rate / (tf.sqrt(tf.gather(accumulator, rows)) + 1e-7)
        table.scatter_sub(tf.IndexedSlices(scale[:, None] * gradient, rows))

    def _gradients(self, tokens, documents, reach, negatives) -> tuple:
        """The batch's summed loss and examples, and the rows of both tables
        it touches with their gradients."""
        corpus = self.corpus
        layout = skipgram.block_examples(
            tokens, documents, reach, negatives, window=corpus.window, block_size=corpus.block_size,
            num_negative_samples=self.num_negative_samples,
        )
        shape = {"window": corpus.window, "block_size": corpus.block_size}
        if self.architecture == "cbow":
            return cbow.gradients(tokens, negatives, layout, self.target, self.context,
                                  num_negative_samples=self.num_negative_samples, **shape)
        return skipgram.gradients(tokens, negatives, layout, self.target, self.context, **shape)

    def _update(self, totals, input_rows, input_gradient, output_rows, output_gradient) -> None:
        rate = self._rate()
        adagrad = self.accumulators or (None, None)
        self._apply(self.target, adagrad[0], input_rows, input_gradient, rate)
        self._apply(self.context, adagrad[1], output_rows, output_gradient, rate)
        self.iterations.assign_add(1)
        self.totals.assign_add(totals)

    def _train_step(self, tokens, documents, reach, negatives) -> None:
        self._update(*self._gradients(tokens, documents, reach, negatives))

    def _train_steps(self, tokens, documents, reach, negatives, count) -> None:
        """The first ``count`` of a call's stacked batches, one step each.

        A ``while`` on a tensor, not ``tf.range(count)``: XLA would need the
        range's length as a constant and compile once per ``count``."""
        index = tf.constant(0)
        while index < count:
            self._train_step(tokens[index], documents[index], reach[index], negatives[index])
            index += 1

    def _distributed_step(self, per_replica) -> None:
        results = self.strategy.run(lambda parts: self._gradients_fn(*parts), args=(per_replica,))
        totals, *rows_and_gradients = (self.strategy.gather(value, axis=0) for value in results)
        self._update(tf.reduce_sum(tf.reshape(totals, [-1, 2]), axis=0), *rows_and_gradients)

    def _shares(self, batch: batching.Batch) -> tuple:
        """Each replica's consecutive share of the batch's blocks, with the
        ``window`` tokens of context on either side of it."""
        share = len(batch.reach) // self.replicas
        window, blocks = self.corpus.window, share // self.corpus.block_size

        def part(context: tf.distribute.ValueContext) -> tuple:
            index = context.replica_id_in_sync_group
            start = index * share
            return (
                batch.tokens[start:start + share + 2 * window],
                batch.documents[start:start + share + 2 * window],
                batch.reach[start:start + share],
                batch.negatives[index * blocks:(index + 1) * blocks],
            )

        return self.strategy.experimental_distribute_values_from_function(part)

    def step(self, batch: batching.Batch) -> None:
        """One training step on a batch."""
        if self.strategy is None:
            self._step(batch.tokens, batch.documents, batch.reach, batch.negatives)
        else:
            self._distributed(self._shares(batch))

    def compile_step(self) -> Optional[float]:
        """Compiles the one-device step now, with a call that trains on
        nothing (zero steps), so that the first epoch's time is training
        time; returns the seconds it took (None with several replicas, whose
        step compiles on its first batch)."""
        if self.strategy is not None:
            return None
        start = time.perf_counter()
        corpus = self.corpus
        empty = batching.Batch.padding(self.batch_size, corpus.window, corpus.block_size, corpus.shared_negatives)
        *stacked, _ = next(_stacked(iter([empty]), self.steps_per_execution))
        self._steps(*stacked, tf.constant(0))
        return time.perf_counter() - start

    def train_epoch(self, rng: np.random.Generator) -> dict:
        """One pass over the corpus; batches are made on a second thread.

        Returns:
            ``loss`` (mean per example, negatives included), ``pairs``
            (the examples: skip-gram's (centre, context) pairs, CBOW's
            centres with a context) and ``seconds``.
        """
        start = time.perf_counter()
        self.totals.assign(tf.zeros(2))
        batches = self.corpus.batches(self.batch_size, rng, self.noise)
        if self.strategy is not None:
            for batch in _prefetch(batches):
                self.step(batch)
        else:
            for call in _prefetch(_stacked(batches, self.steps_per_execution)):
                self._steps(*call)
        loss, pairs = (float(value) for value in self.totals.numpy())
        return {
            "loss": loss / max(pairs, 1.0),
            "pairs": int(pairs),
            "seconds": time.perf_counter() - start,
        }



def _stacked(batches: Iterator[batching.Batch], size: int) -> Iterator[tuple]:
    """Batches ``size`` at a time as the stacked tensors of one call, and how
    many of them are real (the last call of an epoch is filled up with
    copies of its last batch, which are not trained on)."""
    batches = iter(batches)
    while group := list(itertools.islice(batches, size)):
        filled = group + group[-1:] * (size - len(group))
        yield tuple(
            tf.constant(np.stack([getattr(item, field) for item in filled]))
            for field in ("tokens", "documents", "reach", "negatives")
        ) + (tf.constant(len(group)),)


def _prefetch(iterator: Iterator, depth: int = 8) -> Iterator:
    """Runs ``iterator`` on a background thread, ``depth`` items ahead
    (NumPy releases the GIL, so batching overlaps the training step)."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            for item in iterator:
                items.put(item)
        except BaseException as error:  # Re-raised on the consumer's side.
            failure.append(error)
        finally:
            items.put(done)

    threading.Thread(target=produce, daemon=True).start()
    while (item := items.get()) is not done:
        yield item
    if failure:
        raise failure[0]
