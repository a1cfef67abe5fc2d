"""What a run offers around training (issue 21): the plateau rule, the
best epoch kept, early stopping across a kill; the
run folder's provenance is tests/test_provenance.py."""

import keras
import numpy as np
import pytest

from kerasdl.errors import RecipeError
from kerasdl.recipe.resolve import load_recipe
from kerasdl.runtime.checkpoint import BestWeights, Checkpoint
from tests.conftest import ROOT

CNN = str(ROOT / "recipes" / "cnn.yaml")
DENSE = str(ROOT / "recipes" / "dense.yaml")
LSTM = str(ROOT / "recipes" / "lstm.yaml")


# -- Plateaus (issue 21) -------------------------------------------------------------


def test_reduce_on_plateau_lowers_a_constant_rate_and_refuses_a_schedule(workdir):
    from kerasdl.runtime import runs as run_folders
    from kerasdl.tasks import loop

    recipe = load_recipe(DENSE, [
        "data.max_train_examples=256", "data.max_test_examples=64", "training.epochs=3", "export.enabled=false",
        "optimizer.learning_rate=0.01", "training.reduce_on_plateau={factor: 0.5, patience: 0, min_delta: 100.0}",
    ])
    summary = loop.run(recipe, verbose=0, log=lambda line: None)
    rates = run_folders.read_history(workdir / summary["run_dir"])["learning_rate"]
    # The first epoch improves on nothing (infinity); no later one improves
    # by 100: with patience 0 the rate halves after each, as logged from
    # the epoch after.
    assert rates == pytest.approx([0.01, 0.01, 0.005], rel=1e-6)
    with pytest.raises(RecipeError, match=r"training.reduce_on_plateau lowers a constant learning rate, but "
                                          r"optimizer.learning_rate is a 'cosine' schedule"):
        load_recipe(CNN, ["training.reduce_on_plateau=true"])
    with pytest.raises(RecipeError, match=r"training.reduce_on_plateau.factr is not an argument of "
                                          r"keras.callbacks.ReduceLROnPlateau"):
        load_recipe(DENSE, ["training.reduce_on_plateau={factr: 0.5}"])


# -- The best epoch, and early stopping across a kill ------------------------------------


class _Scripted(keras.callbacks.Callback):
    """Sets each epoch's val_loss from a script, keeps a copy of the
    weights after each epoch, and stops the process's fit (as a kill
    would, after the epoch's checkpoint) before epoch ``interrupt``."""

    def __init__(self, values, interrupt=None):
        super().__init__()
        self.values, self.interrupt, self.weights = values, interrupt, {}

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.interrupt:
            raise _Killed()

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]
        self.weights[epoch] = [value.copy() for value in self.model.get_weights()]


class _Killed(BaseException):
    pass


def _fit(backup, script, epochs=10):
    """One process's fit, ordered as Task._with_rules orders a run's."""
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    model.compile("adam", "sparse_categorical_crossentropy")
    stopping = keras.callbacks.EarlyStopping(monitor="val_loss", patience=2)
    best = BestWeights(str(backup), "val_loss")
    checkpoint = Checkpoint(str(backup))
    checkpoint.track(stopping, best)
    x, y = np.random.default_rng(0).normal(size=(64, 4)), np.arange(64) % 2
    history = None
    try:
        history = model.fit(x, y, epochs=epochs, verbose=0, callbacks=[script, stopping, best, checkpoint])
    except _Killed:
        pass
    return model, history, stopping, best


def test_early_stopping_and_the_best_epoch_survive_a_kill(tmp_path):
    values = [5.0, 3.0, 4.0, 4.5, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]
    # Uninterrupted: best after epoch 2 (3.0); two epochs without improvement stop it after epoch 4.
    whole = _Scripted(values)
    model, history, stopping, best = _fit(tmp_path / "whole", whole)
    assert history.epoch == [0, 1, 2, 3] and stopping.stopped_epoch == 3 and best.best_epoch == 2
    for kept, expected in zip(model.get_weights(), whole.weights[1]):
        np.testing.assert_array_equal(kept, expected)  # The best epoch's weights, not the last's.

    # Killed before epoch 4 (its patience count at 1), then run again.
    first = _Scripted(values, interrupt=3)
    _fit(tmp_path / "killed", first)
    model, history, stopping, best = _fit(tmp_path / "killed", _Scripted(values))
    # Forgetting the count would have trained on to epoch 6 and kept epoch 4.
    assert history.epoch == [3] and stopping.stopped_epoch == 3 and stopping.wait == 2
    assert best.best_epoch == 2 and best.best == 3.0
    for kept, expected in zip(model.get_weights(), first.weights[1]):
        np.testing.assert_array_equal(kept, expected)


