"""Word2Vec's batch layout and skip-gram's sparse gradients on it.

A batch (``data.skipgram.Batch``) is cut into blocks of consecutive
centres; each block is scored against its window of context tokens and its
shared negatives with one matrix product (``block_examples``), and
``gradients`` returns the rows of both tables the batch touches with their
gradients, for the sparse updates of ``models.word2vec_trainer``. CBOW's
gradients on the same layout: ``models.cbow``.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

# The embedding layers' names in a ``build_word2vec`` model: the word
# vectors (the input side) and the output side, in both architectures.
TARGET_EMBEDDING = "target_embedding"
CONTEXT_EMBEDDING = "context_embedding"
# A CBOW model's input that marks the context words to average.
CONTEXT_MASK = "context_mask"
ARCHITECTURES = ("skipgram", "cbow")


def architecture(model: keras.Model) -> str:
    """A ``build_word2vec`` model's architecture, read from its inputs."""
    return "cbow" if CONTEXT_MASK in model.input else "skipgram"


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


def gradients(
    tokens: tf.Tensor,
    negatives: tf.Tensor,
    layout: dict[str, tf.Tensor],
    inputs: tf.Variable,
    outputs: tf.Variable,
    *,
    window: int,
    block_size: int,
) -> tuple:
    """A batch's skip-gram loss and the sparse gradients of both tables.

    Args:
        tokens: The batch's ``[B + 2W]`` token ids.
        negatives: ``[blocks, S]`` shared noise words.
        layout: ``block_examples`` of the batch.
        inputs: The word vectors (``target_embedding``).
        outputs: The output vectors (``context_embedding``).

    Returns:
        ``(loss, pairs)``, the input rows (the centres) and their
        gradients, the output rows (the batch's tokens, then the negatives)
        and theirs.
    """
    centers, positive, negative_weight = layout["centers"], layout["positive"], layout["negative_weight"]
    dimension = inputs.shape[1]
    targets = tf.gather(inputs, centers)  # [blocks, G, dim]
    # Context rows are gathered once per token, then cut into the
    # overlapping windows; the negatives come from the same table.
    window_vectors = windows(tf.gather(outputs, tokens), window, block_size)
    negative_vectors = tf.gather(outputs, negatives)  # [blocks, S, dim]
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
    window_gradient = fold_windows(tf.einsum("bcj,bcd->bjd", window_error, targets), window, block_size)
    negative_gradient = tf.einsum("bcs,bcd->bsd", negative_error, targets)
    return (
        tf.stack([loss, tf.reduce_sum(positive)]),
        tf.reshape(centers, [-1]),
        tf.reshape(target_gradient, [-1, dimension]),
        tf.concat([tokens, tf.reshape(negatives, [-1])], axis=0),
        tf.concat([window_gradient, tf.reshape(negative_gradient, [-1, dimension])], axis=0),
    )
