"""The dataset catalogue: every loader, registered under the name a recipe's
``data.dataset`` uses, and loading a recipe's data.

A loader's keyword arguments are the other keys of the recipe's ``data``
section. It returns one of these kinds of data, each implementing the
interface of ``kinds.py`` (``Data``; all but the corpus ``Examples``):

- ``dataset.Dataset``: labelled examples in memory (shipped images,
  texts, NPZ arrays);
- ``streaming.Streamed``: labelled examples streamed from files (an image
  folder, TFRecord files, a CSV table, a TFDS dataset);
- ``series.Series``: a time series cut into forecasting windows;
- ``corpus.Corpus``: a tokenised text corpus for Word2Vec (trained by its
  own task, without ``pipelines``).
"""

from __future__ import annotations

import inspect
from typing import Any

# Importing a loader module registers its loaders.
from kerasdl.data import corpus, images, records, series, tables, texts, tfds_datasets  # noqa: F401
from kerasdl.data.kinds import Data
from kerasdl.errors import DataError, RecipeError
from kerasdl.registry import DATASETS


def load(name: str, options: dict, seed: int) -> Data:
    """Loads dataset ``name`` with the recipe's loader options and the run's seed."""
    loader = DATASETS.get(name)
    if "seed" in inspect.signature(loader).parameters:
        options = dict(options, seed=seed)
    return loader(**options)


def from_recipe(recipe: Any) -> Data:
    """The recipe's data, cut to ``data.classes``, ``max_train_examples`` and
    ``max_test_examples`` (for a text corpus, ``max_train_examples`` counts
    documents).

    Raises:
        RecipeError: naming ``data.classes`` when the data has no such
            classes.
        DataError: naming the recipe, when the data cannot be read.
    """
    section = recipe["data"]
    try:
        data = load(section["dataset"], recipe.dataset_arguments(), recipe["training"]["seed"])
    except DataError as error:
        raise DataError(f"{recipe.path}: data.dataset {section['dataset']}: {error}") from None
    if section["classes"] is not None:
        try:
            data = data.only(list(section["classes"]))
        except ValueError as error:
            raise RecipeError(f"{recipe.path}: data.classes: {error}") from None
    return data.limited(section["max_train_examples"], section["max_test_examples"])
