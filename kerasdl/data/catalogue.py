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
from kerasdl.data import anomalies, corpus, images, records, series, tables, texts, tfds_datasets  # noqa: F401
from kerasdl.data.kinds import Data
from kerasdl.errors import DataError, RecipeError, RegistryError
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
    documents), then recast as normal and abnormal examples when the
    ``anomaly`` section says what is abnormal (``as_anomalies``).

    Raises:
        RecipeError: naming ``data.classes`` when the data has no such
            classes; naming the ``anomaly`` key that does not fit the data.
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
    data = data.limited(section["max_train_examples"], section["max_test_examples"])
    return as_anomalies(recipe, data)


def as_anomalies(recipe: Any, data: Data) -> Data:
    """``data`` as normal and abnormal examples (``anomalies``) when the
    recipe's ``anomaly`` section names the abnormal ones; else unchanged.

    Raises:
        RecipeError: naming the key: both settings, a dataset that does
            not ship or whose examples differ in shape, a class the data
            does not have, or data that is not examples with labels.
    """
    section, where = recipe["anomaly"], f"{recipe.path}: anomaly"
    abnormal, held_out = section["abnormal_dataset"], section["held_out_class"]
    if abnormal is None and held_out is None:
        return data
    if abnormal is not None and held_out is not None:
        raise RecipeError(f"{where}: abnormal_dataset and held_out_class each say what is abnormal; set one. "
                          f"Received: abnormal_dataset={abnormal!r}, held_out_class={held_out!r}")
    if data.kind != "examples":
        raise RecipeError(f"{where}: detects abnormal examples with labels, and {data.source} holds "
                          f"{data.description}. Remove the anomaly section.")
    data = data.in_memory()
    if held_out is not None:
        try:
            return anomalies.one_class_out(data, held_out)
        except ValueError as error:
            raise RecipeError(f"{where}.held_out_class: {error}.") from None
    shipped = [name for name in DATASETS.names() if DATASETS.traits(name).get("shipped")]
    try:
        found = DATASETS.traits(abnormal).get("shipped")
    except RegistryError as error:
        raise RecipeError(f"{where}.abnormal_dataset: {error}") from None
    if not found:
        raise RecipeError(f"{where}.abnormal_dataset: '{abnormal}' reads files or downloads, and the abnormal inputs "
                          f"come from a dataset a package ships: one of {', '.join(shipped)}.")
    outsiders = load(abnormal, {}, recipe["training"]["seed"]).in_memory()
    try:
        return anomalies.against(data, outsiders, recipe["data"]["max_test_examples"])
    except ValueError as error:
        raise RecipeError(f"{where}.abnormal_dataset: {abnormal}: {error}.") from None
