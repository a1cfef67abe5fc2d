"""Skip-gram training data: vocabulary, subsampling, windows, negatives.

The corpus is streamed as batches of consecutive *centre* tokens with their
surrounding window, never as explicit (target, context) pairs: a pair is a
centre and a neighbour within that centre's reach, so the pairs follow from
the token stream and need no memory of their own. Everything is vectorised
with NumPy (no Python loop per pair or per token):

>>> vocabulary = Vocabulary.build(token_lists, min_count=5)
>>> for batch in batches(vocabulary.encode_all(token_lists), vocabulary, rng=rng):
...     ...

The choices follow word2vec.c and gensim: frequent words are dropped with
Mikolov's subsampling formula as gensim applies it, each centre draws its
window from 1..window (closer words count more), windows stay inside a
document, and negatives come from the unigram distribution raised to 0.75.

Negatives are shared by a *block* of consecutive centres (Ji et al. 2016,
"Parallelizing Word2Vec in Shared and Distributed Memory"; BlazingText), so
that training scores a block against its negatives with one dense matrix
product. Which negative may stand for which pair is decided when the batch
is expanded (``word2vec.block_examples``): a negative that equals one of a
centre's true contexts is dropped for that centre (tensorflow/text #1228
is the bug this avoids), and the rest are reweighted to keep the expected
``num_negative_samples`` per pair.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Iterable, Iterator, Sequence

import numpy as np

UNKNOWN = -1


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """Words kept for training, most frequent first, with their counts.

    Attributes:
        words: The kept words; a word's id is its position.
        counts: How often each kept word occurs in the corpus.
    """

    words: tuple[str, ...]
    counts: np.ndarray

    @classmethod
    def build(cls, documents: Iterable[Sequence[str]], min_count: int = 5, max_size: int | None = None) -> "Vocabulary":
        """Counts the words of tokenised documents and keeps the frequent ones.

        Args:
            documents: Each a sequence of tokens.
            min_count: Words seen fewer times are dropped (as in gensim).
            max_size: Keep at most this many words, the most frequent.
        """
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1. Received: min_count={min_count}")
        counter: collections.Counter = collections.Counter()
        for tokens in documents:
            counter.update(tokens)
        # Ties broken by the word, so that the ids do not depend on the order of documents.
        ranked = sorted((item for item in counter.items() if item[1] >= min_count),
                        key=lambda item: (-item[1], item[0]))
        if max_size is not None:
            ranked = ranked[:max_size]
        return cls(tuple(word for word, _ in ranked), np.array([count for _, count in ranked], dtype=np.int64))

    def __len__(self) -> int:
        return len(self.words)

    @property
    def ids(self) -> dict[str, int]:
        return {word: index for index, word in enumerate(self.words)}

    def encode(self, tokens: Sequence[str], ids: dict[str, int] | None = None) -> np.ndarray:
        """Token ids, with ``UNKNOWN`` (-1) for words not in the vocabulary."""
        ids = self.ids if ids is None else ids
        return np.fromiter((ids.get(token, UNKNOWN) for token in tokens), dtype=np.int64, count=len(tokens))

    def encode_all(self, documents: Iterable[Sequence[str]]) -> list[np.ndarray]:
        """Each document's ids, unknown words removed (they are not trained)."""
        ids = self.ids
        encoded = []
        for tokens in documents:
            array = self.encode(tokens, ids)
            encoded.append(array[array != UNKNOWN])
        return encoded


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """Probability of keeping each occurrence of a word (gensim's formula).

    With ``t = sample * total``, a word seen ``c`` times is kept with
    probability ``(sqrt(c / t) + 1) * t / c``, capped at 1; ``sample = 0``
    keeps everything.
    """
    if sample <= 0:
        return np.ones(len(counts))
    threshold = sample * counts.sum()
    return np.minimum(1.0, (np.sqrt(counts / threshold) + 1.0) * threshold / counts)


