"""Training: data, model, compile, fit, evaluate and export for one recipe.

This is what ``kerasdl run`` does; the CLI only parses and prints.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, Optional, Union

import keras
import numpy as np

from kerasdl import datasets, devices, export, pipeline, runs, word2vec
from kerasdl.corpus import Corpus
from kerasdl.errors import BuilderArgumentError, RecipeError
from kerasdl.optimizers import build_optimizer
from kerasdl.recipe import Recipe
from kerasdl.registry import BUILDERS, create_model


class _Throughput(keras.callbacks.Callback):
    """Times each epoch's training part (validation excluded) for samples/s."""

    def __init__(self, samples_per_epoch: int):
        super().__init__()
        self.samples_per_epoch = samples_per_epoch
        self.epoch_seconds: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        self._start = time.perf_counter()

    def on_test_begin(self, logs: Optional[dict] = None) -> None:
        if self._start:
            self.epoch_seconds.append(time.perf_counter() - self._start)
            self._start = 0.0

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        self.on_test_begin()

    def samples_per_second(self) -> Optional[float]:
        # The first epoch includes tracing and cache filling: leave it out
        # when there are others.
        timed = self.epoch_seconds[1:] or self.epoch_seconds
        return self.samples_per_epoch * len(timed) / sum(timed) if timed else None


def load_data(recipe: Recipe) -> Union[datasets.Dataset, Corpus]:
    """The recipe's dataset, cut to ``max_train_examples``/``max_test_examples``
    (for a text corpus, ``max_train_examples`` counts documents)."""
    section = recipe["data"]
    data = datasets.load(section["dataset"], recipe.dataset_arguments(), recipe["training"]["seed"])
    if isinstance(data, Corpus):
        return data.limited(section["max_train_examples"])
    train, test = section["max_train_examples"], section["max_test_examples"]
    return dataclasses.replace(
        data,
        x_train=data.x_train[:train] if train else data.x_train,
        y_train=data.y_train[:train] if train else data.y_train,
        x_test=data.x_test[:test] if test else data.x_test,
        y_test=data.y_test[:test] if test else data.y_test,
    )


def build_model(recipe: Recipe, data: Union[datasets.Dataset, Corpus]) -> keras.Model:
    """The recipe's uncompiled model for the data: input shape and classes
    for examples, vocabulary size for a text corpus.

    Raises:
        RecipeError: naming ``model.<argument>`` when the builder rejects a
            value, or ``model.builder`` when it does not fit the data.
    """
    builder = recipe["model"]["builder"]
    if isinstance(data, Corpus):
        provided = {"vocabulary_size": len(data.vocabulary)}
    else:
        provided = {"input_shape": data.input_shape, "num_classes": data.num_classes}
    if BUILDERS.data_arguments_of(builder) != set(provided):
        kind = "a text corpus" if isinstance(data, Corpus) else "examples with labels"
        raise RecipeError(
            f"{recipe.path}: model.builder: '{builder}' does not train on {kind} "
            f"(data.dataset: {recipe['data']['dataset']}). Pick a builder and dataset that fit: "
            "word2vec with news_articles or text; the others with image or table datasets."
        )
    try:
        return create_model(builder, **provided, **recipe.builder_arguments())
    except BuilderArgumentError as error:
        raise RecipeError(f"{recipe.path}: model.{error.argument}: {error}") from None


class Prepared:
    """Everything a run needs before ``fit``: data, pipelines and compiled model.

    Args:
        recipe: The resolved recipe.
        data: Its dataset from ``load_data``, when the caller already has it
            (tuning trials share one copy); loaded here otherwise.
    """

    def __init__(self, recipe: Recipe, data: Optional[datasets.Dataset] = None):
        data_section, training = recipe["data"], recipe["training"]
        self.recipe = recipe
        self.data = data = data if data is not None else load_data(recipe)
        keras.utils.set_random_seed(training["seed"])
        x, y, x_val, y_val = data.x_train, data.y_train, None, None
        if training["validation_split"]:
            x, y, x_val, y_val = datasets.hold_out(
                x, y, training["validation_split"], training["seed"], "training.validation_split"
            )
        batch_size = training["batch_size"]
        self.train_examples = len(x)
        self.steps_per_epoch = math.ceil(len(x) / batch_size)
        options = dict(cache=data_section["cache"])
        self.train = pipeline.make_dataset(
            x, y, batch_size, shuffle=True, seed=training["seed"],
            shuffle_buffer=data_section["shuffle_buffer"], **options,
        )
        self.validation = (
            pipeline.make_dataset(x_val, y_val, batch_size, **options) if x_val is not None else None
        )
        self.test = pipeline.make_dataset(data.x_test, data.y_test, batch_size, **options)

        self.strategy = devices.create_strategy(training["strategy"])
        with self.strategy.scope():
            self.model = build_model(recipe, data)
            self.model.compile(
                optimizer=build_optimizer(recipe["optimizer"], self.steps_per_epoch, training["epochs"]),
                loss=recipe["loss"],
                metrics=list(recipe["metrics"]),
            )

    def fit(
        self, callbacks: list, *, verbose: Any = "auto", epochs: Optional[int] = None, initial_epoch: int = 0
    ) -> keras.callbacks.History:
        """Trains on the recipe's pipelines: the one ``fit`` of ``run`` and ``tune``.

        Args:
            callbacks: Added to the recipe's own (early stopping).
            epochs: The epoch to stop after; the recipe's by default.
            initial_epoch: The epoch to start from (Hyperband continues trials).
        """
        return self.model.fit(
            self.train,
            validation_data=self.validation,
            epochs=epochs or self.recipe["training"]["epochs"],
            initial_epoch=initial_epoch,
            shuffle=False,  # The pipeline reshuffles every epoch itself.
            callbacks=[*callbacks, *_early_stopping(self.recipe)],
            verbose=verbose,
        )



