"""The run loop: what ``kerasdl run`` does for any recipe, whatever its
model family. It places the run (strategy, precision), loads the data, lets
the catalogue pick the task, and drives it: prepare, train, evaluate, save,
export; then it writes ``metrics.json`` (``METRICS_KEYS`` plus the task's
own section).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

from kerasdl.data import catalogue as data_catalogue
from kerasdl.errors import RecipeError
from kerasdl.recipe.resolve import Recipe
from kerasdl.runtime import devices, runs
from kerasdl.tasks import catalogue
from kerasdl.tasks.task import Task

# Every run's metrics.json has these keys; the task adds one more, its
# name, holding its own section (docs/runs.md describes them all).
METRICS_KEYS = (
    "name", "task", "dataset", "role", "strategy", "replicas", "workers", "precision", "global_batch_size",
    "epochs", "resumed_from_epoch", "train_seconds", "train_samples_per_second", "skipped_corrupt",
    "test", "baselines", "validation", "run_dir", "export_path", "export_max_difference",
)


def place(recipe: Recipe) -> devices.Placement:
    """The recipe's strategy and precision (``devices.place``), its errors
    naming the recipe."""
    try:
        return devices.place(recipe["training"])
    except RecipeError as error:
        raise RecipeError(f"{recipe.path}: {error}") from None


def create(
    recipe: Recipe, data: Any = None, *, placement: Optional[devices.Placement] = None,
    log: Callable[[str], None] = print,
) -> Task:
    """The recipe's task, checked against the recipe, not yet prepared.

    Args:
        data: The recipe's data when the caller has it already (tuning
            trials share one copy); loaded here otherwise.
        placement: Where it trains; from the recipe by default.
    """
    placement = placement or place(recipe)
    data = data if data is not None else data_catalogue.from_recipe(recipe)
    task_class = catalogue.select(recipe, data)
    data = data.without_corrupt()  # With data.skip_corrupt: one pass finds them.
    if not task_class.streams:
        data = data.in_memory()  # The task trains on arrays: streamed files are decoded first.
    for note in data.notes:
        log(note)
    return task_class(recipe, data, placement, log)


def prepared(recipe: Recipe, data: Any = None, *, pretrain: bool = True, log: Callable[[str], None] = print) -> Task:
    """The recipe's task with its data split and its model built and compiled:
    what ``kerasdl tune`` trains and ``kerasdl run --dry-run`` shows."""
    task = create(recipe, data, log=log)
    task.prepare(pretrain=pretrain)
    return task


def run(recipe: Recipe, *, verbose: Any = "auto", log: Callable[[str], None] = print) -> dict:
    """Trains, evaluates and exports the model of a resolved recipe.

    An unfinished run of the same resolved recipe (killed part-way) is
    resumed from its last finished epoch when ``training.resume`` is on
    and the task can resume.

    Returns:
        The run's summary, as written to ``metrics.json``.
    """
    placement = place(recipe)  # First: a multi-worker strategy must start before TensorFlow does.
    log(placement.describe())
    task = create(recipe, placement=placement, log=log)
    task.prepare()
    chief = placement.is_chief
    with runs.workspace(recipe, chief, log, resume=task.resumable) as (folder, resumed_from), task.data.reading():
        start = time.perf_counter()
        task.train(folder, verbose)
        train_seconds = time.perf_counter() - start
        scores = task.evaluate(folder)  # The model's test is collective work.
        if chief:
            task.save(folder)
        export_path, difference = None, None
        if recipe["export"]["enabled"] and chief:
            export_path, difference = task.export(folder)
        if task.data.skipped:
            log(f"Skipped {task.data.skipped} examples that cannot be decoded (data.skip_corrupt).")
        history = runs.read_history(folder)
        summary = {
            "name": recipe.name,
            "task": task.name,
            "dataset": task.data.source,
            "role": "chief" if chief else "worker",
            "strategy": placement.name,
            "replicas": placement.replicas,
            "workers": placement.workers,
            "precision": placement.precision,
            "global_batch_size": task.batch_size,
            "epochs": len(history.get("epoch", [])),
            "resumed_from_epoch": resumed_from,
            "train_seconds": round(train_seconds, 2),
            "train_samples_per_second": task.samples_per_second(),
            "skipped_corrupt": task.data.skipped,
            "test": scores["test"],
            "baselines": scores["baselines"],
            "validation": {
                key: float(values[-1]) for key, values in history.items() if key.startswith("val_") and values
            },
            "run_dir": str(folder) if chief else None,
            "export_path": str(export_path) if export_path else None,
            "export_max_difference": difference,
            task.name: task.report(folder),
        }
        runs.write_json_atomically(folder / runs.METRICS, summary)
        return summary