def noise_distribution(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """Probabilities negatives are drawn with: unigram counts ** power, normalised."""
    weights = counts.astype(np.float64) ** power
    return weights / weights.sum()


class NoiseTable:
    """Draws negatives in O(1) each with Walker's alias method (exact, unlike
    word2vec.c's fixed-size table, whose rounding drops rare words)."""

    def __init__(self, counts: np.ndarray, power: float = 0.75):
        probabilities = noise_distribution(counts, power)
        size = len(probabilities)
        scaled = probabilities * size
        self.accept = np.ones(size)
        self.alias = np.arange(size)
        # Vose's construction: pair each under-full slot with an over-full one.
        small = [index for index in range(size) if scaled[index] < 1.0]
        large = [index for index in range(size) if scaled[index] >= 1.0]
        while small and large:
            low, high = small.pop(), large.pop()
            self.accept[low], self.alias[low] = scaled[low], high
            scaled[high] -= 1.0 - scaled[low]
            (small if scaled[high] < 1.0 else large).append(high)
        self.alias = self.alias.astype(np.int32)

    def draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        slots = rng.integers(0, len(self.accept), size=shape)
        return np.where(rng.random(shape) < self.accept[slots], slots, self.alias[slots]).astype(np.int32)


@dataclasses.dataclass(frozen=True)
class Batch:
    """``batch_size`` consecutive centre tokens of the subsampled stream.

    Attributes:
        tokens: ``[batch_size + 2 * window]`` ids: the centres with ``window``
            tokens of context on each side (0 where there is none).
        documents: The document number of each token, -1 for padding; a
            centre's contexts are in its own document.
        reach: ``[batch_size]`` each centre's window, drawn from 1..window;
            0 marks padding after the last centre.
        negatives: ``[batch_size // block_size, shared_negatives]`` noise
            words, one row per block of consecutive centres.
    """

    tokens: np.ndarray
    documents: np.ndarray
    reach: np.ndarray
    negatives: np.ndarray

    @property
    def centers(self) -> int:
        return int(np.count_nonzero(self.reach))

    @classmethod
    def padding(cls, batch_size: int, window: int, block_size: int, shared_negatives: int) -> "Batch":
        """A batch of padding only (reach 0 everywhere): it has no pair, so a
        step on it changes nothing."""
        return cls(
            tokens=np.zeros(batch_size + 2 * window, np.int32),
            documents=np.full(batch_size + 2 * window, -1, np.int32),
            reach=np.zeros(batch_size, np.int32),
            negatives=np.zeros((batch_size // block_size, shared_negatives), np.int32),
        )


def check_layout(window: int, batch_size: int, block_size: int) -> None:
    """Raises ValueError unless blocks tile the batch and span two windows."""
    if block_size < 2 * window:
        raise ValueError(f"block_size must be at least 2 * window = {2 * window}. Received: block_size={block_size}")
    if batch_size % block_size:
        raise ValueError(f"batch_size must be a multiple of block_size={block_size}. Received: batch_size={batch_size}")


def batches(
    documents: Sequence[np.ndarray],
    vocabulary: Vocabulary,
    *,
    window: int = 5,
    sample: float = 1e-3,
    batch_size: int = 4096,
    block_size: int = 16,
    shared_negatives: int = 32,
    chunk_tokens: int = 1_000_000,
    noise: "NoiseTable | None" = None,
    rng: np.random.Generator,
) -> Iterator[Batch]:
    """One epoch of batches, streamed ``chunk_tokens`` corpus tokens at a time.

    Documents come in a new random order every epoch; subsampling, windows
    and negatives are drawn afresh. A chunk holds whole documents, so no
    window is cut, and only one chunk is ever expanded in memory. A chunk's
    last batch is padded (reach 0).
    """
    check_layout(window, batch_size, block_size)
    if len(vocabulary) < 2:
        raise ValueError("A skip-gram vocabulary needs at least 2 words, so that a negative can differ from the "
                         "context.")
    keep = keep_probabilities(vocabulary.counts, sample)
    noise = noise or NoiseTable(vocabulary.counts)
    order = rng.permutation(len(documents))
    start = 0
    while start < len(order):
        stop, size = start, 0
        while stop < len(order) and (size < chunk_tokens or stop == start):
            size += len(documents[order[stop]])
            stop += 1
        chunk = [documents[index] for index in order[start:stop]]
        start = stop
        yield from _chunk_batches(chunk, keep, noise, window, batch_size, block_size, shared_negatives, rng)


def _chunk_batches(chunk, keep, noise, window, batch_size, block_size, shared_negatives, rng) -> Iterator[Batch]:
    ids = np.concatenate(chunk).astype(np.int32)
    document = np.repeat(np.arange(len(chunk), dtype=np.int32), [len(part) for part in chunk])
    kept = rng.random(len(ids)) < keep[ids]
    ids, document = ids[kept], document[kept]
    count = len(ids)
    if count == 0:
        return
    padded = -(-count // batch_size) * batch_size
    tokens = np.zeros(padded + 2 * window, np.int32)
    tokens[window:window + count] = ids
    documents = np.full(padded + 2 * window, -1, np.int32)
    documents[window:window + count] = document
    reach = np.zeros(padded, np.int32)
    reach[:count] = rng.integers(1, window + 1, size=count)
    negatives = noise.draw((padded // block_size, shared_negatives), rng)
    blocks = batch_size // block_size
    for index, first in enumerate(range(0, padded, batch_size)):
        yield Batch(
            tokens=tokens[first:first + batch_size + 2 * window],
            documents=documents[first:first + batch_size + 2 * window],
            reach=reach[first:first + batch_size],
            negatives=negatives[index * blocks:(index + 1) * blocks],
        )


def expected_centers(vocabulary: Vocabulary, sample: float) -> float:
    """Centres an epoch trains on average: the tokens subsampling keeps."""
    return float(np.sum(vocabulary.counts * keep_probabilities(vocabulary.counts, sample)))