def test_a_run_reports_evaluates_and_exports_its_best_epoch(workdir):
    """At a high rate the validation loss rises after epoch 4 of 5: the
    export holds epoch 4's weights (its validation loss is epoch 4's, not
    epoch 5's) and the reported test scores are the export's."""
    from kerasdl.runtime import runs as run_folders
    from kerasdl.tasks import loop

    recipe = load_recipe(DENSE, [
        "data.max_train_examples=512", "data.max_test_examples=64", "training.epochs=5", "optimizer.learning_rate=0.03",
    ])
    summary = loop.run(recipe, verbose=0, log=lambda line: None)
    losses = run_folders.read_history(workdir / summary["run_dir"])["val_loss"]
    best = int(np.argmin(losses)) + 1
    assert summary["best_epoch"] == best and best < len(losses)  # Else the test could not tell best from last.
    exported = keras.saving.load_model(workdir / summary["export_path"] / "assets.extra" / "model.keras")
    task = loop.prepared(recipe, log=lambda line: None)  # The same seed: the same validation split.
    exported.compile(**task.loss_and_metrics())
    scored = exported.evaluate(task.validation_data, verbose=0, return_dict=True)
    assert scored["loss"] == pytest.approx(losses[best - 1], rel=1e-5)
    assert scored["loss"] != pytest.approx(losses[-1], rel=1e-3)
    test = exported.evaluate(task.test_data, verbose=0, return_dict=True)
    assert summary["test"]["accuracy"] == pytest.approx(test["accuracy"], abs=1e-6)


# -- Label smoothing (issue 23) -------------------------------------------------------


def test_smoothed_integer_labels_score_as_keras_smooths_one_hot_labels():
    from kerasdl.models.losses import SparseCategoricalCrossentropy

    rng = np.random.default_rng(0)
    probabilities = keras.ops.softmax(rng.normal(size=(6, 4)).astype("float32"))
    labels = np.array([0, 3, 1, 2, 3, 0])
    smoothed = SparseCategoricalCrossentropy(0.2)
    expected = keras.losses.CategoricalCrossentropy(label_smoothing=0.2)(np.eye(4)[labels], probabilities)
    assert float(smoothed(labels, probabilities)) == pytest.approx(float(expected), rel=1e-6)
    # Labels shaped (batch, 1), as some pipelines give them, score alike.
    assert float(smoothed(labels[:, None], probabilities)) == pytest.approx(float(expected), rel=1e-6)
    # Unsmoothed, it is Keras's own sparse crossentropy; smoothed, it is not.
    plain = float(keras.losses.SparseCategoricalCrossentropy()(labels, probabilities))
    assert float(SparseCategoricalCrossentropy(0.0)(labels, probabilities)) == pytest.approx(plain, rel=1e-6)
    assert float(expected) != pytest.approx(plain, rel=1e-3)
    # It round-trips through a saved model's config (registered as kerasdl>).
    restored = keras.losses.deserialize(keras.losses.serialize(smoothed))
    assert isinstance(restored, SparseCategoricalCrossentropy) and restored.label_smoothing == 0.2


def test_a_run_trains_on_the_smoothed_loss_and_refuses_it_for_other_losses(workdir):
    from kerasdl.runtime import runs as run_folders
    from kerasdl.tasks import loop

    settings = ["data.max_train_examples=256", "data.max_test_examples=64", "training.epochs=1",
                "export.enabled=false"]
    plain = loop.run(load_recipe(DENSE, settings), verbose=0, log=lambda line: None)
    smoothed = loop.run(load_recipe(DENSE, [*settings, "training.label_smoothing=0.3"]), verbose=0,
                        log=lambda line: None)
    # Same seed, same first batch: smoothing raises the loss logged (its
    # targets are never exactly met), so the run did train on it.
    first = {name: run_folders.read_history(workdir / summary["run_dir"])["loss"][0]
             for name, summary in (("plain", plain), ("smoothed", smoothed))}
    assert first["smoothed"] > first["plain"]
    with pytest.raises(RecipeError, match=r"training.label_smoothing softens the targets of a crossentropy "
                                          r".*but loss is 'mse'"):
        load_recipe(DENSE, ["loss=mse", "training.label_smoothing=0.1"])


