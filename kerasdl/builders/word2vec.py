"""Word2Vec family: skip-gram with negative sampling (SGNS)."""

from __future__ import annotations

import keras
from keras import layers

from kerasdl.builders import options
from kerasdl.models.skipgram import CONTEXT_EMBEDDING, TARGET_EMBEDDING
from kerasdl.registry import register_builder


@register_builder("word2vec")
def build_word2vec(
    vocabulary_size: int,
    embedding_dim: int = 100,
    num_negative_samples: int = 5,
) -> keras.Model:
    """Builds an uncompiled skip-gram model with negative sampling.

    For each example the model scores a target word against its true
    context word and ``num_negative_samples`` noise words: the dot products
    of the target's embedding with the context embeddings. Trained with a
    logistic loss (label 1 for the context, 0 for the noise words), the
    target embeddings become the word vectors. Initialised as word2vec.c and
    gensim do: targets uniform in ±0.5/dim, contexts zero.

    Args:
        vocabulary_size: Number of words; ids are 0..vocabulary_size-1.
        embedding_dim: Length of each word vector.
        num_negative_samples: Noise words scored per (target, context) pair.

    Returns:
        A functional ``keras.Model`` named ``"word2vec"`` with inputs
        ``target`` ``[batch]``, ``context`` ``[batch]`` and ``negatives``
        ``[batch, num_negative_samples]`` (int ids) and output logits
        ``[batch, 1 + num_negative_samples]``, the true context first.
        It trains with ``model.fit`` and
        ``keras.losses.BinaryCrossentropy(from_logits=True)``; ``kerasdl
        run`` trains its embeddings with a faster sparse step instead
        (``kerasdl.models.skipgram``).

    Raises:
        BuilderArgumentError: if an argument is not positive.

    Example:

    >>> model = build_word2vec(vocabulary_size=1000, embedding_dim=64)
    >>> model.output_shape
    (None, 6)
    """
    options.check_positive("vocabulary_size", vocabulary_size)
    options.check_positive("embedding_dim", embedding_dim)
    options.check_positive("num_negative_samples", num_negative_samples)
    target = keras.Input(shape=(), dtype="int32", name="target")
    context = keras.Input(shape=(), dtype="int32", name="context")
    negatives = keras.Input(shape=(num_negative_samples,), dtype="int32", name="negatives")
    scale = 0.5 / embedding_dim
    target_vectors = layers.Embedding(
        vocabulary_size, embedding_dim, name=TARGET_EMBEDDING,
        embeddings_initializer=keras.initializers.RandomUniform(-scale, scale),
    )(target)
    context_embedding = layers.Embedding(
        vocabulary_size, embedding_dim, name=CONTEXT_EMBEDDING, embeddings_initializer="zeros"
    )
    # The true context first, then the noise words: [batch, 1 + k, dim].
    candidates = layers.Concatenate(axis=1)([
        layers.Reshape((1, embedding_dim))(context_embedding(context)),
        context_embedding(negatives),
    ])
    logits = layers.Dot(axes=(2, 1), name="logits")([candidates, target_vectors])
    return keras.Model({"target": target, "context": context, "negatives": negatives}, logits, name="word2vec")
