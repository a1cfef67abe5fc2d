"""Word2Vec's sparse skip-gram step: trains a ``build_word2vec`` model's two
embedding tables much faster than ``model.fit`` could, because it touches
only the rows a batch uses.

A batch (``data.skipgram.Batch``) is cut into blocks of consecutive
centres; each block is scored against its window of context tokens and its
shared negatives with one matrix product, and the gradients go back to the
rows with sparse updates (plain SGD, or row-wise Adagrad). The step is
compiled with XLA.
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

from kerasdl.data import skipgram
from kerasdl.data.corpus import Corpus

# The embedding layers' names in a ``build_word2vec`` model.
TARGET_EMBEDDING = "target_embedding"
CONTEXT_EMBEDDING = "context_embedding"
# The sparse updates kerasdl has.
OPTIMIZERS = ("sgd", "adagrad")


def windows(values: tf.Tensor, window: int, block_size: int) -> tf.Tensor:
    """Block b's window: rows b*G .. b*G+J-1 of a batch's ``[B + 2W, ...]``
    values (its own G rows, then the next 2W), as ``[blocks, J, ...]``."""
    batch_size = values.shape[0] - 2 * window
    blocks, rest = batch_size // block_size, list(values.shape[1:])
    padded = tf.pad(values, [[0, block_size - 2 * window]] + [[0, 0]] * len(rest))
    own = tf.reshape(padded[:batch_size], [blocks, block_size] + rest)
    after = tf.reshape(padded[block_size:batch_size + block_size], [blocks, block_size] + rest)[:, :2 * window]
    return tf.concat([own, after], axis=1)


def fold_windows(values: tf.Tensor, window: int, block_size: int) -> tf.Tensor:
    """The transpose of ``windows``: sums ``[blocks, J, ...]`` back onto the
    batch's ``[B + 2W, ...]`` rows (neighbouring windows overlap by 2W)."""
    blocks, rest = values.shape[0], list(values.shape[2:])
    batch_size = blocks * block_size
    own = tf.reshape(values[:, :block_size], [batch_size] + rest)
    after = tf.pad(values[:, block_size:], [[0, 0], [0, block_size - 2 * window]] + [[0, 0]] * len(rest))
    after = tf.reshape(after, [batch_size] + rest)
    zeros = [[0, 0]] * len(rest)
    total = tf.pad(own, [[0, block_size]] + zeros) + tf.pad(after, [[block_size, 0]] + zeros)
    return total[:batch_size + 2 * window]


def block_examples(
    tokens: tf.Tensor,
    documents: tf.Tensor,
    reach: tf.Tensor,
    negatives: tf.Tensor,
    *,
    window: int,
    block_size: int,
    num_negative_samples: int,
) -> dict[str, tf.Tensor]:
    """The pairs of a batch, laid out by blocks of ``block_size`` centres.

    Block ``b`` holds centres ``b*G .. b*G+G-1`` and the ``J = G + 2*window``
    tokens around them; a centre's window spans ``J`` columns of which the
    valid ones are its true contexts. Each centre is also scored against its
    block's shared negatives, except those that equal one of its true
    contexts; the others are weighted so that each of the centre's ``m``
    pairs counts ``num_negative_samples`` negatives, as in word2vec.

    Returns:
        ``centers`` [blocks, G] ids, ``windows`` [blocks, J] ids (the
        tokens around each block), ``positive`` [blocks, G, J] 1.0 where a
        column is the centre's context, ``negative_weight`` [blocks, G, S].
    """
    batch_size = reach.shape[0]
    blocks, span = batch_size // block_size, block_size + 2 * window
    window_tokens = windows(tokens, window, block_size)
    window_documents = windows(documents, window, block_size)
    centers = tf.reshape(tokens[window:window + batch_size], [blocks, block_size])
    center_documents = tf.reshape(documents[window:window + batch_size], [blocks, block_size])
    offsets = np.abs(np.arange(span)[None, :] - (window + np.arange(block_size))[:, None])
    reaches = tf.reshape(reach, [blocks, block_size, 1])
    positive = (
        (offsets > 0)[None]
        & (offsets <= reaches)
        & (window_documents[:, None, :] == center_documents[:, :, None])
    )
    positive = tf.cast(positive, tf.float32)
    equal = tf.cast(negatives[:, :, None] == window_tokens[:, None, :], tf.float32)  # [blocks, S, J]
    clashes = tf.einsum("bcj,bsj->bcs", positive, equal)
    allowed = tf.cast(clashes == 0.0, tf.float32)
    pairs = tf.reduce_sum(positive, axis=2, keepdims=True)
    usable = tf.maximum(tf.reduce_sum(allowed, axis=2, keepdims=True), 1.0)
    return {
        "centers": centers,
        "windows": window_tokens,
        "positive": positive,
        "negative_weight": allowed * pairs * (num_negative_samples / usable),
    }


