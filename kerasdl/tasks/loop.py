"""The run loop: what ``kerasdl run`` does for any recipe, whatever its
model family. It places the run (strategy, precision), loads the data, lets
the catalogue pick the task, and drives it: prepare, train, evaluate, save,
export; then it writes ``metrics.json`` (``METRICS_KEYS`` plus the task's
own section).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Optional

from kerasdl.data import catalogue as data_catalogue
from kerasdl.data.kinds import Data
from kerasdl.errors import RecipeError
from kerasdl.recipe.resolve import Recipe
from kerasdl.runtime import atomic, devices, faults, preflight, provenance, runs, summaries
from kerasdl.runtime.progress import Progress
from kerasdl.tasks import catalogue
from kerasdl.tasks.task import Task

# Every run's metrics.json has these keys; the task adds one more, its
# name, holding its own section (docs/runs.md describes them all).
METRICS_KEYS = (
    "name", "task", "dataset", "role", "strategy", "replicas", "workers", "precision", "global_batch_size",
    "epochs", "best_epoch", "resumed_from_epoch", "train_seconds", "train_samples_per_second", "skipped_corrupt",
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
    recipe: Recipe, data: Optional[Data] = None, *, placement: Optional[devices.Placement] = None,
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


def prepared(recipe: Recipe, data: Optional[Data] = None, *, pretrain: bool = True,
             log: Callable[[str], None] = print) -> Task:
    """The recipe's task with its data split and its model built and compiled:
    what ``kerasdl tune`` trains and ``kerasdl run --dry-run`` shows."""
    preflight.check_outputs(recipe)
    task = create(recipe, data, log=log)
    task.prepare(pretrain=pretrain)
    check_space(recipe, task, log)
    return task


def check_space(recipe: Recipe, task: Task, log: Callable[[str], None]) -> None:
    """Warns when the disk has less room than the run writes (``preflight.check_space``)."""
    export = [recipe["export"]["directory"]] if recipe["export"]["enabled"] else []
    preflight.check_space([recipe["training"]["runs_dir"], *export], task.model.count_params(), log)


def run(
    recipe: Recipe, *, verbose: Any = "auto", log: Callable[[str], None] = print,
    before: Optional[Callable[[], None]] = None,
) -> dict:
    """Trains, evaluates and exports the model of a resolved recipe.

    An unfinished run of the same resolved recipe (killed part-way) is
    resumed when ``training.resume`` is on and the task can resume: at its
    last finished epoch, or, its training done, at the first stage not
    recorded (``runtime/progress.py``).

    Args:
        before: Called once the devices are placed, before the data is
            read: checks that may start TensorFlow (the CLI's of the
            ``tune`` section).

    Returns:
        The run's summary, as written to ``metrics.json``.
    """
    placement = place(recipe)  # First: a multi-worker strategy must start before TensorFlow does.
    log(placement.describe())
    if before is not None:
        before()
    preflight.check_outputs(recipe)  # Before the data is read: a bad folder costs nothing.
    task = create(recipe, placement=placement, log=log)
    task.prepare()
    chief = placement.is_chief
    if chief:
        check_space(recipe, task, log)
    with runs.workspace(recipe, chief, log, resume=task.resumable) as (folder, resumed_from), task.data.reading():
        # Stages are recorded by a run that resumes on one machine. Workers
        # of a multi-worker run must all train (collectively) or none, so
        # they resume by epoch alone: from a checkpoint of the last epoch,
        # their fit trains nothing.
        staged = chief and placement.workers == 1 and task.resumable and recipe["training"]["resume"]
        done = Progress(folder if staged else None)
        if chief:
            provenance.record(folder, provenance.environment(recipe, placement))
        trained = _train_or_restore(task, folder, done, verbose)
        evaluated = _evaluate(task, folder, done, chief)
        exported = _save_and_export(task, folder, done, chief)
        if task.data.skipped:
            log(f"Skipped {task.data.skipped} examples that cannot be decoded (data.skip_corrupt).")
        summary = _summary(task, placement, folder, resumed_from, trained, evaluated, exported)
        faults.point("report")
        atomic.write_json(folder / runs.METRICS, summary)
        runs.finish(folder)
        return summary


def _evaluate(task: Task, folder: Path, done: Progress, chief: bool) -> dict:
    """The test scores, baselines and the task's report (or an earlier
    process's record of them); the chief puts them in TensorBoard."""
    evaluated = done.result("evaluate")
    if evaluated is not None:
        return evaluated
    scores = task.evaluate(folder)  # The model's test is collective work.
    if chief:  # Beside the training curves in TensorBoard.
        summaries.test_and_baselines(folder / runs.LOGS, scores["test"], scores["baselines"],
                                     task.epochs_trained(folder))
    return done.record("evaluate", {**scores, "report": task.report(folder)})


def _save_and_export(task: Task, folder: Path, done: Progress, chief: bool) -> dict:
    """The chief saves the task's files and, if the recipe exports, the
    verified SavedModel; returns the export's ``path`` and ``difference``."""
    if chief and not done.done("save"):
        task.save(folder)
        done.record("save")
    exported = done.result("export") or {"path": None, "difference": None}
    if task.recipe["export"]["enabled"] and chief and not done.done("export"):
        path, difference = task.export(folder)
        faults.point("published")
        exported = done.record("export", {"path": str(path), "difference": difference})
    return exported


def _summary(
    task: Task, placement: devices.Placement, folder: Path, resumed_from: Optional[int], trained: dict,
    evaluated: dict, exported: dict,
) -> dict:
    """What ``metrics.json`` holds: ``METRICS_KEYS`` and the task's own section."""
    history = runs.read_history(folder)
    chief = placement.is_chief
    return {
        "name": task.recipe.name,
        "task": task.name,
        "dataset": task.data.source,
        "role": "chief" if chief else "worker",
        "strategy": placement.name,
        "replicas": placement.replicas,
        "workers": placement.workers,
        "precision": placement.precision,
        "global_batch_size": task.batch_size,
        "epochs": len(history.get("epoch", [])),
        "best_epoch": trained.get("best_epoch"),
        "resumed_from_epoch": resumed_from,
        "train_seconds": trained["seconds"],
        "train_samples_per_second": trained["samples_per_second"],
        "skipped_corrupt": task.data.skipped,
        "test": evaluated["test"],
        "baselines": evaluated["baselines"],
        "validation": {key: float(values[-1]) for key, values in history.items() if key.startswith("val_") and values},
        "run_dir": str(folder) if chief else None,
        "export_path": exported["path"],
        "export_max_difference": exported["difference"],
        task.name: {**evaluated.get("details", {}), **evaluated["report"]},
    }


def _train_or_restore(task: Task, folder: Path, done: Progress, verbose: Any) -> dict:
    """Trains (recording the stage and keeping the trained weights), or,
    when an earlier process finished training, loads its weights.

    Returns:
        The ``train`` stage's record: ``seconds`` and ``samples_per_second``.
    """
    trained = done.result("train")
    if trained is not None:
        runs.load_trained(folder, task.model)
        return trained
    start = time.perf_counter()
    task.train(folder, verbose)
    trained = {
        "seconds": round(time.perf_counter() - start, 2), "samples_per_second": task.samples_per_second(folder),
        "best_epoch": task.best_epoch(),
    }
    if done.kept:
        runs.keep_trained(folder, task.model)
    faults.point("trained")
    return done.record("train", trained)
