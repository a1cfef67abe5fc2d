"""Word-vector exports: a SavedModel that takes words and returns their
vectors, with a second signature for nearest neighbours."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import tensorflow as tf

from kerasdl.artifacts.savedmodel import SIGNATURE, publish, write_assets
from kerasdl.errors import ExportError

# Strings in; a second signature for neighbours.
WORDS_INPUT = "words"
NEIGHBOURS = "neighbours"


class _WordVectorModule(tf.Module):
    """Strings in, vectors out; and the nearest neighbours of strings."""

    def __init__(self, words: Sequence[str], vectors: np.ndarray, lowercase: bool):
        super().__init__()
        self.lowercase = lowercase
        self.words = tf.constant(list(words))
        self.vectors = tf.Variable(vectors, trainable=False, name="vectors")
        norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        self.unit = tf.Variable(vectors / norms, trainable=False, name="unit_vectors")
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(self.words, tf.range(len(words), dtype=tf.int64)), default_value=-1
        )

    def _rows(self, words: tf.Tensor) -> tf.Tensor:
        return self.table.lookup(tf.strings.lower(words, encoding="utf-8") if self.lowercase else words)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=WORDS_INPUT)])
    def lookup(self, words: tf.Tensor) -> dict:
        rows = self._rows(words)
        known = rows >= 0
        vectors = tf.gather(self.vectors, tf.maximum(rows, 0))
        return {"vectors": tf.where(known[:, None], vectors, tf.zeros_like(vectors)), "known": known}

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.string, name=WORDS_INPUT), tf.TensorSpec([], tf.int32, name="count"),
    ])
    def neighbours(self, words: tf.Tensor, count: tf.Tensor) -> dict:
        rows = self._rows(words)
        known = rows >= 0
        similarities = tf.matmul(tf.gather(self.unit, tf.maximum(rows, 0)), self.unit, transpose_b=True)
        itself = tf.one_hot(tf.maximum(rows, 0), tf.shape(self.unit)[0], on_value=-3.0, off_value=0.0)
        best = tf.math.top_k(similarities + itself, k=count)
        return {
            "neighbours": tf.where(known[:, None], tf.gather(self.words, best.indices), ""),
            "similarities": tf.where(known[:, None], best.values, 0.0),
            "known": known,
        }


def export_word_vectors(
    vectors: Any, directory: str, name: str, lowercase: bool, check: bool = True, origin: Optional[Path] = None,
) -> tuple[Path, Optional[float]]:
    """Exports word vectors as a SavedModel (TF Serving layout, atomic).

    Signatures: ``serving_default`` takes ``words`` (string ``[batch]``)
    and returns ``vectors`` ``[batch, dim]`` (zeros for an unknown word)
    and ``known`` (bool); ``neighbours`` also takes ``count`` and returns
    the ``count`` nearest ``neighbours`` and their cosine ``similarities``
    (empty and 0 for an unknown word). Queries are lowercased when the
    corpus was. ``assets.extra/`` holds the vectors in word2vec text format
    and as TSV for the Embedding Projector.

    Args:
        vectors: A ``data.word_vectors.WordVectors``.
        origin: The run folder exporting (``savedmodel.publish``).
    """

    def write(path: Path) -> Optional[float]:
        module = _WordVectorModule(vectors.words, vectors.vectors, lowercase)
        tf.saved_model.save(module, str(path), signatures={SIGNATURE: module.lookup, NEIGHBOURS: module.neighbours})
        extra = write_assets(path, {})
        vectors.write_word2vec(extra / "vectors.txt")
        vectors.write_projector(extra)
        return verify_word_vectors(path, vectors) if check else None

    return publish(directory, name, write, origin)


def verify_word_vectors(path: Path, vectors: Any, sample: int = 64, atol: float = 1e-6) -> float:
    """Reloads the export and checks known words' vectors and an unknown word.

    Raises:
        ExportError: if a vector differs or the unknown word is not flagged.
    """
    serve = tf.saved_model.load(str(path)).signatures[SIGNATURE]
    words = list(vectors.words[:sample]) + ["\u2400not-a-word\u2400"]
    result = serve(**{WORDS_INPUT: tf.constant(words)})
    exported, known = result["vectors"].numpy(), result["known"].numpy()
    difference = float(np.max(np.abs(exported[:-1] - vectors.vectors[:sample])))
    if not (difference <= atol and known[:-1].all() and not known[-1] and not exported[-1].any()):
        raise ExportError(
            f"The SavedModel at {path} does not reproduce the word vectors "
            f"(max |difference| {difference:.3g}, unknown word flagged: {not known[-1]})."
        )
    return difference
