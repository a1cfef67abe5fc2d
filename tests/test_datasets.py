"""The dataset catalogue: real data, checksums, clear errors, generic sources."""

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from kerasdl.data import dataset, images, tables, tfds_datasets
from kerasdl.errors import DataError


def test_fashion_mnist_loads_whole_and_verified():
    data = images.load_fashion_mnist()
    assert data.x_train.shape == (60000, 28, 28, 1) and data.x_train.dtype == np.uint8
    assert data.x_test.shape == (10000, 28, 28, 1)
    assert data.num_classes == 10 and data.class_names[9] == "Ankle boot"
    assert np.bincount(data.y_train).tolist() == [6000] * 10


def test_mnist_loads_from_its_wheel():
    data = images.load_mnist()
    assert data.x_train.shape == (60000, 28, 28, 1) and len(data.y_test) == 10000
    assert data.y_train[:5].tolist() == [5, 0, 4, 1, 9]  # MNIST's well-known first labels.


def test_missing_fashion_mnist_says_how_to_install(tmp_path):
    with pytest.raises(DataError, match="apt-get install -y dataset-fashion-mnist"):
        images.load_fashion_mnist(str(tmp_path))


def test_corrupt_file_fails_its_checksum(tmp_path):
    for path in Path(images.FASHION_MNIST_DIR).glob("*.gz"):
        shutil.copy(path, tmp_path)
    labels = tmp_path / "t10k-labels-idx1-ubyte.gz"
    content = bytearray(gzip.decompress(labels.read_bytes()))
    content[-1] = (content[-1] + 1) % 10
    labels.write_bytes(gzip.compress(bytes(content)))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz does not have the expected sha256"):
        images.load_fashion_mnist(str(tmp_path))


def _write_csv(path, rows, header="label,a,b"):
    path.write_text(header + "\n" + "\n".join(",".join(map(str, row)) for row in rows) + "\n")


def test_csv_with_named_classes_and_held_out_split(tmp_path):
    rows = [["cat" if i % 2 else "dog", i, i * 2] for i in range(50)]
    _write_csv(tmp_path / "d.csv", rows)
    data = tables.load_csv(str(tmp_path / "d.csv"), test_fraction=0.2, seed=1)
    assert data.class_names == ["cat", "dog"]
    assert len(data.train_items) == 40 and data.test_examples == 10
    assert data.input_shape == (2,)
    # Every row lands in exactly one split, with its own label, read as it streams.
    features = np.concatenate([data.read(data.train_items), data.read(data.test_items)])[:, 0]
    labels = np.concatenate([data.y_train, data.y_test])
    assert sorted(features.tolist()) == list(range(50))
    assert all(label == (0 if f % 2 else 1) for f, label in zip(features, labels))
    streamed = [(int(x[0]), int(y)) for x, y in data.examples(data.train_items, data.y_train)]
    assert streamed == [(int(f), int(label)) for f, label in zip(data.read(data.train_items)[:, 0], data.y_train)]


def test_csv_errors_name_the_file_and_column(tmp_path):
    _write_csv(tmp_path / "d.csv", [[0, 1, 2]], header="y,a,b")
    with pytest.raises(DataError, match=r"d.csv has no column 'label'.*y, a, b"):
        tables.load_csv(str(tmp_path / "d.csv"))
    _write_csv(tmp_path / "e.csv", [[0, 1, 2], [1, "x", 2], [0, 3, 4]])
    data = tables.load_csv(str(tmp_path / "e.csv"), test_fraction=0.3)
    with pytest.raises(DataError, match=r"e.csv, line 3 cannot be decoded \(.*not a valid float.*\)\. Fix or "
                                        r"remove it"):
        data.read(np.concatenate([data.train_items, data.test_items]))
    skipping = tables.load_csv(str(tmp_path / "e.csv"), test_fraction=0.3, skip_corrupt=True).without_corrupt()
    assert skipping.skipped == 1 and len(skipping.train_items) + skipping.test_examples == 2
    _write_csv(tmp_path / "r.csv", [[0, 1, 2], [1, 2], [0, 3, 4]])
    with pytest.raises(DataError, match=r"r.csv, line 3: 2 fields, but the header has 3. Fix the line, or set "
                                        r"`data.skip_corrupt"):
        tables.load_csv(str(tmp_path / "r.csv"))
    ragged = tables.load_csv(str(tmp_path / "r.csv"), test_fraction=0.5, skip_corrupt=True)
    assert ragged.skipped == 1 and sorted(ragged.read(np.concatenate([ragged.train_items, ragged.test_items]))[:,
        0]) == [1, 3]
    with pytest.raises(DataError, match="not found"):
        tables.load_csv(str(tmp_path / "absent.csv"))
    _write_csv(tmp_path / "f.csv", [[0, 1, 2]] * 10)
    with pytest.raises(DataError, match="feature_shape"):
        tables.load_csv(str(tmp_path / "f.csv"), feature_shape=[3, 1])


