"""The LSTM family: builder, labelled texts, time series, baselines, runs."""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from kerasdl.builders import build_lstm
from kerasdl.cli import main
from kerasdl.data.series import load_co2, load_series_csv, make_series
from kerasdl.data.texts import (
    load_text_csv,
    load_text_folder,
    load_tweet_sentiment,
    standardize_texts,
)
from kerasdl.errors import BuilderArgumentError, DataError
from kerasdl.evaluation import baselines, scores
from tests.conftest import ROOT, run_cli_here, tensorboard_summaries


def _recipes():
    return ROOT / "recipes"


TEXTS = ["what a great day", "awful service again", "the bus was late", "great food, lovely staff",
         "terrible, never again", "it opens at nine"]


def _windows(count=50, window=12, columns=1, seed=0):
    rng = np.random.default_rng(seed)
    return (300 + np.cumsum(rng.normal(size=(count, window, columns)), axis=1)).astype(np.float32)


# -- builder -------------------------------------------------------------------

@pytest.mark.parametrize("settings", [
    {},
    {"cell": "gru", "bidirectional": True, "pooling": "max", "units": (8, 8)},
    {"pooling": "average", "sequence_length": None, "embedding_dropout": 0.2},
])
def test_text_model_takes_raw_strings(settings):
    model = build_lstm(num_classes=3, adapt_data=TEXTS, embedding_dim=8, **{"units": (8,), **settings})
    probabilities = keras.ops.convert_to_numpy(model(tf.constant(["great day", "never again, awful", ""])))
    assert probabilities.shape == (3, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    vocabulary = model.get_layer("vectorize").get_vocabulary()
    assert "great" in vocabulary and "again" in vocabulary and "great," not in vocabulary


def test_masked_max_pooling_ignores_padding():
    # The same text padded to different lengths gets the same answer.
    short = build_lstm(num_classes=2, adapt_data=TEXTS, units=(4,), embedding_dim=4, pooling="max", sequence_length=6)
    long = build_lstm(num_classes=2, adapt_data=TEXTS, units=(4,), embedding_dim=4, pooling="max", sequence_length=30)
    long.set_weights(short.get_weights())
    text = tf.constant(["awful service"])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(short(text)), keras.ops.convert_to_numpy(long(text)),
                               atol=1e-6)


def test_forecaster_works_in_data_units_relative_to_the_last_value():
    windows = _windows()
    model = build_lstm((12, 1), horizon=3, adapt_data=windows, units=(8,), dropout_rate=0.0)
    # Statistics come from adapt_data: the target relative to its last value.
    relative = windows - windows[:, -1:, :]
    normalize = model.get_layer("normalize")
    np.testing.assert_allclose(np.ravel(normalize.mean), [relative.mean()], rtol=1e-4)
    np.testing.assert_allclose(np.ravel(normalize.variance), [relative.var()], rtol=1e-3)
    # So shifting a window by c ppm shifts its forecast by exactly c.
    base = keras.ops.convert_to_numpy(model(windows[:5]))
    shifted = keras.ops.convert_to_numpy(model(windows[:5] + 25.0))
    assert base.shape == (5, 3)
    np.testing.assert_allclose(shifted, base + 25.0, atol=1e-3)


def test_forecaster_with_covariates_and_a_sequence_classifier():
    windows = _windows(columns=3)
    model = build_lstm((12, 3), horizon=2, adapt_data=windows, units=(4,))
    assert model.output_shape == (None, 2)
    images = np.random.default_rng(0).integers(0, 255, (20, 28, 28, 1)).astype(np.float32)
    classifier = build_lstm((28, 28, 1), num_classes=10, adapt_data=images, units=(8,))
    assert classifier(images[:2]).shape == (2, 10)