class SkipGramTrainer:
    """Trains a ``build_word2vec`` model's embeddings on skip-gram batches.

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
        skipgram.check_layout(corpus.window, batch_size // replicas, corpus.block_size)
        self.strategy = strategy if replicas > 1 else None
        self.replicas = replicas
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}. Received: optimizer={optimizer!r}")
        self.corpus, self.batch_size, self.optimizer = corpus, batch_size, optimizer
        self.learning_rate = learning_rate
        self.target = model.get_layer(TARGET_EMBEDDING).embeddings.value
        self.context = model.get_layer(CONTEXT_EMBEDDING).embeddings.value
        self.num_negative_samples = int(model.input["negatives"].shape[-1])
        rows = int(self.target.shape[0])
        with strategy.scope() if self.strategy else contextlib.nullcontext():
            self.accumulators = (
                (tf.Variable(tf.zeros(rows)), tf.Variable(tf.zeros(rows))) if optimizer == "adagrad" else None
            )
            self.iterations = tf.Variable(0, dtype=tf.int64)
            # The epoch's summed loss and pair count, kept on the device.
            self.totals = tf.Variable(tf.zeros(2))
        self.noise = skipgram.NoiseTable(corpus.vocabulary.counts)
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
        """The batch's summed loss and pairs, and the rows of both tables it
        touches with their gradients."""
        corpus = self.corpus
        layout = block_examples(
            tokens, documents, reach, negatives, window=corpus.window, block_size=corpus.block_size,
            num_negative_samples=self.num_negative_samples,
        )
        centers, positive, negative_weight = layout["centers"], layout["positive"], layout["negative_weight"]
        dimension = self.target.shape[1]
        targets = tf.gather(self.target, centers)  # [blocks, G, dim]
        # Context rows are gathered once per token, then cut into the
        # overlapping windows; the negatives come from the same table.
        window_vectors = windows(tf.gather(self.context, tokens), corpus.window, corpus.block_size)
        negative_vectors = tf.gather(self.context, negatives)  # [blocks, S, dim]
        window_logits = tf.einsum("bcd,bjd->bcj", targets, window_vectors)
        negative_logits = tf.einsum("bcd,bsd->bcs", targets, negative_vectors)
        loss = tf.reduce_sum(positive * tf.nn.softplus(-window_logits)) + tf.reduce_sum(
            negative_weight * tf.nn.softplus(negative_logits)
        )
        # d loss / d logit of the logistic loss: sigmoid - label, weighted.
        window_error = (tf.sigmoid(window_logits) - 1.0) * positive
        negative_error = tf.sigmoid(negative_logits) * negative_weight
        target_gradient = tf.einsum("bcj,bjd->bcd", window_error, window_vectors) + tf.einsum(
            "bcs,bsd->bcd", negative_error, negative_vectors
        )
        window_gradient = fold_windows(
            tf.einsum("bcj,bcd->bjd", window_error, targets), corpus.window, corpus.block_size
        )
        negative_gradient = tf.einsum("bcs,bcd->bsd", negative_error, targets)
        return (
            tf.stack([loss, tf.reduce_sum(positive)]),
            tf.reshape(centers, [-1]),
            tf.reshape(target_gradient, [-1, dimension]),
            tf.concat([tokens, tf.reshape(negatives, [-1])], axis=0),
            tf.concat([window_gradient, tf.reshape(negative_gradient, [-1, dimension])], axis=0),
        )

    def _update(self, totals, target_rows, target_gradient, context_rows, context_gradient) -> None:
        rate = self._rate()
        adagrad = self.accumulators or (None, None)
        self._apply(self.target, adagrad[0], target_rows, target_gradient, rate)
        self._apply(self.context, adagrad[1], context_rows, context_gradient, rate)
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

    def _shares(self, batch: skipgram.Batch) -> tuple:
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

    def step(self, batch: skipgram.Batch) -> None:
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
        empty = skipgram.Batch.padding(self.batch_size, corpus.window, corpus.block_size, corpus.shared_negatives)
        *stacked, _ = next(_stacked(iter([empty]), self.steps_per_execution))
        self._steps(*stacked, tf.constant(0))
        return time.perf_counter() - start

    def train_epoch(self, rng: np.random.Generator) -> dict:
        """One pass over the corpus; batches are made on a second thread.

        Returns:
            ``loss`` (mean per pair, negatives included), ``pairs`` and
            ``seconds``.
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



def _stacked(batches: Iterator[skipgram.Batch], size: int) -> Iterator[tuple]:
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