def test_npz_with_and_without_a_test_split(tmp_path):
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = np.arange(20) % 3
    np.savez(tmp_path / "full.npz", x_train=x, y_train=y, x_test=x[:5], y_test=y[:5], class_names=["a", "b", "c"])
    data = tables.load_npz(str(tmp_path / "full.npz"))
    assert data.class_names == ["a", "b", "c"] and len(data.x_test) == 5
    np.savez(tmp_path / "train.npz", x_train=x, y_train=y)
    data = tables.load_npz(str(tmp_path / "train.npz"), test_fraction=0.25)
    assert len(data.x_train) == 15 and len(data.x_test) == 5
    np.savez(tmp_path / "bad.npz", x=x)
    with pytest.raises(DataError, match="no array 'x_train'"):
        tables.load_npz(str(tmp_path / "bad.npz"))


def test_tfds_source_through_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=12):
        data = tfds_datasets.load_tfds("mnist")
        assert data.input_shape == (28, 28, 1)
        assert data.num_classes == 10 and len(data.train_items) == 12
        images = data.sample(5)
        assert images.shape == (5, 28, 28, 1) and images.dtype == np.uint8


def test_tfds_not_prepared_fails_fast_without_download(tmp_path):
    with pytest.raises(DataError, match="could not be loaded"):
        tfds_datasets.load_tfds("mnist", data_dir=str(tmp_path))


def test_hold_out_is_seeded_disjoint_and_complete():
    x, y = np.arange(100).reshape(100, 1), np.arange(100)
    kept_x, kept_y, held_x, held_y = dataset.hold_out(x, y, 0.1, seed=7)
    assert len(held_x) == 10 and len(kept_x) == 90
    assert sorted(np.concatenate([kept_x, held_x])[:, 0].tolist()) == list(range(100))
    assert (kept_x[:, 0] == kept_y).all() and (held_x[:, 0] == held_y).all()
    again = dataset.hold_out(x, y, 0.1, seed=7)[2]
    assert (again == held_x).all()
    with pytest.raises(DataError, match=r"training.validation_split must be in \(0, 1\)"):
        dataset.hold_out(x, y, 1.0, seed=7, key="training.validation_split")


def test_every_kind_of_data_implements_the_data_interface(tmp_path):
    """What tasks are typed against (``kinds.Data``, and ``kinds.Examples``
    for data trained with fit), checked on one loader of every kind: in
    memory, streamed, a series and a corpus, and after the catalogue's cuts."""
    import tensorflow_datasets as tfds

    from kerasdl.data import corpus, series, texts
    from kerasdl.data.kinds import KINDS, Data, Examples

    with tfds.testing.mock_data(num_examples=12):  # Streamed data reads its files as it goes.
        loaded = [images.load_mnist(), texts.load_tweet_sentiment(), series.load_co2(),
                  tfds_datasets.load_tfds("mnist"), corpus.load_news_articles()]
        assert sorted({data.kind for data in loaded}) == sorted(KINDS)
        for data in loaded:
            for cut in (data, data.limited(8, 4), data.without_corrupt()):
                assert isinstance(cut, Data), type(cut)
                assert isinstance(cut, Examples) == (data.kind != "corpus"), type(cut)
            if data.kind != "corpus":
                assert isinstance(data.in_memory(), Examples)
