"""Skip-gram examples: vocabulary, subsampling, dynamic windows, negatives."""

import numpy as np
import pytest

from kerasdl.skipgram import (
    UNKNOWN, Vocabulary, draw_negatives, examples, keep_probabilities, noise_distribution, skipgram_pairs,
)

DOCUMENTS = [["the", "cat", "sat", "on", "the", "mat"], ["the", "dog", "sat"], ["a", "cat"]]


def test_vocabulary_keeps_frequent_words_most_frequent_first():
    vocabulary = Vocabulary.build(DOCUMENTS, min_count=2)
    assert vocabulary.words == ("the", "cat", "sat")  # Ties broken by the word.
    assert vocabulary.counts.tolist() == [3, 2, 2]
    assert Vocabulary.build(DOCUMENTS, min_count=1, max_size=2).words == ("the", "cat")
    assert vocabulary.encode(["cat", "unicorn", "the"]).tolist() == [1, UNKNOWN, 0]
    assert [ids.tolist() for ids in vocabulary.encode_all(DOCUMENTS)] == [[0, 1, 2, 0], [0, 2], [1]]


def test_vocabulary_ids_do_not_depend_on_document_order():
    assert Vocabulary.build(DOCUMENTS[::-1], min_count=1).words == Vocabulary.build(DOCUMENTS, min_count=1).words


def test_keep_probabilities_follow_gensims_formula():
    counts = np.array([1000, 100, 1])
    keep = keep_probabilities(counts, sample=1e-2)
    threshold = 1e-2 * 1101
    assert keep[0] == pytest.approx((np.sqrt(1000 / threshold) + 1) * threshold / 1000)
    assert keep[2] == 1.0  # Rare words are always kept.
    assert keep[0] < keep[1] <= 1.0
    assert keep_probabilities(counts, sample=0).tolist() == [1, 1, 1]


def test_pairs_stay_in_the_window_and_the_document():
    rng = np.random.default_rng(0)
    document = np.repeat(np.arange(20), 100)
    # Token ids equal to positions, so a pair's ids give its distance.
    targets, contexts = skipgram_pairs(np.arange(2000), document, window=3, rng=rng)
    distance = np.abs(targets - contexts)
    assert distance.min() >= 1 and distance.max() <= 3
    assert (document[targets] == document[contexts]).all()
    # Dynamic window: each position reaches d with probability (window - d + 1) / window.
    share = np.bincount(distance)[1:] / np.bincount(distance)[1]
    assert share == pytest.approx([1, 2 / 3, 1 / 3], abs=0.05)


def test_window_one_gives_exactly_the_neighbours():
    targets, contexts = skipgram_pairs(np.array([5, 6, 7]), np.zeros(3, int), window=1, rng=np.random.default_rng(0))
    assert sorted(zip(targets.tolist(), contexts.tolist())) == [(5, 6), (6, 5), (6, 7), (7, 6)]


def test_negatives_never_equal_the_context_and_follow_unigram_to_the_075():
    rng = np.random.default_rng(1)
    counts = np.array([5000, 1000, 200, 50, 10])
    cumulative = noise_distribution(counts)
    contexts = rng.integers(0, 5, size=200_000)
    negatives = draw_negatives(contexts, 5, cumulative, rng)
    assert negatives.shape == (200_000, 5)
    assert not (negatives == contexts[:, None]).any()
    # Where the context is the rarest word, negatives are plain unigram^0.75 draws.
    rare = negatives[contexts == 4].ravel()
    # Word 4 itself is redrawn for these rows: the others keep their relative weights.
    expected = counts[:4] ** 0.75 / (counts[:4] ** 0.75).sum()
    observed = np.bincount(rare, minlength=5)
    assert observed[4] == 0
    assert observed[:4] / len(rare) == pytest.approx(expected, abs=0.01)


def test_a_dominant_word_is_never_its_own_negative():
    negatives = draw_negatives(np.zeros(1000, int), 3, noise_distribution(np.array([10**6, 1])), np.random.default_rng(0))
    assert (negatives == 1).all()


def _corpus(rng, documents=50, length=400, words=60):
    return [rng.integers(0, words, size=length) for _ in range(documents)]


def test_an_epoch_streams_full_batches_and_the_same_pairs_whatever_the_chunk():
    rng = np.random.default_rng(2)
    documents = _corpus(rng)
    vocabulary = Vocabulary(tuple(f"w{i}" for i in range(60)), np.bincount(np.concatenate(documents), minlength=60))
    totals = []
    for chunk_tokens in (500, 10**9):
        batches = list(examples(documents, vocabulary, window=2, num_negative_samples=4, sample=0,
                                batch_size=256, chunk_tokens=chunk_tokens, rng=np.random.default_rng(3)))
        sizes = [len(targets) for targets, _, _ in batches]
        assert all(size == 256 for size in sizes[:-1]) and 0 < sizes[-1] <= 256
        for targets, contexts, negatives in batches:
            assert negatives.shape == (len(targets), 4)
            assert not (negatives == contexts[:, None]).any()
        totals.append(sum(sizes))
    # Same windows in expectation: about (window + 1) pairs per token with window 2 (1 + 2/2 each side).
    assert totals[0] == pytest.approx(totals[1], rel=0.03)
    assert totals[1] == pytest.approx(50 * 400 * 3, rel=0.03)


def test_pairs_never_cross_documents_when_streamed():
    rng = np.random.default_rng(4)
    # Even documents use words 0-9, odd ones 10-19: a mixed pair would cross a boundary.
    documents = [rng.integers(0, 10, 100) + 10 * (index % 2) for index in range(40)]
    vocabulary = Vocabulary(tuple(map(str, range(20))), np.bincount(np.concatenate(documents), minlength=20))
    for targets, contexts, _ in examples(documents, vocabulary, window=5, sample=0, batch_size=64,
                                         chunk_tokens=350, rng=rng):
        assert ((targets < 10) == (contexts < 10)).all()


def test_subsampling_thins_frequent_words():
    rng = np.random.default_rng(5)
    documents = [np.where(rng.random(1000) < 0.5, 0, rng.integers(1, 50, 1000)) for _ in range(20)]
    counts = np.bincount(np.concatenate(documents), minlength=50)
    vocabulary = Vocabulary(tuple(map(str, range(50))), counts)
    kept_share = []
    for sample in (0, 1e-3):
        targets = np.concatenate([t for t, _, _ in examples(documents, vocabulary, window=1, sample=sample,
                                                             rng=np.random.default_rng(6))])
        kept_share.append(np.mean(targets == 0))
    assert kept_share[0] == pytest.approx(0.5, abs=0.02)
    assert kept_share[1] < 0.2