def _callbacks(recipe: Recipe, folder: Any, throughput: _Throughput) -> list:
    training = recipe["training"]
    callbacks: list = [throughput]
    if training["resume"]:
        # Two checkpoints, so a kill during a write still leaves a good one.
        callbacks.append(keras.callbacks.BackupAndRestore(
            str(folder / runs.BACKUP), double_checkpoint=True
        ))
    callbacks.append(keras.callbacks.CSVLogger(str(folder / runs.HISTORY), append=True))
    callbacks.append(keras.callbacks.TensorBoard(str(folder / runs.LOGS)))
    return callbacks


def _early_stopping(recipe: Recipe) -> list:
    stopping = recipe["training"]["early_stopping"]
    if not stopping:
        return []
    options = {"patience": 3, "restore_best_weights": True}
    if isinstance(stopping, dict):
        options.update(stopping)
    return [keras.callbacks.EarlyStopping(**options)]


def run(
    recipe: Recipe,
    *,
    verbose: Any = "auto",
    log: Callable[[str], None] = print,
) -> dict:
    """Trains, evaluates and exports the model of a resolved recipe.

    An unfinished run of the same resolved recipe (killed part-way) is
    resumed from its last finished epoch when ``training.resume`` is on.

    A text corpus trains word vectors instead (``word2vec.run``).

    Returns:
        A summary: test metrics, run folder, export path, throughput.
    """
    data = load_data(recipe)
    if isinstance(data, Corpus):
        keras.utils.set_random_seed(recipe["training"]["seed"])
        return word2vec.run(recipe, data, build_model(recipe, data), verbose=verbose, log=log)
    prepared = Prepared(recipe, data)
    training = recipe["training"]
    recipe_yaml = recipe.to_yaml()
    folder = runs.find_unfinished(training["runs_dir"], recipe.name, recipe_yaml) if training["resume"] else None
    resumed_from = None
    if folder is not None:
        resumed_from = len(runs.read_history(folder).get("epoch", []))
        log(f"Resuming unfinished run {folder} after epoch {resumed_from}.")
    else:
        folder = runs.create(training["runs_dir"], recipe.name, recipe_yaml)
        log(f"Run folder: {folder}")

    throughput = _Throughput(prepared.train_examples)
    start = time.perf_counter()
    prepared.fit(_callbacks(recipe, folder, throughput), verbose=verbose)
    train_seconds = time.perf_counter() - start
    test = prepared.model.evaluate(prepared.test, verbose=0, return_dict=True)
    runs.plot_learning_curves(folder)

    export_path, difference = None, None
    if recipe["export"]["enabled"]:
        sample = prepared.data.x_test[:64].astype(np.float32)
        export_path, difference = export.export_savedmodel(
            prepared.model,
            recipe["export"]["directory"],
            recipe.name,
            sample,
            prepared.data.class_names,
            check=recipe["export"]["verify"],
        )
    history = runs.read_history(folder)
    summary = {
        "name": recipe.name,
        "dataset": prepared.data.source,
        "test": {key: float(value) for key, value in test.items()},
        "validation": {
            key: float(values[-1]) for key, values in history.items() if key.startswith("val_") and values
        },
        "epochs": len(history.get("epoch", [])),
        "resumed_from_epoch": resumed_from,
        "train_seconds": round(train_seconds, 2),
        "train_samples_per_second": throughput.samples_per_second(),
        "run_dir": str(folder),
        "export_path": str(export_path) if export_path else None,
        "export_max_difference": difference,
    }
    runs.write_json_atomically(folder / runs.METRICS, summary)
    return summary


def dry_run(recipe: Recipe) -> Any:
    """Loads the data and builds the model without training: a ``Prepared``,
    or for a text corpus a ``word2vec.Plan`` (same attributes)."""
    data = load_data(recipe)
    if isinstance(data, Corpus):
        return word2vec.plan(recipe, data, build_model(recipe, data))
    return Prepared(recipe, data)
