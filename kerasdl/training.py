"""Training: data, model, compile, fit, evaluate and export for one recipe.

This is what ``kerasdl run`` does; the CLI only parses and prints.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Optional

import keras
import numpy as np

from kerasdl import datasets, devices, export, pipeline, runs
from kerasdl.errors import BuilderArgumentError, RecipeError
from kerasdl.optimizers import build_optimizer
from kerasdl.recipe import Recipe
from kerasdl.registry import create_model


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


class Prepared:
    """Everything a run needs before ``fit``: data, pipelines and compiled model."""

    def __init__(self, recipe: Recipe):
        data_section, training = recipe["data"], recipe["training"]
        keras.utils.set_random_seed(training["seed"])
        self.recipe = recipe
        self.data = datasets.load(data_section["dataset"], recipe.dataset_arguments(), training["seed"])
        data = self.data
        if data_section["max_train_examples"]:
            data.x_train = data.x_train[: data_section["max_train_examples"]]
            data.y_train = data.y_train[: data_section["max_train_examples"]]
        if data_section["max_test_examples"]:
            data.x_test = data.x_test[: data_section["max_test_examples"]]
            data.y_test = data.y_test[: data_section["max_test_examples"]]
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
            self.model = self._build()
            self.model.compile(
                optimizer=build_optimizer(recipe["optimizer"], self.steps_per_epoch, training["epochs"]),
                loss=recipe["loss"],
                metrics=list(recipe["metrics"]),
            )

    def _build(self) -> keras.Model:
        arguments = self.recipe.builder_arguments()
        try:
            return create_model(
                self.recipe["model"]["builder"],
                input_shape=self.data.input_shape,
                num_classes=self.data.num_classes,
                **arguments,
            )
        except BuilderArgumentError as error:
            raise RecipeError(f"{self.recipe.path}: model.{error.argument}: {error}") from None


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
    stopping = training["early_stopping"]
    if stopping:
        options = {"patience": 3, "restore_best_weights": True}
        if isinstance(stopping, dict):
            options.update(stopping)
        callbacks.append(keras.callbacks.EarlyStopping(**options))
    return callbacks


def run(
    recipe: Recipe,
    *,
    verbose: Any = "auto",
    log: Callable[[str], None] = print,
) -> dict:
    """Trains, evaluates and exports the model of a resolved recipe.

    An unfinished run of the same resolved recipe (killed part-way) is
    resumed from its last finished epoch when ``training.resume`` is on.

    Returns:
        A summary: test metrics, run folder, export path, throughput.
    """
    prepared = Prepared(recipe)
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
    prepared.model.fit(
        prepared.train,
        validation_data=prepared.validation,
        epochs=training["epochs"],
        shuffle=False,  # The pipeline reshuffles every epoch itself.
        callbacks=_callbacks(recipe, folder, throughput),
        verbose=verbose,
    )
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


def dry_run(recipe: Recipe) -> Prepared:
    """Loads the data and builds the compiled model without training."""
    return Prepared(recipe)
