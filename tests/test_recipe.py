"""Recipes: every shipped recipe validates; every bad one names file and key."""

import pytest

from kerasdl.errors import RecipeError
from kerasdl.recipe.resolve import load_recipe, resolve
from kerasdl.recipe.yaml_text import parse_yaml
from tests.conftest import RECIPES, ROOT


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
                      "learning_rate": {"schedule": "piecewise", "boundaries": [100], "values": [0.1, 0.01],
                                        "warmup_steps": 10}},
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
    ({"model": {"builder": "cnn"}, "training": {"validation_split": 1.0}}, [], "training.validation_split",
     "out of range"),
    ({"model": {"builder": "cnn"}, "training": {"epochs": 2.5}}, [], "training.epochs", "must be an integer"),
    ({"model": {"builder": "cnn"}, "training": {"epoch": 2}}, [], "training.epoch", "did you mean 'epochs'"),
    ({"model": {"builder": "cnn"}, "trainig": {}}, [], "trainig", "did you mean 'training'"),
    ({"model": {"builder": "cnn"}, "optimizer": {"name": "adamm"}}, [], "optimizer.name", "must be one of"),
    ({"model": {"builder": "cnn"}, "optimizer": {"name": "adam", "momentum": 0.9}}, [], "optimizer.momentum",
     "keras.optimizers.Adam"),
    ({"model": {"builder": "cnn"}, "optimizer": {"learning_rate": -1.0}}, [], "optimizer.learning_rate", "> 0"),
    ({"model": {"builder": "cnn"}, "optimizer": {"learning_rate": {"schedule": "triangular"}}}, [],
     "optimizer.learning_rate.schedule", "cosine"),
    ({"model": {"builder": "cnn"},
      "optimizer": {"learning_rate": {"schedule": "cosine", "initial_learning_rate": 0.1, "alfa": 0}}}, [],
          "optimizer.learning_rate.alfa", "did you mean 'alpha'"),
    ({"model": {"builder": "cnn"}, "data": {"dataset": "imagenet"}}, [], "data.dataset", "fashion_mnist"),
    ({"model": {"builder": "cnn"}, "data": {"dataset": "csv"}}, [], "data.path", "is required"),
    ({"model": {"builder": "cnn"}, "data": {"dataset": "fashion_mnist", "path": "x"}}, [], "data.path",
     "dataset 'fashion_mnist'"),
    ({"model": {"builder": "cnn"}, "loss": "hinge_loss_typo"}, [], "loss", "Keras"),
    ({"model": {"builder": "cnn"}, "loss": {"name": "huber"}}, [], "loss", "must be a string"),
    ({"model": {"builder": "cnn", "input_shape": [4, 4, 1]}}, [], "model.input_shape", "is not an argument"),
    ({"model": {"builder": "cnn"}, "data": {"dataset": "csv", "path": "x.csv", "seed": 1}}, [], "data.seed",
     "is not an option"),
    ({"model": {"builder": "cnn"}, "metrics": ["acuracy_typo"]}, [], "metrics[0]", "Keras"),
    ({"model": {"builder": "cnn"}, "training": {"early_stopping": {"patince": 3}}}, [],
     "training.early_stopping.patince", "did you mean 'patience'"),
    ({"model": {"builder": "cnn"}, "name": "my run"}, [], "name", "letters"),
    ({"model": {"builder": "cnn"}}, ["model.filtrs=[8]"], "--set model.filtrs", "did you mean 'filters'"),
    ({"model": {"builder": "cnn"}}, ["training.epochs=-1"], "--set training.epochs", "out of range"),
    # Keys inside a section replaced with --set are named as set with --set.
    ({"model": {"builder": "cnn"}}, ["training={epochs: -1}"], "--set training.epochs", "out of range"),
    ({"model": {"builder": "cnn"}, "training": {"epochs": 3}}, ["training.epochs.x=1"], "training.epochs",
     "not a section"),
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


# -- Bases: `base:` (issue 21) -------------------------------------------------------