def test_embedding_starts_from_a_word2vec_file(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text("3 4\ngreat 1 2 3 4\nawful -1 -2 -3 -4\nzebra 0 0 0 1\n")
    model = build_lstm(num_classes=2, adapt_data=TEXTS, units=(4,), embedding_dim=4, embedding_path=str(path),
                       embedding_trainable=False)
    vocabulary = model.get_layer("vectorize").get_vocabulary()
    table = keras.ops.convert_to_numpy(model.get_layer("embedding").embeddings)
    np.testing.assert_allclose(table[vocabulary.index("great")], [1, 2, 3, 4])
    np.testing.assert_allclose(table[vocabulary.index("awful")], [-1, -2, -3, -4])
    assert not model.get_layer("embedding").trainable


@pytest.mark.parametrize("arguments, argument, message", [
    (dict(num_classes=2, horizon=2, adapt_data=TEXTS), "num_classes", "not both or neither"),
    (dict(num_classes=2), "adapt_data", "training texts"),
    (dict(input_shape=(12, 1), horizon=2), "adapt_data", "training windows"),
    (dict(input_shape=(12, 1), horizon=2, adapt_data=np.zeros((3, 10, 1))), "adapt_data", "[n, 12, 1]"),
    (dict(num_classes=2, adapt_data=TEXTS, cell="rnn"), "cell", "'lstm', 'gru'"),
    (dict(num_classes=2, adapt_data=TEXTS, pooling="min"), "pooling", "'last', 'max', 'average'"),
    (dict(num_classes=2, adapt_data=TEXTS, embedding_dim=5, embedding_path="VECTORS"), "embedding_dim",
     "embedding_dim: 4"),
    (dict(num_classes=2, adapt_data=TEXTS, embedding_dim=4, embedding_path="MISSING"), "embedding_path", "not found"),
])
def test_builder_errors_name_the_argument(tmp_path, arguments, argument, message):
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("great 1 2 3 4\n")
    replace = {"VECTORS": str(vectors), "MISSING": str(tmp_path / "none.txt")}
    arguments = {key: replace.get(value, value) if isinstance(value, str) else value for key,
                 value in arguments.items()}
    with pytest.raises(BuilderArgumentError, match=None) as error:
        build_lstm(**arguments)
    assert error.value.argument == argument and message in str(error.value)


# -- labelled texts ----------------------------------------------------------

def test_tweet_sentiment_is_the_real_corpus_split_by_class():
    data = load_tweet_sentiment()
    assert data.class_names == ["negative", "neutral", "positive"]
    assert len(data.x_train) + len(data.x_test) == 38158
    counts = np.bincount(np.concatenate([data.y_train, data.y_test]))
    assert counts.tolist() == [16186, 15018, 6954]
    # Stratified 80/20: each class keeps its share in the test split.
    np.testing.assert_allclose(np.bincount(data.y_test) / len(data.y_test), counts / counts.sum(), atol=1e-3)
    assert data.is_text and data.input_shape == () and isinstance(data.x_test[0], str)


def test_text_csv_and_folder(tmp_path):
    csv_file = tmp_path / "reviews.csv"
    csv_file.write_text("id,review,stars\n" + "".join(
        f"{i},text number {i},{'good' if i % 3 else 'bad'}\n" for i in range(30)))
    data = load_text_csv(str(csv_file), text_column="review", label_column="stars", test_fraction=0.2)
    assert data.class_names == ["bad", "good"] and data.test_examples == 6 and data.streamed
    assert sorted(np.bincount(data.y_test)) == [2, 4]
    assert [int(text.split()[-1]) % 3 != 0 for text in data.read(data.test_items)] == [bool(y) for y in data.y_test]
    # Quoted commas and doubled quotes: the stream parses them as Python's csv does.
    csv_file.write_text('id,review,stars\n1,"a, b",good\n2,"say ""hi""",bad\n\n3,plain,good\n4,x,bad\n')
    quoted = load_text_csv(str(csv_file), text_column="review", label_column="stars", test_fraction=0.5)
    everything = np.concatenate([quoted.train_items, quoted.test_items])
    assert sorted(quoted.read(np.sort(everything))) == sorted(['a, b', 'say "hi"', "plain", "x"])
    # A text over two lines: read whole, as the stream cannot split it.
    csv_file.write_text('id,review,stars\n1,"two\nlines",good\n2,one line,bad\n3,"a, b",good\n4,x,bad\n5,y,good\n')
    whole = load_text_csv(str(csv_file), text_column="review", label_column="stars", test_fraction=0.4)
    assert not whole.streamed and "texts span lines" in whole.notes[-1]
    assert "two\nlines" in list(whole.x_train) + list(whole.x_test)
    for label in ("pos", "neg"):
        (tmp_path / "folder" / label).mkdir(parents=True)
        for index in range(5):
            (tmp_path / "folder" / label / f"{index}.txt").write_text(f"{label} text {index}")
    folder = load_text_folder(str(tmp_path / "folder"), test_fraction=0.2)
    assert folder.class_names == ["neg", "pos"] and folder.test_examples == 2 and len(folder.train_items) == 8
    assert sorted(np.bincount(folder.y_test)) == [1, 1]  # Stratified: one of each class.
    texts = folder.read(folder.train_items)
    assert all(text.startswith(folder.class_names[label]) for text, label in zip(texts, folder.y_train))


@pytest.mark.parametrize("content, options, message", [
    ("text,label\nhello,a\n", {"label_column": "sentiment"},
        "has no column 'sentiment'. Set `data.label_column` to one of: text, label"),
    ("text,label\nhello,a\n  ,b\n", {}, "line 3: column 'text' is empty"),
    ("text,label\nhello,a\nbye,\n", {}, "line 3: column 'label' is empty"),
    ("text,label\n", {}, "has a header but no rows"),
    (b"text,label\ncaf\xe9,a\n", {}, "is not utf-8 text"),
])
def test_bad_text_csv_names_file_line_and_fix(tmp_path, content, options, message):
    path = tmp_path / "texts.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DataError) as error:
        load_text_csv(str(path), **options)
    assert str(path) in str(error.value) and message in str(error.value)


def test_standardize_texts_matches_text_vectorization():
    texts = ["Don't STOP, #believing!", "e-mail: a@b.c"]
    layer = keras.layers.TextVectorization()
    layer.adapt(texts)
    words = {word for text in standardize_texts(texts, "lower_and_strip_punctuation") for word in text.split()}
    assert words == set(layer.get_vocabulary()[2:])  # After padding and [UNK].


# -- time series -------------------------------------------------------------

def test_co2_is_the_real_weekly_series_interpolated():
    series = load_co2()
    assert series.values.shape == (2284, 1) and not np.isnan(series.values).any()
    assert series.times[0] == "19580329" and series.times[-1] == "20011229"
    assert 310 < series.values.min() < series.values.max() < 375
    assert series.test_start == 2284 - round(2284 * 0.2)


def _series(length=200, window=10, horizon=3, fraction=0.2, season=None):
    steps = np.arange(length, dtype=np.float64)
    values = np.stack([steps, -steps], axis=1)
    return make_series(values, ["y", "x"], [str(step) for step in range(length)], window=window, horizon=horizon,
                       test_fraction=fraction, season=season, source="synthetic")


def test_series_examples_and_chronological_splits():
    series = _series()
    x, y, x_val, y_val = series.split(0.25, seed=0)
    # Inputs are the window's past values, labels the target's next values.
    np.testing.assert_array_equal(x[0, :, 0], np.arange(10))
    np.testing.assert_array_equal(y[0], [10, 11, 12])
    np.testing.assert_array_equal(x[0, :, 1], -np.arange(10))
    # Labels: training before validation before test, no overlap.
    assert y.max() < y_val.min() and y_val.max() < series.y_test.min()
    assert series.y_test.min() == series.test_start == 160
    assert y_val.max() == series.test_start - 1 and series.y_test.max() == 199
    assert series.x_test[0, -1, 0] == series.test_start - 1  # Inputs may reach back.


def test_series_csv_sorts_interpolates_and_rejects_bad_input(tmp_path):
    path = tmp_path / "s.csv"
    rows = [(f"2020-01-{day:02d}", "" if day == 5 else str(day)) for day in range(1, 31)]
    path.write_text("date,value\n" + "".join(f"{d},{v}\n" for d, v in reversed(rows)))
    series = load_series_csv(str(path), value_column="value", time_column="date", window=5, horizon=2)
    assert series.times[0] == "2020-01-01"
    np.testing.assert_allclose(series.values[:, 0], np.arange(1, 31))  # Day 5 interpolated.

    def fails(text, message, **options):
        path.write_text(text)
        with pytest.raises(DataError) as error:
            load_series_csv(str(path), **{"value_column": "value", "time_column": "date", "window": 5, **options})
        assert message in str(error.value), str(error.value)

    fails("date,value\n1,2\n", "has no column 'time'. Set `data.time_column` to one of: date, value",
          time_column="time")
    fails("date,value\n1,2\n2,high\n", "line 3: column 'value' must hold numbers")
    fails("date,value\n1,2\n1,3\n", "time '1' appears twice")
    fails("date,value\n" + "".join(f"{i},{i}\n" for i in range(6)), "too few for data.window=5")


def test_baselines_on_a_series_with_known_answers():
    # A line plus a season of 4: seasonal naive with drift is exact, and
    # the last value misses by the change since.
    steps = np.arange(80, dtype=np.float64)
    values = (0.5 * steps + 3 * np.sin(2 * np.pi * steps / 4))[:, None]
    series = make_series(values, ["y"], list(map(str, steps)), window=8, horizon=6, test_fraction=0.25, season=4,
                         source="synthetic")
    np.testing.assert_allclose(baselines.seasonal_naive_drift(series), series.y_test, atol=1e-9)
    last = baselines.last_value(series)
    np.testing.assert_allclose(last[:, 0], series.x_test[:, -1, 0])
    scored = baselines.forecast_baselines(series)
    assert scored["seasonal_naive_drift_4"]["rmse"] < 1e-9 < scored["last_value"]["rmse"]


def test_macro_f1_matches_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    truth, predicted = rng.integers(0, 4, 500), rng.integers(0, 4, 500)
    predicted[:100] = truth[:100]
    assert math.isclose(scores.macro_f1(truth, predicted, 4), metrics.f1_score(truth, predicted, average="macro"))


# -- runs ----------------------------------------------------------------------

def _text_recipe(tmp_path, *extra):
    rows = [(f"{word} {word} {i}", label) for i in range(60) for word, label in (("great", "pos"), ("awful", "neg"))]
    (tmp_path / "texts.csv").write_text("text,label\n" + "".join(f"{text},{label}\n" for text, label in rows))
    return ["--set", "data.dataset=text_csv", "--set", f"data.path={tmp_path / 'texts.csv'}",
            "--set", "data.test_fraction=0.25", "--set", "model.units=[8]", "--set", "model.embedding_dim=16",
            "--set", "training.epochs=8", "--set", "training.batch_size=16", "--set", "pretrain.epochs=2",
            "--set", "optimizer.learning_rate=0.01", "--set", "training.early_stopping=false",
            "--set", "pretrain.batch_size=256", "--set", "pretrain.min_count=1", "--set", "tune=null", *extra]


def test_text_run_exports_a_model_that_classifies_raw_strings(workdir):
    result = run_cli_here("run", str(_recipes() / "lstm.yaml"), "--json", *_text_recipe(workdir), cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["test"]["accuracy"] == 1.0 and summary["test"]["macro_f1"] == 1.0
    assert set(summary["baselines"]) == {"majority_class", "tfidf_logistic_regression"}
    assert summary["baselines"]["majority_class"]["accuracy"] == 0.5
    assert (workdir / summary["run_dir"] / "pretrained_vectors.txt").is_file()
    # TensorBoard: the model's test score and each baseline's under one tag.
    logs = workdir / summary["run_dir"] / "logs"
    for folder, expected in [("evaluation", summary["test"]), *(
            (f"baseline_{name}", baseline) for name, baseline in summary["baselines"].items())]:
        plugin, [(step, value)] = tensorboard_summaries(logs / folder)["test/accuracy"]
        assert plugin == "scalars" and step == summary["epochs"] and value == pytest.approx(expected["accuracy"])
    assert "Pretrained word vectors" in result.stderr
    loaded = tf.saved_model.load(summary["export_path"])
    answer = loaded.signatures["serving_default"](inputs=tf.constant(["great great", "awful awful", "great"]))
    names = (workdir / summary["export_path"] / "assets.extra" / "class_names.txt").read_text().split()
    assert [names[row] for row in answer["probabilities"].numpy().argmax(axis=1)] == ["pos", "neg", "pos"]


def test_series_run_reports_baselines_and_exports_a_model_taking_raw_windows(workdir):
    steps = np.arange(300)
    values = 300 + 0.05 * steps + 2 * np.sin(2 * np.pi * steps / 26)
    (workdir / "s.csv").write_text("week,ppm\n" + "".join(f"{s},{v:.4f}\n" for s, v in zip(steps, values)))
    result = run_cli_here(
        "run", str(_recipes() / "lstm_forecast.yaml"), "--json", "--set", "data.dataset=series_csv",
        "--set", f"data.path={workdir / 's.csv'}", "--set", "data.value_column=ppm", "--set", "data.time_column=week",
        "--set", "data.window=30", "--set", "data.season=26", "--set", "model.units=[8]",
        "--set", "training.epochs=2", "--set", "tune=null", cwd=workdir,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert set(summary["baselines"]) == {"last_value", "seasonal_naive_drift_26"}
    assert {"rmse", "mae", "rmse_at_horizon"} <= set(summary["test"])
    # The export takes raw windows in the data's units and answers as the model.
    series = load_series_csv(str(workdir / "s.csv"), value_column="ppm", time_column="week", window=30, horizon=4)
    serve = tf.saved_model.load(summary["export_path"]).signatures["serving_default"]
    forecast = serve(inputs=tf.constant(series.x_test[:8]))["forecast"].numpy()
    model = keras.saving.load_model(workdir / summary["run_dir"] / "model.keras")
    assert forecast.shape == (8, 4)
    np.testing.assert_allclose(forecast, model.predict(series.x_test[:8], verbose=0), rtol=1e-5)  # In ppm: ~300.
    info = json.loads((workdir / summary["export_path"] / "assets.extra" / "series.json").read_text())
    assert info["window"] == 30 and info["horizon"] == 4 and info["columns"] == ["ppm"]


@pytest.mark.parametrize("recipe, settings, message", [
    ("lstm_forecast.yaml", ["loss=sparse_categorical_crossentropy"],
        "loss: sparse_categorical_crossentropy is a classification loss"),
    ("lstm_forecast.yaml", ["metrics=[accuracy]"], "metrics[0]: accuracy scores classes"),
    ("lstm_forecast.yaml", ["data.window=2000"], "too few for data.window=2000"),
    ("lstm_forecast.yaml", ["pretrain.enabled=true"],
        "pretrain.enabled: Word2Vec pretraining starts the embedding of a text model"),
    ("lstm.yaml", ["model={builder: dense}"], "'dense' does not train on labelled texts"),
    ("lstm.yaml", ["model.embedding_path=vectors.txt"], "model.embedding_path (vectors.txt). Keep one"),
    ("cnn.yaml", ["model={builder: lstm}", "data.dataset=co2", "loss=mse", "metrics=[mae]",
        "data={dataset: co2}"], None),
])
def test_bad_lstm_recipes_fail_cleanly_before_writing(workdir, recipe, settings, message):
    sets = [item for setting in settings for item in ("--set", setting)]
    # In-process (no TensorFlow start-up each); a clean exit is a SystemExit, never another error.
    result = CliRunner().invoke(main, ["run", str(_recipes() / recipe), "--set", "tune=null",
                                       "--set", "training.epochs=1", "--quiet", *sets])
    if message is None:  # A control: the same overrides without a mistake run.
        assert result.exit_code == 0 and result.exception is None, result.output[-2000:]
        return
    # Exit 2, bad input: a recipe mistake or data that does not fit it.
    assert result.exit_code == 2, result.output[-2000:]
    assert isinstance(result.exception, SystemExit)
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (workdir / "runs").exists() and not (workdir / "saved_models").exists()


def test_a_text_model_with_line_separators_in_its_vocabulary_saves_and_loads(tmp_path):
    """Keras reads a saved vocabulary with str.splitlines, which breaks at
    U+0085 (found in the tweets' mojibake): the builder drops such tokens."""
    texts = np.array(["good day \x99\x85ok", "bad \x85 day", "good good", "bad mood \u2028x"] * 5, dtype=object)
    model = build_lstm(input_shape=(), num_classes=2, adapt_data=texts, units=[4], embedding_dim=4)
    vocabulary = model.get_layer("vectorize").get_vocabulary()
    assert "good" in vocabulary and not any(len(f"{token}x".splitlines()) > 1 for token in vocabulary)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.get_layer("vectorize").get_vocabulary() == vocabulary
    np.testing.assert_allclose(loaded.predict(texts[:4], verbose=0), model.predict(texts[:4], verbose=0), atol=1e-6)
