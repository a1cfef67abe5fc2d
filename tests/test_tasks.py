"""Tasks: the catalogue picks one per builder and kind of data, and the run
loop drives any registered task, a new family's too, without knowing it."""

import json
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from kerasdl.errors import RecipeError
from kerasdl.recipe.resolve import resolve
from kerasdl.registry import BUILDERS, TASKS
from kerasdl.tasks import catalogue, loop
from kerasdl.tasks.classifier import Classifier


@pytest.mark.parametrize("builder, kind, expected", [
    ("cnn", "examples", "classifier"),
    ("dense", "examples", "classifier"),
    ("lstm", "examples", "classifier"),
    ("lstm", "texts", "text"),
    ("lstm", "series", "forecaster"),
    ("gan", "examples", "gan"),
    ("transfer", "examples", "transfer"),
    ("word2vec", "corpus", "word2vec"),
])
def test_the_catalogue_picks_the_task_by_builder_then_by_data(builder, kind, expected):
    recipe = resolve({"model": {"builder": builder, **({"backbone": "MobileNet"} if builder == "transfer" else {})}},
                     "r.yaml")
    assert catalogue.select(recipe, SimpleNamespace(kind=kind, description=kind)).name == expected


@pytest.mark.parametrize("builder, kind", [("gan", "texts"), ("word2vec", "examples"), ("transfer", "series")])
def test_a_builder_on_data_its_task_does_not_train_on_is_refused(builder, kind):
    recipe = resolve({"model": {"builder": builder, **({"backbone": "MobileNet"} if builder == "transfer" else {})}},
                     "r.yaml")
    with pytest.raises(RecipeError, match=f"r.yaml: model.builder: '{builder}' does not train on {kind}"):
        catalogue.select(recipe, SimpleNamespace(kind=kind, description=kind, builder_inputs=lambda _: ({}, {})))


def test_a_new_family_is_a_builder_a_task_and_a_recipe(workdir, monkeypatch):
    """What docs/architecture.md promises: register a builder and a task,
    write a recipe, and the run loop trains, scores, exports and reports it."""

    def build_linear_probe(input_shape, num_classes):
        """A linear classifier of raw pixels."""
        inputs = keras.Input(shape=tuple(input_shape), name="inputs")
        x = keras.layers.Rescaling(1.0 / 255)(keras.layers.Flatten()(inputs))
        return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x), name="linear_probe")

    class Probe(Classifier):
        builders = ("linear_probe",)
        data_kinds = ("examples",)

        def report(self, folder):
            return {"weights": self.model.count_params()}

    BUILDERS.names(), TASKS.names()  # Load the real entries first.
    monkeypatch.setitem(BUILDERS._entries, "linear_probe", build_linear_probe)
    monkeypatch.setattr(Probe, "name", "probe", raising=False)
    monkeypatch.setitem(TASKS._entries, "probe", Probe)
    recipe = resolve({
        "model": {"builder": "linear_probe"},
        "data": {"max_train_examples": 256, "max_test_examples": 128},
        "training": {"epochs": 1, "batch_size": 64},
    }, "probe.yaml")
    summary = loop.run(recipe, verbose=0, log=lambda _: None)
    # The task's section: its own report, after what every classifier adds (per-class accuracy, confusion matrix).
    assert summary["task"] == "probe" and summary["probe"]["weights"] == 28 * 28 * 10 + 10
    assert sum(map(sum,
                   summary["probe"]["confusion_matrix"])) == 128 and len(summary["probe"]["per_class_accuracy"]) == 10
    assert set(summary) == {*loop.METRICS_KEYS, "probe"}
    matrix = np.array(summary["probe"]["confusion_matrix"])  # The accuracy is the matrix's diagonal share.
    assert summary["test"]["accuracy"] == pytest.approx(np.trace(matrix) / 128) and "macro_f1" in summary["test"]
    assert json.loads((workdir / summary["run_dir"] / "metrics.json").read_text()) == summary
    assert (workdir / summary["export_path"] / "saved_model.pb").is_file()


@pytest.mark.parametrize("recipe, settings", [
    # Flips, test-time flips (two views a prediction) and an L2 penalty, which evaluate adds to the loss.
    ("cnn.yaml", ["model.filters=[4, 8]", "model.l2=0.01", "data.max_train_examples=300",
                  "data.max_test_examples=300"]),
    ("lstm.yaml", ["data.max_train_examples=300", "data.max_test_examples=300", "pretrain.enabled=false",
                   "model.max_tokens=500", "model.units=[8]"]),
    ("lstm_forecast.yaml", []),
])
def test_the_test_scores_from_the_one_prediction_pass_are_those_of_evaluate(workdir, recipe, settings):
    """The test split is predicted once; the loss and metrics computed from
    those predictions are what ``model.evaluate`` gives on the split."""
    from kerasdl.recipe.resolve import load_recipe
    from tests.conftest import ROOT

    task = loop.prepared(load_recipe(ROOT / "recipes" / recipe, settings), log=lambda line: None)
    expected = task.model.evaluate(task.test_data, verbose=0, return_dict=True)
    scores = task.compiled_scores(task.model.predict(task.test_data, verbose=0))
    assert scores == pytest.approx(expected, rel=1e-5)
    if recipe == "cnn.yaml":
        assert sum(float(loss) for loss in task.model.losses) > 0.01  # The penalty is in both.


@pytest.mark.parametrize("builder, told", [
    ("dense", "The builders that train on it: lstm."),  # dense takes arrays, not a vocabulary.
    ("gan", "The builders that train on it: lstm. 'gan' trains on examples with labels (images or tables)."),
])
def test_a_mismatch_names_the_builders_that_train_on_the_data(workdir, builder, told):
    """The message is made from what the catalogue decides by (the tasks'
    builders and data kinds, the builders' signatures), not a list of its own."""
    from click.testing import CliRunner

    from kerasdl.cli import main
    from tests.conftest import ROOT

    result = CliRunner().invoke(main, ["run", str(ROOT / "recipes" / "lstm.yaml"), "--set",
        f"model={{builder: {builder}}}",
                                       "--dry-run"])
    assert result.exit_code == 2 and f"'{builder}' does not train on labelled texts" in result.output
    assert result.output.rstrip().endswith(told), result.output
