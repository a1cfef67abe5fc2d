"""Word2Vec's continuous bag of words (CBOW): the mean of a centre word's
context vectors predicts the centre word against noise words.

``gradients`` is the CBOW counterpart of skip-gram's sparse step
(``kerasdl.models.skipgram``): on the same block layout of a batch (the
same windows, reduced reaches, document bounds and shared negatives) it
returns the loss and the rows of both tables the batch touches with their
gradients. ``MaskedMean`` is the layer ``build_word2vec(architecture="cbow")``
averages with, registered so that saved models load in safe mode.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf
from keras import ops

from kerasdl.models.skipgram import fold_windows, windows


@keras.saving.register_keras_serializable(package="kerasdl")
class MaskedMean(keras.layers.Layer):
    """The mean of ``[batch, width, dim]`` vectors over the columns a
    ``[batch, width]`` mask keeps (zeros where it keeps none)."""

    def call(self, inputs: Any) -> Any:
        vectors, mask = inputs
        total = ops.sum(vectors * ops.expand_dims(mask, -1), axis=1)
        return total / ops.maximum(ops.sum(mask, axis=1, keepdims=True), 1.0)

    def compute_output_shape(self, input_shape: Any) -> Any:
        vectors, _ = input_shape
        return (vectors[0], vectors[2])


def gradients(
    tokens: tf.Tensor,
    negatives: tf.Tensor,
    layout: dict[str, tf.Tensor],
    inputs: tf.Variable,
    outputs: tf.Variable,
    *,
    window: int,
    block_size: int,
    num_negative_samples: int,
) -> tuple:
    """A batch's CBOW loss and the sparse gradients of both tables.

    Each centre with at least one context word is one example: its hidden
    vector ``h`` is the mean of its context words' input vectors, scored
    against the centre's output vector (label 1) and the block's shared
    negatives (label 0), except those equal to the centre; the others are
    weighted to count ``num_negative_samples`` in all, as word2vec.c draws
    that many per centre. The gradients are the exact ones of this loss
    (each context word gets ``1/count`` of ``h``'s gradient; word2vec.c and
    gensim pass each the whole of it, a factor the row-wise Adagrad step
    mostly cancels).

    Args:
        tokens: The batch's ``[B + 2W]`` token ids.
        negatives: ``[blocks, S]`` shared noise words.
        layout: ``skipgram.block_examples``'s ``centers`` and ``positive``.
        inputs: The word vectors (``target_embedding``).
        outputs: The output vectors (``context_embedding``).

    Returns:
        ``(loss and examples)``, the input rows (the batch's tokens) and
        their gradients, the output rows (centres, then negatives) and
        theirs: the tuple skip-gram's step returns.
    """
    centers, positive = layout["centers"], layout["positive"]  # [blocks, G], [blocks, G, J]
    dimension = inputs.shape[1]
    counts = tf.reduce_sum(positive, axis=2)  # [blocks, G]
    used = tf.cast(counts > 0, tf.float32)
    window_vectors = windows(tf.gather(inputs, tokens), window, block_size)  # [blocks, J, dim]
    share = positive / tf.maximum(counts, 1.0)[:, :, None]
    hidden = tf.einsum("bcj,bjd->bcd", share, window_vectors)
    center_vectors = tf.gather(outputs, centers)  # [blocks, G, dim]
    negative_vectors = tf.gather(outputs, negatives)  # [blocks, S, dim]
    center_logits = tf.reduce_sum(hidden * center_vectors, axis=2)
    negative_logits = tf.einsum("bcd,bsd->bcs", hidden, negative_vectors)
    allowed = tf.cast(negatives[:, None, :] != centers[:, :, None], tf.float32)  # [blocks, G, S]
    usable = tf.maximum(tf.reduce_sum(allowed, axis=2, keepdims=True), 1.0)
    negative_weight = allowed * (num_negative_samples / usable) * used[:, :, None]
    loss = tf.reduce_sum(used * tf.nn.softplus(-center_logits)) + tf.reduce_sum(
        negative_weight * tf.nn.softplus(negative_logits)
    )
    # d loss / d logit of the logistic loss: sigmoid - label, weighted.
    center_error = (tf.sigmoid(center_logits) - 1.0) * used
    negative_error = tf.sigmoid(negative_logits) * negative_weight
    hidden_gradient = center_error[:, :, None] * center_vectors + tf.einsum(
        "bcs,bsd->bcd", negative_error, negative_vectors
    )
    input_gradient = fold_windows(tf.einsum("bcj,bcd->bjd", share, hidden_gradient), window, block_size)
    center_gradient = center_error[:, :, None] * hidden
    negative_gradient = tf.einsum("bcs,bcd->bsd", negative_error, hidden)
    return (
        tf.stack([loss, tf.reduce_sum(used)]),
        tokens,
        input_gradient,
        tf.concat([tf.reshape(centers, [-1]), tf.reshape(negatives, [-1])], axis=0),
        tf.concat([tf.reshape(center_gradient, [-1, dimension]), tf.reshape(negative_gradient, [-1, dimension])],
                  axis=0),
    )
