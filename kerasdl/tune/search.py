"""Hyperparameter search: what ``kerasdl tune`` does.

A recipe's ``tune`` section says what to search (``space.py``), for which
objective and with which Keras Tuner algorithm (``settings.py``). Every
trial resolves the recipe with the trial's values and trains it through
its task (``hypermodel.py``): the same data, builder, compile and ``fit``
as ``kerasdl run``.

The search lives in ``<tune.directory>/<name>/``: Keras Tuner's project
(``oracle.json``, ``trial_*/``), ``kerasdl.json`` (what is searched, so that
a changed search is refused rather than mixed with the old one),
``trials.csv`` and ``best_recipe.yaml``.

Several processes share one search through Keras Tuner's chief/worker
protocol: the environment variables ``KERASTUNER_TUNER_ID`` (``chief`` for
the process that serves the search, any other name for a worker),
``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT``.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import shutil
from typing import Callable, Optional

import keras
import keras_tuner as kt

from kerasdl.errors import RecipeError, TuningError
from kerasdl.recipe.keys import flatten
from kerasdl.recipe.resolve import load_recipe
from kerasdl.runtime import atomic
from kerasdl.tasks import loop
from kerasdl.tasks.building import build_model
from kerasdl.tune.hypermodel import RecipeHyperModel
from kerasdl.tune.results import TRIALS, record, recorded_trials, results
from kerasdl.tune.settings import Settings
from kerasdl.tune.space import label
from kerasdl.tune.tuners import TUNERS, BudgetSpent, role, trial_error

FINGERPRINT = "kerasdl.json"


def _differences(saved: dict, current: dict) -> list[str]:
    """What differs between two fingerprints, for the refusal message."""
    names = {"space": "search space", "algorithm": "algorithm", "options": "algorithm options",
             "objective": "objective", "direction": "direction",
             "executions_per_trial": "executions per trial", "recipe": "recipe"}
    found = []
    for part, name in names.items():
        old, new = flatten(saved.get(part)), flatten(current.get(part))
        changed = [
            (f"{key}: " if key else "") + f"{old.get(key, '(absent)')!r} -> {new.get(key, '(absent)')!r}"
            for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)
        ]
        if changed:
            more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
            found.append(f"the {name} ({'; '.join(changed[:3])}{more})")
    return found


def _check_project(settings: Settings, overwrite: bool, current_role: Optional[str]) -> None:
    """Refuses to resume a project that holds a different search."""
    project = settings.project
    advice = (f"Pass --overwrite to delete {project} and start a new search, or set "
              "tune.directory (or the recipe's name) to keep both.")
    if overwrite:
        if current_role == "worker":
            raise RecipeError("--overwrite is for the chief: a worker joins the chief's search as it is.")
        return
    saved_file = project / FINGERPRINT
    if saved_file.is_file():
        # JSON turns tuples into lists: compare like with like.
        current = json.loads(json.dumps(settings.fingerprint()))
        differences = _differences(json.loads(saved_file.read_text()), current)
        if differences:
            raise RecipeError(
                f"{settings.recipe.path}: tune: {project} holds a search that differs in "
                f"{', '.join(differences)}. Resuming it would mix the trials of two searches. {advice}"
            )
    elif (project / "oracle.json").exists() and current_role != "worker":
        raise RecipeError(f"{project} holds a Keras Tuner project that kerasdl tune did not start. {advice}")


def _create_tuner(settings: Settings, hypermodel: RecipeHyperModel, overwrite: bool) -> kt.Tuner:
    arguments = dict(
        hypermodel=hypermodel,
        objective=kt.Objective(settings.objective, settings.direction),
        seed=settings.recipe["training"]["seed"],
        executions_per_trial=settings.executions_per_trial,
        directory=settings.directory,
        project_name=settings.recipe.name,
        overwrite=overwrite,
        **settings.options,
    )
    if settings.algorithm != "hyperband":
        arguments["max_trials"] = settings.max_trials
    tuner = TUNERS[settings.algorithm](**arguments)
    # Not part of the saved state: a resumed search may be given more trials.
    tuner.oracle.max_trials = settings.max_trials
    return tuner


def _spare_the_collector() -> None:
    """Keras Tuner clears Keras's session around every trial (as does
    ``_check_builds`` around every candidate), and each clear runs a full
    garbage collection: 0.2 s on 2 cores over the ~380,000 objects that
    importing TensorFlow and Keras made, about 1 s a trial. Frozen once
    here (``gc.freeze``), those long-lived objects are skipped and a
    collection takes microseconds; the trials' own garbage is collected
    as before."""
    gc.collect()
    gc.freeze()


def search(
    settings: Settings,
    *,
    overwrite: bool = False,
    export_best: bool = False,
    trials_per_process: Optional[int] = None,
    deadline: Optional[float] = None,
    verbose: int = 1,
    log: Callable[[str], None] = print,
) -> dict:
    """Runs (or resumes, or joins) the search a ``tune`` section describes.

    Args:
        settings: From ``load_settings``.
        overwrite: Delete an existing project of this name first.
        export_best: Retrain the best recipe with ``tasks.loop.run`` (run folder
            and SavedModel) once the search is over.
        trials_per_process: Stop with ``Recycle`` after this many trials, so
            that the caller continues the search in a fresh process; None
            runs every trial here.
        deadline: A ``time.time()`` after which no trial starts (the one
            running finishes); the search ends with the trials run.
        verbose: 0 silent; 1 (progress bars) or 2 (a line per epoch) with
            Keras Tuner's trial reports.

    Returns:
        A summary: the trials, the best one, the files written.

    Raises:
        RecipeError: the project holds a different search (and no overwrite).
        TuningError: ``max_consecutive_failed_trials`` trials failed in a
            row, or none completed.
        Recycle: after ``trials_per_process`` trials, the search saved.
    """
    _spare_the_collector()
    current_role = role()
    project = settings.project
    _check_project(settings, overwrite, current_role)
    hypermodel = RecipeHyperModel(settings)
    if current_role != "worker":
        _check_builds(settings, hypermodel)
        if overwrite and project.exists():
            shutil.rmtree(project)
        project.mkdir(parents=True, exist_ok=True)
        atomic.write_json(project / FINGERPRINT, settings.fingerprint())
    tuner = _create_tuner(settings, hypermodel, overwrite=False)
    tuner.trials_per_process, tuner.deadline, tuner.log = trials_per_process, deadline, log
    if current_role is None:
        finished = _finished(tuner.oracle.trials)
        if finished:
            log(f"Resuming the search in {project}: {finished} trials finished.")
    elif current_role == "chief":
        log(f"Chief: serving the search on {os.environ['KERASTUNER_ORACLE_IP']}:"
            f"{os.environ['KERASTUNER_ORACLE_PORT']}; the workers run the trials.")
    try:
        tuner.search(verbose=verbose)
    except BudgetSpent:
        log(f"The time budget is spent: no new trial started ({_finished(tuner.oracle.trials)} finished).")
    except RuntimeError as error:
        if "consecutive failures" not in str(error):
            raise
        with contextlib.suppress(TuningError):  # trials.csv, with each failed trial's error.
            results(settings, tuner.oracle.trials, tuner.oracle.get_best_trials(1))
        last = (trial_error(tuner.oracle.trials[tuner.oracle.end_order[-1]]) or "").rstrip(".")
        raise TuningError(
            f"{settings.recipe.path}: {tuner.oracle.max_consecutive_failed_trials} trials in a row failed, so the "
            f"search stopped (tune.options.max_consecutive_failed_trials). The last error: {last}. Each trial's "
            f"error is in {project / TRIALS}; fix the space or the recipe, then rerun with --overwrite."
        ) from None
    if current_role == "worker":
        mine = [trial_id for trial_id in recorded_trials(project) if record(project,
                                                                            trial_id)["worker"] == tuner.tuner_id]
        return {"name": settings.recipe.name, "role": "worker", "tuner_id": tuner.tuner_id,
                "project_dir": str(project), "trials_run": mine}
    summary = results(settings, tuner.oracle.trials, tuner.oracle.get_best_trials(1))
    if export_best:
        best = load_recipe(summary["best_recipe"])
        log(f"Retraining the best recipe {summary['best_recipe']} and exporting it.")
        summary["export"] = loop.run(best, verbose=verbose, log=log)
    return summary


def _check_builds(settings: Settings, hypermodel: RecipeHyperModel) -> None:
    """Builds the model with each searched builder value, before any trial:
    the builder's own checks (ranges, combinations) fail here, not in trial 7."""
    for parameter in settings.space:
        if not parameter.key.startswith("model."):
            continue
        for value in parameter.candidates():
            recipe = settings.recipe.with_values({parameter.key: value})
            try:
                build_model(recipe, hypermodel.dataset(recipe))
            except RecipeError as error:
                raise RecipeError(
                    f"{error} (the builder rejects {label(value)}, a value of tune.space.{parameter.key})"
                ) from None
            finally:
                keras.backend.clear_session()


def _finished(trials: dict) -> int:
    done = (kt.engine.trial.TrialStatus.COMPLETED, kt.engine.trial.TrialStatus.INVALID,
            kt.engine.trial.TrialStatus.FAILED)
    return sum(trial.status in done for trial in trials.values())


