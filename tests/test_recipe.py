"""Recipes: every shipped recipe validates; every bad one names file and key."""

import pytest

from kerasdl.errors import RecipeError
from kerasdl.recipe.resolve import load_recipe, parse_yaml, resolve
from tests.conftest import RECIPES


@pytest.mark.parametrize("path", RECIPES, ids=lambda path: path.name)
def test_every_shipped_recipe_validates_and_round_trips(path, tmp_path):
    recipe = load_recipe(path)
    assert recipe.name == path.stem
    # The resolved recipe, saved in every run folder, loads back unchanged.
    saved = tmp_path / "resolved.yaml"
    saved.write_text(recipe.to_yaml())
    assert load_recipe(saved).values == dict(recipe.values, name=path.stem)


def test_exponent_floats_read_as_floats():
    assert parse_yaml("a: 1e-3\nb: 3E+2\nc: 1.5e-4\nd: 12", "x") == {"a": 0.001, "b": 300.0, "c": 0.00015, "d": 12}


def test_defaults_fill_every_section():
    recipe = resolve({"model": {"builder": "dense"}}, "r.yaml")
    assert recipe["training"]["epochs"] == 10
    assert recipe["model"]["units"] == [256, 128]  # The builder's own default.
    assert recipe["data"]["dataset"] == "fashion_mnist"
    assert recipe.name == "r"


def test_overrides_are_typed_like_the_file():
    recipe = resolve(
        {"model": {"builder": "cnn"}}, "r.yaml",
        ["training.epochs=3", "model.dropout_rate=0.25", "model.filters=[8, 16]",
         "optimizer.learning_rate=1e-4", "model.random_flip=horizontal", "training.early_stopping=true"],
    )
    assert recipe["training"]["epochs"] == 3
    assert recipe["model"]["dropout_rate"] == 0.25
    assert recipe["model"]["filters"] == [8, 16]
    assert recipe["optimizer"]["learning_rate"] == 1e-4
    assert recipe["model"]["random_flip"] == "horizontal"
    assert recipe["training"]["early_stopping"] is True


def test_schedules_and_optimizer_arguments_validate():
    recipe = resolve({
        "model": {"builder": "dense"},
        "optimizer": {"name": "sgd", "momentum": 0.9, "nesterov": True,
                      "learning_rate": {"schedule": "piecewise", "boundaries": [100], "values": [0.1, 0.01], "warmup_steps": 10}},
    }, "r.yaml")
    assert recipe["optimizer"]["momentum"] == 0.9


BAD = [
    # (recipe, overrides, dotted key in the message, other text it must hold)
    ({"model": {"builder": "cnn", "filtrs": [32]}}, [], "model.filtrs", "did you mean 'filters'"),
    ({"model": {"builder": "cnnn"}}, [], "model.builder", "did you mean 'cnn'"),
    ({"model": {}}, [], "model.builder", "is required"),
    ({"model": {"builder": "cnn", "filters": "many"}}, [], "model.filters", "must be a list of integers"),
    ({"model": {"builder": "cnn", "dropout_rate": "high"}}, [], "model.dropout_rate", "must be a number"),
    ({"model": {"builder": "cnn", "batch_norm": "yes"}}, [], "model.batch_norm", "true or false"),
    ({"model": {"builder": "cnn"}, "training": {"epochs": 0}}, [], "training.epochs", "out of range"),
    ({"model": {"builder": "cnn"}, "training": {"validation_split": 1.0}}, [], "training.validation_split", "out of range"),
    ({"model": {"builder": "cnn"}, "training": {"epochs": 2.5}}, [], "training.epochs", "must be an integer"),
    ({"model": {"builder": "cnn"}, "training": {"epoch": 2}}, [], "training.epoch", "did you mean 'epochs'"),
    ({"model": {"builder": "cnn"}, "trainig": {}}, [], "trainig", "did you mean 'training'"),
    ({"model": {"builder": "cnn"}, "optimizer": {"name": "adamm"}}, [], "optimizer.name", "must be one of"),
    ({"model": {"builder": "cnn"}, "optimizer": {"name": "adam", "momentum": 0.9}}, [], "optimizer.momentum", "keras.optimizers.Adam"),
    ({"model": {"builder": "cnn"}, "optimizer": {"learning_rate": -1.0}}, [], "optimizer.learning_rate", "> 0"),
    ({"model": {"builder": "cnn"}, "optimizer": {"learning_rate": {"schedule": "triangular"}}}, [], "optimizer.learning_rate.schedule", "cosine"),
    ({"model": {"builder": "cnn"}, "optimizer": {"learning_rate": {"schedule": "cosine", "initial_learning_rate": 0.1, "alfa": 0}}}, [], "optimizer.learning_rate.alfa", "did you mean 'alpha'"),
    ({"model": {"builder": "cnn"}, "data": {"dataset": "imagenet"}}, [], "data.dataset", "fashion_mnist"),
    ({"model": {"builder": "cnn"}, "data": {"dataset": "csv"}}, [], "data.path", "is required"),
    ({"model": {"builder": "cnn"}, "data": {"dataset": "fashion_mnist", "path": "x"}}, [], "data.path", "dataset 'fashion_mnist'"),
    ({"model": {"builder": "cnn"}, "loss": "hinge_loss_typo"}, [], "loss", "Keras"),
    ({"model": {"builder": "cnn"}, "loss": {"name": "huber"}}, [], "loss", "must be a string"),
    ({"model": {"builder": "cnn", "input_shape": [4, 4, 1]}}, [], "model.input_shape", "is not an argument"),
    ({"model": {"builder": "cnn"}, "data": {"dataset": "csv", "path": "x.csv", "seed": 1}}, [], "data.seed", "is not an option"),
    ({"model": {"builder": "cnn"}, "metrics": ["acuracy_typo"]}, [], "metrics[0]", "Keras"),
    ({"model": {"builder": "cnn"}, "training": {"early_stopping": {"patince": 3}}}, [], "training.early_stopping.patince", "did you mean 'patience'"),
    ({"model": {"builder": "cnn"}, "name": "my run"}, [], "name", "letters"),
    ({"model": {"builder": "cnn"}}, ["model.filtrs=[8]"], "--set model.filtrs", "did you mean 'filters'"),
    ({"model": {"builder": "cnn"}}, ["training.epochs=-1"], "--set training.epochs", "out of range"),
    # Keys inside a section replaced with --set are named as set with --set.
    ({"model": {"builder": "cnn"}}, ["training={epochs: -1}"], "--set training.epochs", "out of range"),
    ({"model": {"builder": "cnn"}, "training": {"epochs": 3}}, ["training.epochs.x=1"], "training.epochs", "not a section"),
    ([1, 2], [], "", "mapping of sections"),
]


@pytest.mark.parametrize("raw, overrides, key, text", BAD, ids=[case[2] or "not-a-mapping" for case in BAD])
def test_bad_recipes_name_the_file_and_key(raw, overrides, key, text):
    with pytest.raises(RecipeError) as error:
        resolve(raw, "recipes/bad.yaml", overrides)
    message = str(error.value)
    assert message.startswith("recipes/bad.yaml:")
    assert key in message
    assert text in message


@pytest.mark.parametrize("assignment", ["epochs", "=3", "training..epochs=3"])
def test_malformed_set_is_refused(assignment):
    with pytest.raises(RecipeError, match="KEY=VALUE"):
        resolve({"model": {"builder": "cnn"}}, "r.yaml", [assignment])


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(RecipeError, match="no such recipe file"):
        load_recipe(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(RecipeError, match="bad.yaml: not valid YAML"):
        load_recipe(bad)