# -- Class imbalance (issue 21) ------------------------------------------------------


def test_balanced_weights_count_every_class_alike_and_named_weights_default_to_one():
    from kerasdl.data import balance

    labels = np.array([0] * 6 + [1] * 3 + [2] * 1)
    weights = balance.class_weights("balanced", labels, ["a", "b", "c"])
    assert weights == pytest.approx({0: 10 / 18, 1: 10 / 9, 2: 10 / 3})
    # Each class's examples now weigh the same in all.
    assert [weights[label] * count for label, count in enumerate([6, 3, 1])] == pytest.approx([10 / 3] * 3)
    assert balance.class_weights({"c": 4, "a": 0.5}, labels, ["a", "b", "c"]) == {0: 0.5, 1: 1.0, 2: 4.0}
    with pytest.raises(ValueError, match="'d' is not a class of the data; its classes are: a, b, c"):
        balance.class_weights({"d": 2}, labels, ["a", "b", "c"])
    with pytest.raises(ValueError, match="class 'd' has no training examples"):
        balance.class_weights({"d": 2}, labels, ["a", "b", "c", "d"])


def test_oversampling_keeps_every_example_and_evens_the_classes():
    from kerasdl.data import balance

    labels = np.array([0] * 6 + [1] * 3 + [2] * 1 + [0])
    keep = balance.oversampled(labels, seed=1)
    assert list(keep[:len(labels)]) == list(range(len(labels)))  # Every original once, in order.
    assert np.bincount(labels[keep]).tolist() == [7, 7, 7]
    assert set(keep[len(labels):]) <= set(np.flatnonzero(labels != 0))  # Draws only from the smaller classes.
    assert np.array_equal(keep, balance.oversampled(labels, seed=1))  # Seeded.
    assert list(balance.oversampled(np.array([1, 0, 1, 0]), seed=1)) == [0, 1, 2, 3]  # Balanced already.


@pytest.mark.parametrize("setting, message", [
    ("training.class_weight=balnced", r"training.class_weight must be balanced, or a mapping of class name to "
                                      r"weight \(did you mean 'balanced'\?\)"),
    ("training.class_weight={positive: -1}", r"training.class_weight.positive must be a number above 0"),
    ("training.class_weight={positive: yes}", r"training.class_weight.positive must be a number above 0"),
    ("training.class_weight=[1, 2]", r"training.class_weight must be null or a string or a mapping"),
])
def test_bad_class_weights_are_refused_naming_the_key(setting, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe(LSTM, [setting])


def test_class_weights_need_a_classifier_and_known_class_names(workdir):
    from kerasdl.tasks import loop

    quiet = dict(log=lambda line: None)
    with pytest.raises(RecipeError, match=r"training.class_weight: 'happy' is not a class of the data; its "
                                          r"classes are: negative, neutral, positive"):
        loop.create(load_recipe(LSTM, ["training.class_weight={happy: 2}"]), **quiet)
    with pytest.raises(RecipeError, match=r"training.class_weight and training.oversample both correct"):
        loop.create(load_recipe(LSTM, ["training.class_weight=balanced", "training.oversample=true"]), **quiet)
    forecast = str(ROOT / "recipes" / "lstm_forecast.yaml")
    with pytest.raises(RecipeError, match=r"training.oversample: corrects the class imbalance of a classifier's "
                                          r"training data, but this recipe trains 'lstm' on"):
        loop.create(load_recipe(forecast, ["training.oversample=true"]), **quiet)


def test_balancing_the_tweets_raises_the_minority_class_recall(workdir):
    """The tweets are 42/39/18 % negative/neutral/positive: weighing the
    classes alike must recall more positive tweets than training on the
    data as it is (a small, fast text model; oversampling's counts are
    tested in tests/test_streaming.py and above, its effect measured in
    docs/lstm.md)."""
    from kerasdl.tasks import loop

    small = [
        "data.max_train_examples=4000", "data.max_test_examples=2000", "pretrain.enabled=false",
        "model.max_tokens=5000", "model.sequence_length=20", "model.embedding_dim=16", "model.units=[16]",
        "training.epochs=2", "training.early_stopping=false", "training.baselines=false", "export.enabled=false",
    ]

    def positive_recall(*setting):
        summary = loop.run(load_recipe(LSTM, [*small, *setting]), verbose=0, log=lambda line: None)
        return summary["text"]["per_class_accuracy"]["positive"]

    assert positive_recall("training.class_weight=balanced") > positive_recall() + 0.05
