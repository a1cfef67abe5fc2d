"""The trust boundary of a recipe that came with a model.

A model folder (a run folder, an export's ``assets.extra/``, a ``.keras``
file's folder) may come from anyone, and so may the ``recipe.yaml`` in it.
``kerasdl evaluate`` and ``kerasdl export`` read that recipe for one thing:
the data that scores (or calibrates) the model, and the preprocessing the
model needs. This module is the one rule every command applies to it:

- ``data.dataset`` is a dataset a package ships (a loader registered with
  ``shipped=True``: it reads nothing the recipe names);
- that loader's ``locations`` (arguments naming a place to read from, e.g.
  ``fashion_mnist``'s ``directory``) keep their defaults;
- ``data.service`` (a tf.data service to connect to) is null.

Any other data (an image folder, CSV, TFRecord files, a TFDS dataset, which
reads, writes and may download into a folder of its choosing) is refused,
with a message that says to name the data yourself. Keys set by the user
(``--set``, or a dataset named on the command line) are the user's and are
not checked. The rest of the model's recipe names where ``kerasdl run``
writes (``training.runs_dir``, ``export.directory``, ``tune.directory``);
``evaluate`` and ``export`` never act on those keys (they write to
``--output`` and ``--directory``).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Sequence

from kerasdl.errors import InputError
from kerasdl.recipe.checker import set_by
from kerasdl.recipe.resolve import Recipe, load_recipe
from kerasdl.registry import DATASETS

# The data keys of a model's recipe that connect somewhere: null only.
CONNECTIONS = ("service",)


def model_recipe(recipe_file: Path, overrides: Sequence[str] = (), fix: str = "") -> Recipe:
    """The recipe that came with a model, resolved (flat: no ``base``) and
    checked against the rule of this module.

    Args:
        overrides: The user's ``--set`` values (their keys are not checked).
        fix: How the user names the data instead, for the message
            (e.g. ``kerasdl evaluate MODEL RECIPE.yaml``).

    Raises:
        RecipeError: for a recipe that is not valid.
        InputError: naming the file and the key, for data the rule refuses.
    """
    recipe = load_recipe(recipe_file, overrides, bases=False)
    check(recipe, fix)
    return recipe


def check(recipe: Recipe, fix: str = "") -> None:
    """Refuses a model's recipe whose data reads a path of its own choosing,
    downloads or connects anywhere (see the module).

    Raises:
        InputError: naming the recipe file and the first refused key.
    """
    data = recipe["data"]
    name = data["dataset"]
    how = fix or "give a recipe file you wrote as the second argument (kerasdl evaluate MODEL recipe.yaml)"

    def refuse(key: str, why: str) -> None:
        if set_by(f"data.{key}", recipe.overridden):
            return
        raise InputError(
            f"{recipe.path}: data.{key}: {why}. A recipe that came with a model may come from anyone, so kerasdl "
            f"follows it only to data a package ships ({', '.join(shipped())}). Name the data yourself: {how}. "
            f"Received: {key}={data.get(key, name)!r}"
        )

    traits = DATASETS.traits(name)
    if not traits.get("shipped"):
        refuse("dataset", f"'{name}' reads files from a place the recipe names (or downloads them)")
    defaults = inspect.signature(DATASETS.get(name)).parameters
    for key in traits.get("locations", ()):
        if key in data and data[key] != defaults[key].default:
            refuse(key, f"chooses the folder that '{name}' reads")
    for key in CONNECTIONS:
        if data.get(key) is not None:
            refuse(key, "connects to a server")


def shipped() -> list[str]:
    """The datasets a model's recipe may name: those a package ships."""
    return [name for name in DATASETS.names() if DATASETS.traits(name).get("shipped")]


