"""LSTM family: recurrent layers over text, sequences or a time series.

One builder, three kinds of input, told apart by the data it is given:

- **texts** (``input_shape=()``, ``num_classes``): raw strings go through a
  ``TextVectorization`` layer adapted on ``adapt_data`` (the training texts),
  an Embedding, the recurrent stack and a softmax. The model, and so its
  export, takes a batch of strings.
- **sequences** (``input_shape=(steps, features)`` or an image
  ``(rows, columns, channels)``, read row by row; ``num_classes``): the same
  stack after a ``Normalization`` adapted on ``adapt_data`` when it is given.
- **a series** (``input_shape=(window, columns)``, ``horizon``): windows of
  past values, the target in column 0, give the next ``horizon`` target
  values in the data's units. The target is taken relative to the window's
  last value, covariates as they are, and both are standardised with
  statistics adapted on ``adapt_data`` (the training windows only); the
  outputs are scaled back and added to the last value. Statistics live in
  the model's weights, so the export takes raw values.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from kerasdl.builders import options
from kerasdl.errors import BuilderArgumentError, KerasdlError
from kerasdl.registry import register_builder

CELLS = {"lstm": layers.LSTM, "gru": layers.GRU}
POOLINGS = ("last", "max", "average")
EMBEDDING = "embedding"


@register_builder("lstm")
def build_lstm(
    input_shape: Sequence[int] = (),
    num_classes: Optional[int] = None,
    horizon: Optional[int] = None,
    adapt_data: Any = None,
    units: Sequence[int] = (64,),
    cell: str = "lstm",
    bidirectional: bool = False,
    dropout_rate: float = 0.2,
    recurrent_dropout: float = 0.0,
    pooling: str = "last",
    max_tokens: int = 20000,
    sequence_length: Optional[int] = 64,
    standardize: Optional[str] = "lower_and_strip_punctuation",
    embedding_dim: int = 128,
    embedding_dropout: float = 0.0,
    embedding_path: Optional[str] = None,
    embedding_trainable: bool = True,
) -> keras.Model:
    """Builds an uncompiled recurrent classifier or forecaster.

    Args:
        input_shape: ``()`` for texts (one string per example);
            ``(steps, features)`` for sequences and series windows.
        num_classes: Classes to predict (texts and sequences).
        horizon: Future values to predict (a series); give this or
            ``num_classes``.
        adapt_data: Training inputs the preprocessing adapts to: strings
            for the vocabulary, windows for a series' statistics (required
            for both), sequences for their ``Normalization`` (optional).
            Strings and sequences may also come as a batched
            ``tf.data.Dataset``, adapted as it streams.
        units: Width of each recurrent layer, first to last.
        cell: ``lstm`` or ``gru``.
        bidirectional: Read each sequence both ways and concatenate.
        dropout_rate: Dropout on each recurrent layer's inputs and before
            the output layer.
        recurrent_dropout: Dropout on the recurrent state (slower: it rules
            out the fused kernels).
        pooling: How the last layer's outputs become one vector: ``last``
            (the final state), ``max`` or ``average`` over the steps
            (padding excluded).
        max_tokens: Largest vocabulary, padding and out-of-vocabulary
            tokens included (texts).
        sequence_length: Tokens kept per text (padded or cut); null pads
            each batch to its longest text.
        standardize: ``TextVectorization``'s standardisation: ``lower``,
            ``strip_punctuation``, ``lower_and_strip_punctuation`` or null.
        embedding_dim: Length of each token's vector (texts).
        embedding_dropout: Fraction of embedding channels dropped, whole
            sequences at a time (``SpatialDropout1D``).
        embedding_path: A word2vec text-format file (e.g. the vectors.txt of
            a kerasdl word2vec run) that initialises the vectors of the
            words it holds; the others keep their random start.
        embedding_trainable: Train the embedding (false keeps it frozen).

    Returns:
        A functional ``keras.Model`` named ``"lstm"``: inputs ``inputs``;
        output class probabilities ``[batch, num_classes]`` or a forecast
        ``[batch, horizon]``.

    Raises:
        BuilderArgumentError: if an argument is out of range, the inputs
            and outputs do not fit together, or ``embedding_path`` cannot
            be used.

    Example:

    >>> model = build_lstm(num_classes=2, adapt_data=["a good day", "a bad day"], units=(16,))
    >>> model.output_shape
    (None, 2)
    """
    options.check_positive("units", list(units))
    options.check_choice("cell", cell, tuple(CELLS))
    options.check_choice("pooling", pooling, POOLINGS)
    for argument, value in (("dropout_rate", dropout_rate), ("recurrent_dropout", recurrent_dropout),
                            ("embedding_dropout", embedding_dropout)):
        options.check_rate(argument, value)
    if (num_classes is None) == (horizon is None):
        raise BuilderArgumentError(
            "num_classes",
            "Give `num_classes` (a classifier) or `horizon` (a forecaster), not both or neither. "
            f"Received: num_classes={num_classes!r}, horizon={horizon!r}",
        )

    input_shape = tuple(input_shape)
    if not input_shape:
        inputs, x, mask = _text_features(
            adapt_data, max_tokens, sequence_length, standardize, embedding_dim, embedding_dropout,
            embedding_path, embedding_trainable,
        )
    else:
        inputs = keras.Input(shape=input_shape, name="inputs")
        if len(input_shape) == 3:  # An image, read row by row.
            x = layers.Reshape((input_shape[0], input_shape[1] * input_shape[2]))(inputs)
        elif len(input_shape) == 2:
            x = inputs
        else:
            raise BuilderArgumentError(
                "input_shape",
                "`input_shape` must be () for texts, (steps, features) for sequences, or "
                f"(rows, columns, channels) for images. Received: input_shape={list(input_shape)}",
            )
        mask = None
        if horizon is not None:
            x, anchor, spread = _anchored(inputs, adapt_data, input_shape)
        elif adapt_data is not None:
            normalize = layers.Normalization(axis=-1)
            shape = (-1,) + tuple(x.shape[1:])
            if isinstance(adapt_data, tf.data.Dataset):  # Streamed: adapted batch by batch.
                normalize.adapt(adapt_data.map(lambda batch: tf.reshape(tf.cast(batch, tf.float32), shape)))
            else:
                normalize.adapt(np.asarray(adapt_data, np.float32).reshape(shape))
            x = normalize(x)

    x = _recurrent_stack(x, mask, units, CELLS[cell], bidirectional, dropout_rate, recurrent_dropout, pooling)
    if dropout_rate:
        x = layers.Dropout(dropout_rate)(x)
    if horizon is not None:
        options.check_positive("horizon", horizon)
        if not input_shape:
            raise BuilderArgumentError("horizon", "A forecaster takes series windows, not texts: `input_shape` "
                                                  "must be (window, columns).")
        # Standardised changes from the last value, back in the data's units.
        changes = layers.Dense(horizon, dtype="float32", name="changes")(x)
        outputs = layers.Rescaling(spread, name="to_data_units")(changes) + anchor
        return keras.Model(inputs, outputs, name="lstm")
    options.check_positive("num_classes", num_classes)
    return keras.Model(inputs, options.predictions(num_classes, "softmax")(x), name="lstm")


def _savable(vectorize: layers.TextVectorization) -> list[str]:
    """Drops the tokens that a saved ``.keras`` file cannot give back, and
    returns the vocabulary. Keras writes the vocabulary one token a line and
    reads it with ``str.splitlines``, which also breaks at characters such as
    U+0085 (mojibake in tweets has them): the reloaded vocabulary then has
    repeated terms and the model does not load."""
    vocabulary = vectorize.get_vocabulary()
    kept = [token for token in vocabulary[2:] if len(f"{token}x".splitlines()) == 1]
    if len(kept) < len(vocabulary) - 2:
        vectorize.set_vocabulary(kept)
        vocabulary = vectorize.get_vocabulary()
    return vocabulary


def _text_features(
    adapt_data, max_tokens, sequence_length, standardize, embedding_dim, embedding_dropout,
    embedding_path, embedding_trainable,
):
    """Strings -> token ids -> vectors; returns (inputs, vectors, padding mask)."""
    options.check_positive("max_tokens", max_tokens)
    options.check_positive("embedding_dim", embedding_dim)
    if sequence_length is not None:
        options.check_positive("sequence_length", sequence_length)
    options.check_choice("standardize", standardize,
                         ("lower", "strip_punctuation", "lower_and_strip_punctuation", None))
    streamed = isinstance(adapt_data, tf.data.Dataset)  # Batches of strings, adapted as they stream.
    if adapt_data is None or (not streamed and not len(adapt_data)):
        raise BuilderArgumentError(
            "adapt_data",
            "A text model needs `adapt_data`: the training texts its TextVectorization layer "
            "learns a vocabulary from.",
        )
    vectorize = layers.TextVectorization(
        max_tokens=max_tokens, standardize=standardize, output_sequence_length=sequence_length, name="vectorize"
    )
    vectorize.adapt(adapt_data if streamed else np.asarray(adapt_data, dtype=object).astype(str))
    vocabulary = _savable(vectorize)
    inputs = keras.Input(shape=(), dtype="string", name="inputs")
    tokens = vectorize(inputs)
    embedding = layers.Embedding(len(vocabulary), embedding_dim, trainable=embedding_trainable, name=EMBEDDING)
    x = embedding(tokens)
    if embedding_path:
        from kerasdl.data.word_vectors import WordVectors

        try:
            vectors = WordVectors.read_word2vec(embedding_path)
        except KerasdlError as error:
            raise BuilderArgumentError("embedding_path", str(error)) from None
        _start_embedding(embedding, vocabulary, vectors, f"`embedding_dim` must match the vectors in {embedding_path}")
    if embedding_dropout:
        x = layers.SpatialDropout1D(embedding_dropout)(x)
    # Padding (id 0) is masked, except the first step: an empty text then
    # reads one padding token instead of nothing (an average of nothing is NaN).
    first = keras.ops.equal(keras.ops.cumsum(keras.ops.ones_like(tokens), axis=1), 1)
    return inputs, x, keras.ops.logical_or(keras.ops.not_equal(tokens, 0), first)


def start_embedding(model: keras.Model, vectors: Any) -> None:
    """Starts a text model's embedding from word vectors held in memory (a
    ``kerasdl.data.word_vectors.WordVectors``): what ``embedding_path`` does for a
    file. kerasdl's ``pretrain`` step uses it.

    Raises:
        BuilderArgumentError: if the vectors' length is not the embedding's,
            or no word of the model's vocabulary has a vector.
    """
    vocabulary = model.get_layer("vectorize").get_vocabulary()
    _start_embedding(model.get_layer(EMBEDDING), vocabulary, vectors, "`embedding_dim` must match the word vectors")


def _start_embedding(embedding: layers.Embedding, vocabulary: list[str], vectors: Any, mismatch: str) -> None:
    """Sets the rows of words that have vectors; the other rows keep their
    random start, rescaled to the vectors' spread."""
    initial = keras.ops.convert_to_numpy(embedding.embeddings)
    dim = vectors.vectors.shape[1]
    if dim != initial.shape[1]:
        raise BuilderArgumentError(
            "embedding_dim",
            f"{mismatch}, which have {dim} dimensions: set embedding_dim: {dim}. "
            f"Received: embedding_dim={initial.shape[1]}",
        )
    rows = initial * (vectors.vectors.std() / max(float(initial.std()), 1e-12))
    found = 0
    for row, word in enumerate(vocabulary):
        index = vectors.index.get(word)
        if index is None:
            index = vectors.index.get(word.lower())
        if row > 1 and index is not None:  # Rows 0 and 1: padding and unknown.
            rows[row] = vectors.vectors[index]
            found += 1
    if not found:
        raise BuilderArgumentError(
            "embedding_path",
            f"None of the {len(vocabulary)} words of the training texts has a word vector: "
            "are the vectors for this language and casing?",
        )
    embedding.embeddings.assign(rows)