def _write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_base_merges_key_by_key_and_the_recipe_wins(tmp_path):
    _write(tmp_path, "bases/common.yaml", (
        "name: common\n"
        "data: {dataset: fashion_mnist, max_train_examples: 500}\n"
        "model: {builder: cnn, filters: [8, 16], dropout_rate: 0.2}\n"
        "optimizer: {learning_rate: {schedule: cosine, initial_learning_rate: 0.002, warmup_steps: 10}}\n"
        "training: {epochs: 7, seed: 3}\n"
    ))
    _write(tmp_path, "bases/short.yaml", "training: {epochs: 2}\n")
    child = _write(tmp_path, "child.yaml", (
        "base: [bases/common.yaml, bases/short.yaml]\n"
        "model: {filters: [4], batch_norm: true}\n"
        "optimizer: {learning_rate: {initial_learning_rate: 0.01}}\n"
        "training: {seed: 5}\n"
    ))
    recipe = load_recipe(child)
    assert recipe.name == "child"  # The base's name is not inherited.
    assert recipe["data"]["max_train_examples"] == 500
    assert recipe["model"]["filters"] == [4]  # A list replaces the base's whole.
    assert recipe["model"]["dropout_rate"] == 0.2 and recipe["model"]["batch_norm"] is True
    assert recipe["optimizer"]["learning_rate"] == {"schedule": "cosine", "initial_learning_rate": 0.01,
                                                    "warmup_steps": 10}
    assert recipe["training"]["epochs"] == 2  # The later base wins over the earlier.
    assert recipe["training"]["seed"] == 5  # The recipe wins over its bases.
    # What a run stores is flat: it loads without the bases, and a flat
    # recipe is never followed to a base (bases=False, as for a model's recipe).
    flat = _write(tmp_path / "elsewhere", "child.yaml", recipe.to_yaml())
    assert not [line for line in flat.read_text().splitlines() if line.startswith("base:")]
    assert load_recipe(flat, bases=False).values == recipe.values


def test_bases_chain_and_a_base_path_is_relative_to_its_recipe(tmp_path):
    _write(tmp_path, "a/root.yaml", "model: {builder: dense}\ntraining: {epochs: 4}\n")
    _write(tmp_path, "a/b/middle.yaml", "base: ../root.yaml\ntraining: {batch_size: 16}\n")
    child = _write(tmp_path, "c/child.yaml", "base: ../a/b/middle.yaml\n")
    recipe = load_recipe(child)
    assert (recipe["model"]["builder"], recipe["training"]["epochs"], recipe["training"]["batch_size"]) == ("dense",
        4, 16)


@pytest.mark.parametrize("files, message", [
    ({"r.yaml": "base: missing.yaml\n"}, r"r.yaml: base: missing.yaml: no such recipe file \(looked for "
                                         r".*missing.yaml\)"),
    ({"r.yaml": "base: 3\n"}, r"r.yaml: base must be a recipe file, or a list of them.*Received: base=3"),
    ({"r.yaml": "base: []\n"}, r"r.yaml: base must be a recipe file"),
    ({"r.yaml": "base: r.yaml\n"}, r"r.yaml: base: r.yaml: recipes extend each other in a cycle \(.*r.yaml -> "
                                   r".*r.yaml\)"),
    ({"r.yaml": "base: a.yaml\n", "a.yaml": "base: b.yaml\n", "b.yaml": "base: a.yaml\n"},
     r"b.yaml: base: a.yaml: recipes extend each other in a cycle \(.*r.yaml -> .*a.yaml -> .*b.yaml -> .*a.yaml\)"),
    ({"r.yaml": "base: a.yaml\n", "a.yaml": "- just\n- a list\n"},
        r"a.yaml: a recipe is a mapping of sections.*r.yaml names it"),
    ({"r.yaml": "base: a.yaml\n", "a.yaml": "model: {builder: dense\n"}, r"a.yaml"),
])
def test_bad_bases_are_refused_naming_the_files(tmp_path, files, message):
    for name, text in files.items():
        _write(tmp_path, name, text)
    with pytest.raises(RecipeError, match=message):
        load_recipe(tmp_path / "r.yaml")


def test_a_flat_recipe_never_follows_a_base(tmp_path):
    """A recipe that comes with a model is read with bases=False: a `base`
    in it is refused, not read."""
    _write(tmp_path, "secret.yaml", "model: {builder: dense}\n")
    model_recipe = _write(tmp_path, "model/recipe.yaml", "base: ../secret.yaml\n")
    with pytest.raises(RecipeError, match=r"recipe.yaml: base extends a recipe file you wrote: .* not in a recipe "
                                          r"that came with a model or run folder"):
        load_recipe(model_recipe, bases=False)
    with pytest.raises(RecipeError, match=r"--set base extends a recipe file"):
        load_recipe(_write(tmp_path, "plain.yaml", "model: {builder: dense}\n"), ["base=secret.yaml"])


def test_the_shipped_recipes_extend_their_bases():
    recipes = ROOT / "recipes"
    cnn_bn, cnn_0to4 = load_recipe(recipes / "cnn_bn.yaml"), load_recipe(recipes / "cnn_0to4.yaml")
    assert cnn_0to4["model"] == cnn_bn["model"] and cnn_0to4["optimizer"] == cnn_bn["optimizer"]
    assert cnn_0to4["data"]["classes"] == [0, 1, 2, 3, 4] and cnn_bn["data"]["classes"] is None
    scratch, transfer = load_recipe(recipes / "scratch_5to9.yaml"), load_recipe(recipes / "transfer_5to9.yaml")
    assert scratch["data"] == transfer["data"] and scratch["optimizer"] == transfer["optimizer"]
    assert scratch["training"]["epochs"] == transfer["training"]["epochs"] + transfer["fine_tune"]["epochs"] == 30
    assert load_recipe(recipes / "cgan.yaml")["model"]["conditional"] is True
