"""Word2Vec family: skip-gram or CBOW, with negative sampling."""

from __future__ import annotations

import keras
from keras import layers

from kerasdl.builders import options
from kerasdl.models.cbow import MaskedMean
from kerasdl.models.skipgram import ARCHITECTURES, CONTEXT_EMBEDDING, CONTEXT_MASK, TARGET_EMBEDDING
from kerasdl.registry import register_builder


@register_builder("word2vec")
def build_word2vec(
    vocabulary_size: int,
    embedding_dim: int = 100,
    num_negative_samples: int = 5,
    architecture: str = "skipgram",
) -> keras.Model:
    """Builds an uncompiled Word2Vec model with negative sampling.

    ``skipgram`` (Mikolov et al. 2013): each example scores a target word
    against one of its true context words and ``num_negative_samples``
    noise words, by the dot products of the target's embedding with theirs.
    ``cbow`` (continuous bag of words): each example averages the
    embeddings of a centre word's context words and scores that mean
    against the centre word and the noise words. Trained with a logistic
    loss (label 1 for the true word, 0 for the noise words), the
    ``target_embedding`` table becomes the word vectors in both (the input
    side: the target in skip-gram, the context words in CBOW; the names are
    skip-gram's); ``context_embedding`` is the output side. Initialised as
    word2vec.c and gensim do: inputs uniform in ±0.5/dim, outputs zero.

    Args:
        vocabulary_size: Number of words; ids are 0..vocabulary_size-1.
        embedding_dim: Length of each word vector.
        num_negative_samples: Noise words scored per example.
        architecture: ``skipgram`` or ``cbow``.

    Returns:
        A functional ``keras.Model`` named ``"word2vec"`` whose output
        logits are ``[batch, 1 + num_negative_samples]``, the true word
        first. Skip-gram's inputs: ``target`` ``[batch]``, ``context``
        ``[batch]`` and ``negatives`` ``[batch, num_negative_samples]``
        (int ids). CBOW's: ``context`` ``[batch, width]`` (ids),
        ``context_mask`` ``[batch, width]`` (1.0 for the words to average,
        0.0 for padding), ``target`` ``[batch]`` (the centre word) and
        ``negatives``. It trains with ``model.fit`` and
        ``keras.losses.BinaryCrossentropy(from_logits=True)``; ``kerasdl
        run`` trains its embeddings with a faster sparse step instead
        (``kerasdl.models.skipgram``, ``kerasdl.models.cbow``).

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
    options.check_choice("architecture", architecture, ARCHITECTURES)
    scale = 0.5 / embedding_dim
    input_embedding = layers.Embedding(
        vocabulary_size, embedding_dim, name=TARGET_EMBEDDING,
        embeddings_initializer=keras.initializers.RandomUniform(-scale, scale),
    )
    output_embedding = layers.Embedding(
        vocabulary_size, embedding_dim, name=CONTEXT_EMBEDDING, embeddings_initializer="zeros"
    )
    target = keras.Input(shape=(), dtype="int32", name="target")
    negatives = keras.Input(shape=(num_negative_samples,), dtype="int32", name="negatives")
    if architecture == "skipgram":
        context = keras.Input(shape=(), dtype="int32", name="context")
        inputs = {"target": target, "context": context, "negatives": negatives}
        hidden, true_word = input_embedding(target), context
    else:
        context = keras.Input(shape=(None,), dtype="int32", name="context")
        mask = keras.Input(shape=(None,), dtype="float32", name=CONTEXT_MASK)
        inputs = {"target": target, "context": context, CONTEXT_MASK: mask, "negatives": negatives}
        hidden, true_word = MaskedMean(name="context_mean")([input_embedding(context), mask]), target
    # The true word first, then the noise words: [batch, 1 + k, dim].
    candidates = layers.Concatenate(axis=1)([
        layers.Reshape((1, embedding_dim))(output_embedding(true_word)),
        output_embedding(negatives),
    ])
    logits = layers.Dot(axes=(2, 1), name="logits")([candidates, hidden])
    return keras.Model(inputs, logits, name="word2vec")

