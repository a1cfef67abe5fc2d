"""Skip-gram training examples: vocabulary, subsampling, windows, negatives.

Everything is vectorised with NumPy (no Python loop per pair) and works on
chunks of the corpus, so a corpus too big to hold as pairs still trains:

>>> vocabulary = Vocabulary.build(token_lists, min_count=5)
>>> for targets, contexts, negatives in examples(vocabulary.encode_all(token_lists), vocabulary, rng=rng):
...     ...

The choices follow word2vec.c and gensim: frequent words are dropped with
Mikolov's subsampling formula as gensim applies it, the window is drawn per
position from 1..window (closer words count more), and negatives come from
the unigram distribution raised to 0.75. Unlike the TensorFlow tutorial
(tensorflow/text #1228), a negative never equals the true context word.
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
        ranked = sorted((item for item in counter.items() if item[1] >= min_count), key=lambda item: (-item[1], item[0]))
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
    """The cumulative distribution negatives are drawn from: unigram^power."""
    weights = counts.astype(np.float64) ** power
    return np.cumsum(weights / weights.sum())


def skipgram_pairs(
    ids: np.ndarray, document: np.ndarray, window: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(target, context) pairs within a dynamic window, not across documents.

    Args:
        ids: Token ids of consecutive documents, concatenated.
        document: The document number of each token (pairs stay inside one).
        window: The largest distance; each position draws its own from 1..window.
        rng: The random generator.
    """
    reach = rng.integers(1, window + 1, size=len(ids))
    targets, contexts = [], []
    for distance in range(1, window + 1):
        left, right = np.arange(len(ids) - distance), np.arange(distance, len(ids))
        same = document[left] == document[right]
        # A target at `left` sees `right` if its own reach covers the distance, and vice versa.
        forward = same & (reach[left] >= distance)
        backward = same & (reach[right] >= distance)
        targets += [ids[left[forward]], ids[right[backward]]]
        contexts += [ids[right[forward]], ids[left[backward]]]
    if not targets:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(targets), np.concatenate(contexts)


def draw_negatives(
    contexts: np.ndarray, count: int, cumulative: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """``count`` noise words per pair, none equal to that pair's context word."""
    negatives = np.searchsorted(cumulative, rng.random((len(contexts), count)), side="right")
    np.minimum(negatives, len(cumulative) - 1, out=negatives)  # Guard against rounding at 1.0.
    clash = negatives == contexts[:, None]
    while clash.any():
        # Redraw only the clashing entries; a word with probability < 1 soon differs.
        negatives[clash] = np.minimum(
            np.searchsorted(cumulative, rng.random(int(clash.sum())), side="right"), len(cumulative) - 1
        )
        clash = negatives == contexts[:, None]
    return negatives


def examples(
    documents: Sequence[np.ndarray],
    vocabulary: Vocabulary,
    *,
    window: int = 5,
    num_negative_samples: int = 5,
    sample: float = 1e-3,
    batch_size: int = 1024,
    chunk_tokens: int = 1_000_000,
    rng: np.random.Generator,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One epoch of shuffled (targets, contexts, negatives) batches.

    Works through the corpus ``chunk_tokens`` tokens at a time: subsampling,
    windows and negatives are drawn afresh each epoch, and only one chunk's
    pairs are ever in memory. The last, smaller batch of the epoch is kept.
    """
    if len(vocabulary) < 2:
        raise ValueError("A skip-gram vocabulary needs at least 2 words, so that a negative can differ from the context.")
    keep = keep_probabilities(vocabulary.counts, sample)
    cumulative = noise_distribution(vocabulary.counts)
    order = rng.permutation(len(documents))
    pending: list[tuple[np.ndarray, ...]] = []

    def flush(final: bool) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        # Pairs left over from a chunk wait for the next, so batches stay full.
        nonlocal pending
        targets = np.concatenate([part[0] for part in pending]) if pending else np.empty(0, np.int64)
        contexts = np.concatenate([part[1] for part in pending]) if pending else np.empty(0, np.int64)
        shuffle = rng.permutation(len(targets))
        targets, contexts = targets[shuffle], contexts[shuffle]
        whole = len(targets) if final else len(targets) // batch_size * batch_size
        for start in range(0, whole, batch_size):
            batch_targets, batch_contexts = targets[start:start + batch_size], contexts[start:start + batch_size]
            yield batch_targets, batch_contexts, draw_negatives(batch_contexts, num_negative_samples, cumulative, rng)
        rest = (targets[whole:], contexts[whole:])
        pending = [rest] if len(rest[0]) else []

    chunk: list[np.ndarray] = []
    chunk_size = 0
    for position, index in enumerate(order):
        ids = documents[index]
        chunk.append(ids[rng.random(len(ids)) < keep[ids]])
        chunk_size += len(ids)
        if chunk_size >= chunk_tokens or position == len(order) - 1:
            ids = np.concatenate(chunk) if chunk else np.empty(0, np.int64)
            document = np.repeat(np.arange(len(chunk)), [len(part) for part in chunk])
            pending.append(skipgram_pairs(ids, document, window, rng))
            chunk, chunk_size = [], 0
            yield from flush(final=position == len(order) - 1)