def _anchored(inputs, adapt_data, input_shape):
    """Series windows, target relative to its last value, standardised.

    Returns:
        The standardised windows, the last target value ``[batch, 1]``, and
        the spread that maps standardised changes back to data units.
    """
    if adapt_data is None or not len(adapt_data):
        raise BuilderArgumentError(
            "adapt_data",
            "A forecaster needs `adapt_data`: training windows [n, window, columns] to fit its "
            "normalisation statistics on.",
        )
    windows = np.asarray(adapt_data, np.float32)
    if windows.shape[1:] != input_shape:
        raise BuilderArgumentError(
            "adapt_data",
            f"`adapt_data` must be windows shaped [n, {', '.join(map(str, input_shape))}]. "
            f"Received: shape {list(windows.shape)}",
        )

    def relative(values):
        # Column 0 minus its last value in the window; covariates unchanged.
        return keras.ops.concatenate([values[..., :1] - values[:, -1:, :1], values[..., 1:]], axis=-1)

    normalize = layers.Normalization(axis=-1, name="normalize")
    normalize.adapt(keras.ops.convert_to_numpy(relative(windows)))
    spread = float(np.sqrt(max(float(np.ravel(keras.ops.convert_to_numpy(normalize.variance))[0]), 1e-12)))
    anchor = inputs[:, -1, :1]
    return normalize(relative(inputs)), anchor, spread


def _recurrent_stack(x, mask, units, cell, bidirectional, dropout_rate, recurrent_dropout, pooling):
    """The recurrent layers, then one vector per example."""
    for index, width in enumerate(units):
        last = index == len(units) - 1
        layer = cell(
            width, dropout=dropout_rate, recurrent_dropout=recurrent_dropout,
            return_sequences=not last or pooling != "last",
        )
        x = (layers.Bidirectional(layer) if bidirectional else layer)(x, mask=mask)
    if pooling == "last":
        return x
    if pooling == "average":
        return layers.GlobalAveragePooling1D()(x, mask=mask)
    if mask is not None:  # Padding never wins the max.
        x = keras.ops.where(keras.ops.expand_dims(mask, -1), x, -1e9)
    return layers.GlobalMaxPooling1D()(x)
