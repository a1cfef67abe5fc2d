"""The skip-gram pipeline's invariants on tiny corpora: vocabulary,
subsampling, dynamic windows that stay in their document, and negatives
that never equal a true context. Batches are expanded into explicit pairs
with ``block_examples``, the same expansion the training step uses."""

import numpy as np
import pytest

from kerasdl.data.skipgram import (
    UNKNOWN,
    NoiseTable,
    Vocabulary,
    batches,
    keep_probabilities,
    noise_distribution,
)
from kerasdl.models.skipgram import block_examples

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


WINDOW, BLOCK = 3, 8


def _vocabulary(documents, size):
    return Vocabulary(tuple(map(str, range(size))), np.bincount(np.concatenate(documents), minlength=size))


def _expand(batch, window=WINDOW, block=BLOCK, k=5):
    """A batch as explicit pairs and per-(centre, negative) weights, in NumPy."""
    layout = {key: value.numpy() for key, value in block_examples(
        batch.tokens, batch.documents, batch.reach, batch.negatives,
        window=window, block_size=block, num_negative_samples=k,
    ).items()}
    blocks, centres, columns = np.nonzero(layout["positive"])
    positions = blocks * block + centres  # Position of the centre in the batch.
    window_positions = blocks * block + columns  # Position in tokens (centre + window).
    return layout, positions, window_positions


def _stream(seed=0, documents=30, length=200, words=40, **options):
    rng = np.random.default_rng(seed)
    corpus = [rng.integers(0, words, length) for _ in range(documents)]
    settings = dict(window=WINDOW, sample=0, batch_size=64, block_size=BLOCK, shared_negatives=6)
    settings.update(options)
    return corpus, list(batches(corpus, _vocabulary(corpus, words), rng=rng, **settings))


def test_windows_stay_within_reach_and_inside_their_document():
    _, stream = _stream(documents=40, length=50, chunk_tokens=300)
    distances = []
    for batch in stream:
        _, positions, window_positions = _expand(batch)
        offset = window_positions - (positions + WINDOW)
        reach = batch.reach[positions]
        assert (np.abs(offset) >= 1).all() and (np.abs(offset) <= reach).all()
        assert reach.max() <= WINDOW and batch.reach[batch.reach > 0].min() >= 1
        assert (batch.documents[window_positions] == batch.documents[positions + WINDOW]).all()
        distances.append(np.abs(offset))
    # Dynamic window: a centre reaches distance d with probability (W - d + 1) / W.
    counts = np.bincount(np.concatenate(distances))[1:]
    assert counts / counts[0] == pytest.approx([1, 2 / 3, 1 / 3], abs=0.05)


def test_every_kept_token_is_a_centre_once_per_epoch_whatever_the_chunk():
    corpus, whole = _stream(seed=1, chunk_tokens=10**9)
    _, chunked = _stream(seed=1, chunk_tokens=500)
    for stream in (whole, chunked):
        assert sum(batch.centers for batch in stream) == sum(map(len, corpus))
        assert all(len(batch.reach) == 64 and batch.negatives.shape == (64 // BLOCK, 6) for batch in stream)
        centres = np.concatenate([batch.tokens[WINDOW:WINDOW + 64][batch.reach > 0] for batch in stream])
        assert np.bincount(centres, minlength=40).tolist() == np.bincount(np.concatenate(corpus), minlength=40).tolist()
    assert len(chunked) > len(whole)  # Each chunk's last batch is padded.


def test_no_weighted_negative_equals_a_true_context_of_its_centre():
    # Five words, one of them dominant: clashes are frequent and must all go.
    rng = np.random.default_rng(2)
    corpus = [np.where(rng.random(100) < 0.6, 0, rng.integers(1, 5, 100)) for _ in range(20)]
    checked = dropped = 0
    for batch in batches(corpus, _vocabulary(corpus, 5), window=WINDOW, sample=0, batch_size=64,
                         block_size=BLOCK, shared_negatives=6, rng=rng):
        layout, positions, window_positions = _expand(batch)
        blocks, centres = positions // BLOCK, positions % BLOCK
        weights = layout["negative_weight"][blocks, centres]  # [pairs, S]
        negatives = batch.negatives[blocks]
        contexts = batch.tokens[window_positions]
        clash = negatives == contexts[:, None]
        assert (weights[clash] == 0).all()
        checked += clash.size
        dropped += int(clash.sum())
        # The rest stand for k = 5 negatives per pair: a centre with m pairs weighs m * 5 in all.
        pairs = layout["positive"].sum(axis=2)
        total = layout["negative_weight"].sum(axis=2)
        some = (layout["negative_weight"] > 0).any(axis=2)
        assert total[some] == pytest.approx(pairs[some] * 5)
    assert dropped > 0 and checked > 1000


def test_negatives_follow_the_unigram_distribution_to_the_power_075():
    counts = np.array([1000, 300, 100, 10, 1])
    draws = NoiseTable(counts).draw((200_000,), np.random.default_rng(3))
    assert np.bincount(draws, minlength=5) / len(draws) == pytest.approx(noise_distribution(counts), abs=0.004)


def test_subsampling_keeps_frequent_words_at_the_expected_rate():
    rng = np.random.default_rng(5)
    corpus = [np.where(rng.random(1000) < 0.5, 0, rng.integers(1, 50, 1000)) for _ in range(20)]
    vocabulary = _vocabulary(corpus, 50)
    keep = keep_probabilities(vocabulary.counts, 1e-3)
    kept = np.zeros(50)
    epochs = 5
    for _ in range(epochs):
        for batch in batches(corpus, vocabulary, window=WINDOW, sample=1e-3, batch_size=64, block_size=BLOCK, rng=rng):
            kept += np.bincount(batch.tokens[WINDOW:WINDOW + 64][batch.reach > 0], minlength=50)
    rate = kept / (vocabulary.counts * epochs)
    assert rate[0] == pytest.approx(keep[0], rel=0.05) and keep[0] < 0.1
    assert rate[1:].mean() == pytest.approx(keep[1:].mean(), rel=0.05)


def test_a_layout_where_blocks_cannot_hold_two_windows_is_refused():
    corpus = [np.arange(10)]
    with pytest.raises(ValueError, match="block_size must be at least 2 \\* window"):
        next(batches(corpus, _vocabulary(corpus, 10), window=5, block_size=8, batch_size=64,
                     rng=np.random.default_rng(0)))
    with pytest.raises(ValueError, match="multiple of block_size"):
        next(batches(corpus, _vocabulary(corpus, 10), window=3, block_size=8, batch_size=60,
                     rng=np.random.default_rng(0)))
