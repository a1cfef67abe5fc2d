"""The trust boundary of a model's recipe (kerasdl/artifacts/trust.py): what
comes with a model may name data a package ships, and nothing that reads a
path of its choosing, downloads or connects; evaluate and export refuse the
rest before anything is read or written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, run_cli_here

from kerasdl.artifacts import trust
from kerasdl.recipe.resolve import load_recipe

FIXTURE = ROOT / "tests" / "fixtures" / "main-31405d4" / "cnn_export" / "1"

# One refused recipe per key of the rule: the data section a model's
# author might write, and the key the message must name.
REFUSED = {
    "tfds download": ({"dataset": "tfds", "name": "imagenet2012", "download": True, "data_dir": "{here}/tfds"},
                      "data.dataset"),
    "image folder path": ({"dataset": "image_folder", "path": "{here}/photos"}, "data.dataset"),
    "csv path": ({"dataset": "csv", "path": "{here}/table.csv", "label_column": "y"}, "data.dataset"),
    "npz path": ({"dataset": "npz", "path": "{here}/arrays.npz"}, "data.dataset"),
    "tfrecord files": ({"dataset": "tfrecord", "files": "{here}/*.tfrecord"}, "data.dataset"),
    "text file": ({"dataset": "text", "path": "{here}/corpus.txt"}, "data.dataset"),
    "text csv": ({"dataset": "text_csv", "path": "{here}/texts.csv", "text_column": "t", "label_column": "y"},
                 "data.dataset"),
    "text folder": ({"dataset": "text_folder", "path": "{here}/texts"}, "data.dataset"),
    "series csv": ({"dataset": "series_csv", "path": "{here}/s.csv", "value_column": "v"}, "data.dataset"),
    "shipped data from another folder": ({"dataset": "fashion_mnist", "directory": "{here}/elsewhere"},
                                         "data.directory"),
    "tf.data service": ({"dataset": "fashion_mnist", "service": "grpc://127.0.0.1:5050"}, "data.service"),
}


def model_folder(tmp_path: Path, data: dict) -> Path:
    """A copy of the fixture export whose recipe.yaml names ``data``."""
    folder = tmp_path / "model"
    shutil.copytree(FIXTURE, folder)
    recipe_file = folder / "assets.extra" / "recipe.yaml"
    recipe = yaml.safe_load(recipe_file.read_text())
    recipe["data"] = {key: value.format(here=tmp_path) if isinstance(value, str) else value
                      for key, value in data.items()}
    recipe_file.write_text(yaml.safe_dump(recipe))
    return folder


def tree(folder: Path) -> set:
    return {path.relative_to(folder) for path in folder.rglob("*")}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_evaluate_and_export_refuse_a_model_recipe_that_reads_or_connects(tmp_path, case):
    data, key = REFUSED[case]
    folder = model_folder(tmp_path, data)
    before = tree(tmp_path)
    for command in (["evaluate", str(folder)], ["export", str(folder), "--format", "keras"]):
        result = run_cli_here(*command, cwd=tmp_path)
        output = result.stdout + result.stderr
        assert result.returncode == 2, (command, output)
        assert f"{folder}/assets.extra/recipe.yaml: {key}:" in output, output
        assert "Name the data yourself" in output
        assert "Traceback" not in output
        assert tree(tmp_path) == before, f"{command} wrote {tree(tmp_path) - before}"


def test_a_model_recipe_of_shipped_data_is_followed(tmp_path):
    """The fixture's own recipe (Fashion-MNIST at its default folder) passes,
    and so does a resolved recipe that spells the default folder out."""
    recipe = trust.model_recipe(FIXTURE / "assets.extra" / "recipe.yaml")
    assert recipe["data"]["dataset"] == "fashion_mnist"
    folder = model_folder(tmp_path, {"dataset": "fashion_mnist", "directory": "/usr/share/datasets/fashion-mnist",
                                     "max_test_examples": 20})
    assert trust.model_recipe(folder / "assets.extra" / "recipe.yaml")["data"]["max_test_examples"] == 20


def test_data_the_user_names_is_the_users(tmp_path):
    """A --set or a dataset named on the command line is not checked: the
    user chose it."""
    folder = model_folder(tmp_path, REFUSED["tf.data service"][0])
    recipe_file = folder / "assets.extra" / "recipe.yaml"
    with pytest.raises(Exception, match="data.service"):
        trust.model_recipe(recipe_file)
    assert trust.model_recipe(recipe_file, ["data.service=null"])["data"]["service"] is None
    assert trust.model_recipe(recipe_file, ["data={dataset: mnist}"])["data"]["dataset"] == "mnist"


def test_every_shipped_loader_reads_only_what_a_package_ships():
    """A loader that says it is shipped has no argument naming a path
    beyond the locations it declares (the rule's other half)."""
    from kerasdl.registry import DATASETS

    assert set(trust.shipped()) == {"co2", "fashion_mnist", "mnist", "news_articles", "tweet_sentiment"}
    for name in trust.shipped():
        arguments = set(DATASETS.parameters(name)) - set(DATASETS.traits(name).get("locations", ()))
        assert not arguments & {"path", "directory", "data_dir", "files", "test_path", "test_files", "download"}, name


def test_a_recipe_the_user_wrote_is_not_under_the_rule(tmp_path):
    """kerasdl run and evaluate MODEL RECIPE read the user's own recipe as it is."""
    recipe_file = tmp_path / "photos.yaml"
    recipe_file.write_text("data: {dataset: image_folder, path: photos}\nmodel: {builder: cnn}\n")
    assert load_recipe(recipe_file)["data"]["path"] == "photos"
