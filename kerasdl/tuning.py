"""Hyperparameter search: what ``kerasdl tune`` does.

A recipe's ``tune`` section says what to search (see ``kerasdl.space``), for
which objective and with which Keras Tuner algorithm. Every trial resolves
the recipe with the trial's values and trains it through
``training.Prepared``: the same data, builder, compile and ``fit`` as
``kerasdl run``.

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

import csv
import dataclasses
import difflib
import gc
import io
import json
import os
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Optional

import keras
import keras_tuner as kt
from keras_tuner.engine import metrics_tracking

from kerasdl import datasets, runs, schema, space, training
from kerasdl.errors import RecipeError, TuningError
from kerasdl.recipe import Checker, Recipe, dump_yaml, load_recipe, resolve_arguments, resolve_fields
from kerasdl.registry import BUILDERS
from kerasdl.space import label

FINGERPRINT = "kerasdl.json"
TRIALS = "trials.csv"
BEST = "best_recipe.yaml"
TRIAL_RECORD = "kerasdl-trial.json"
TRIAL_HISTORY = "history.csv"

# Tells apart the processes that ran a search's trials (re-executing keeps the pid).
_PROCESS = uuid.uuid4().hex[:8]

# Arguments of the Keras Tuner tuners that kerasdl sets itself.
_SUPPLIED = ("hypermodel", "objective", "max_trials", "seed", "hyperparameters",
             "tune_new_entries", "allow_new_entries")


@dataclasses.dataclass(frozen=True)
class Settings:
    """A checked ``tune`` section and the recipe it searches.

    Attributes:
        recipe: The resolved recipe, ``--set`` overrides applied.
        space: What to search.
        objective: The logged value to optimize, e.g. ``val_accuracy``.
        direction: ``min`` or ``max``.
        algorithm: ``random``, ``bayesian``, ``hyperband`` or ``grid``.
        options: The algorithm's own arguments.
        max_trials: Trials in all, those of a resumed search included; for
            hyperband None (its own budget) unless the recipe sets a cap.
        executions_per_trial: Trainings per trial (seeds seed, seed+1, ...).
        directory: Parent of the project folder.
    """

    recipe: Recipe
    space: space.Space
    objective: str
    direction: str
    algorithm: str
    options: dict
    max_trials: Optional[int]
    executions_per_trial: int
    directory: str

    @property
    def project(self) -> Path:
        return Path(self.directory) / self.recipe.name

    def fingerprint(self) -> dict:
        """What makes two searches the same search (``max_trials`` may grow)."""
        return {
            "space": self.space.spec,
            "algorithm": self.algorithm,
            "options": self.options,
            "objective": self.objective,
            "direction": self.direction,
            "executions_per_trial": self.executions_per_trial,
            "recipe": {key: value for key, value in self.recipe.values.items() if key != "tune"},
        }


def logged_names(recipe: Recipe) -> list[str]:
    """The values ``fit`` logs for a recipe: loss, metrics, and val_ of each."""
    names = ["loss"]
    for metric in recipe["metrics"]:
        found = keras.metrics.get(metric) if metric not in ("accuracy", "acc") else None
        # A class name (AUC) gives an instance logged under its own name
        # (auc), which Keras numbers (auc_1) within one session only.
        names.append(re.sub(r"_\d+$", "", found.name) if isinstance(found, keras.metrics.Metric) else metric)
    if recipe["training"]["validation_split"]:
        names += [f"val_{name}" for name in names]
    return names


def load_settings(recipe: Recipe) -> Settings:
    """Checks the recipe's ``tune`` section, all of it, before anything runs.

    Raises:
        RecipeError: naming the file and the ``tune.*`` key of the first
            problem: unknown keys and paths, empty choices, min > max, log
            ranges reaching 0, an objective the recipe never logs, ...
    """
    check = Checker(recipe.path, recipe.overridden)
    builder = recipe["model"]["builder"]
    if "vocabulary_size" in BUILDERS.data_arguments_of(builder):
        check.fail(
            "model.builder", f"'{builder}' trains with its own sparse loop, which `kerasdl tune` does not drive "
            "yet: it searches the classifiers (dense, cnn). Compare word2vec settings with `kerasdl run --set ...`.",
        )
    if builder == "gan":
        check.fail(
            "model.builder", "a GAN's losses do not measure its samples, so `kerasdl tune` has no objective to "
            "search it by. Compare GAN settings with `kerasdl run --set ...` and the FID each run prints.",
        )
    given = recipe.values.get("tune")
    if given is None:
        check.fail(
            "tune", "is missing: `kerasdl tune` searches what a recipe's tune section lists. Add one, e.g.\n"
            "tune:\n  objective: val_accuracy\n  max_trials: 6\n  space:\n"
            "    model.dropout_rate: {type: float, min: 0.1, max: 0.5, step: 0.1}",
        )
    check.unknown_keys("tune", given, schema.TUNE, "a key of section 'tune'")
    values = resolve_fields(check, "tune", given, schema.TUNE)

    objective = values["objective"]
    logged = logged_names(recipe)
    if objective not in logged:
        if objective.startswith("val_") and objective[4:] in logged:
            reason = "needs validation data: set training.validation_split > 0, or use " + repr(objective[4:])
        else:
            close = difflib.get_close_matches(objective, logged, n=1)
            reason = (f"is never logged by this recipe's training (did you mean '{close[0]}'?)" if close
                      else "is never logged by this recipe's training; add its metric to `metrics`")
        check.fail("tune.objective", f"{reason}. Logged: {', '.join(logged)}. Received: objective={objective!r}")
    direction = values["direction"] or metrics_tracking.infer_metric_direction(objective)
    if direction is None:
        check.fail("tune.direction", f"is required for objective '{objective}': min or max (it cannot be inferred).")

    algorithm = values["algorithm"]
    searched = space.parse(values["space"], recipe, algorithm)
    tuner_class = TUNERS[algorithm]
    options = resolve_arguments(
        check, "tune.options", values["options"] or {}, tuner_class.__init__, {},
        f"an option of the '{algorithm}' algorithm", supplied=_SUPPLIED,
    )
    options = {key: value for key, value in options.items() if key in (values["options"] or {})}
    if algorithm == "hyperband":
        if "training.epochs" in searched.keys:
            check.fail("tune.space.training.epochs", "cannot be searched with hyperband: it gives each "
                       "trial its epochs itself, up to tune.options.max_epochs.")
        options.setdefault("max_epochs", recipe["training"]["epochs"])
        if options["max_epochs"] < 1:
            check.fail("tune.options.max_epochs", f"must be >= 1. Received: max_epochs={options['max_epochs']}")
        if options.get("factor", 3) < 2:
            check.fail("tune.options.factor", f"must be >= 2 (each round keeps 1/factor of the trials). Received: factor={options['factor']}")
    return Settings(
        recipe=recipe, space=searched, objective=objective, direction=direction,
        algorithm=algorithm, options=options,
        max_trials=None if algorithm == "hyperband" and "max_trials" not in given else values["max_trials"],
        executions_per_trial=values["executions_per_trial"], directory=values["directory"],
    )


class _TrialRecipeError(RecipeError, kt.errors.FatalError):
    """A trial's values are rejected by the builder: stop the search, not just the trial."""


class RecipeHyperModel(kt.HyperModel):
    """Builds and trains a trial's recipe through the same path as ``kerasdl run``.

    ``build(hp)`` resolves the recipe with the trial's values and returns the
    compiled model of ``training.Prepared``; ``fit`` trains it on the
    pipelines made for the trial's batch size and epochs.
    """

    def __init__(self, settings: Settings):
        super().__init__(name=settings.recipe.name)
        self.settings = settings
        self.declaring = False  # Declare the space only: no data, no model.
        self.execution = 0
        self._data_key: Optional[str] = None
        self._data: Optional[datasets.Dataset] = None
        self._prepared: Optional[training.Prepared] = None

    def build(self, hp: Any) -> Optional[keras.Model]:
        assignments = self.settings.space.declare(hp)
        if self.declaring:
            return None
        if "tuner/epochs" in hp.values:  # Hyperband gives each trial its epochs.
            assignments["training.epochs"] = hp.values["tuner/epochs"]
        if self.execution:
            assignments["training.seed"] = self.settings.recipe["training"]["seed"] + self.execution
        self.execution += 1
        self._prepared = None  # Let the previous model go before building one.
        try:
            recipe = self.settings.recipe.with_values(assignments, prefix="tune.space.")
            self._prepared = training.Prepared(recipe, data=self.dataset(recipe))
        except RecipeError as error:
            values = ", ".join(f"{key}={value!r}" for key, value in assignments.items())
            raise _TrialRecipeError(f"{error} (trial values: {values})") from None
        return self._prepared.model

    def dataset(self, recipe: Recipe) -> datasets.Dataset:
        """The recipe's data; trials share one loaded copy unless they search data options."""
        key = dump_yaml({"data": recipe["data"], "seed": recipe["training"]["seed"]})
        if key != self._data_key:
            self._data, self._data_key = None, None
            self._data, self._data_key = training.load_data(recipe), key
        return self._data

    def fit(self, hp: Any, model: keras.Model, *args: Any, callbacks: Any = (), epochs: Optional[int] = None,
            initial_epoch: int = 0, verbose: Any = 1, **kwargs: Any) -> keras.callbacks.History:
        prepared, self._prepared = self._prepared, None
        if prepared is None or prepared.model is not model:
            raise kt.errors.FatalError("RecipeHyperModel.fit needs the model its build() returned last.")
        return prepared.fit(list(callbacks), verbose=verbose, epochs=epochs, initial_epoch=initial_epoch)

    def release(self) -> None:
        self._prepared = None


def _memory_mib() -> dict[str, Optional[float]]:
    """This process's resident memory now and at its peak so far (Linux), in MiB."""
    found: dict[str, Optional[float]] = {"rss_mib": None, "peak_rss_mib": None}
    names = {"VmRSS:": "rss_mib", "VmHWM:": "peak_rss_mib"}
    try:
        with open("/proc/self/status") as status:
            for line in status:
                field = line.split()[0] if line.strip() else ""
                if field in names:
                    found[names[field]] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return found


class Recycle(Exception):
    """Raised by ``search`` after ``trials_per_process`` trials: the search is
    saved; run it again (the CLI re-executes itself) to go on in a fresh process.

    TensorFlow keeps some memory of every model trained in a process, even
    after ``keras.backend.clear_session()`` (keras-tuner #873; measured here:
    about 17 MiB per CNN in a plain build-fit-delete loop, about 50 MiB per
    trial of the CNN recipe's space), so only a new process keeps memory flat
    over a long search.
    """


class _KerasdlTuner:
    """What kerasdl adds to each Keras Tuner tuner: a fresh Keras session per
    trial, a per-trial history.csv, a trial record (worker, seconds, memory
    after the trial), and a stop after ``trials_per_process`` trials."""

    trials_per_process: Optional[int] = None
    _trials_here = 0

    def on_trial_end(self, trial: Any) -> None:
        super().on_trial_end(trial)  # Records the result and saves the search.
        self._trials_here += 1
        oracle = self.oracle
        last = isinstance(oracle, kt.Oracle) and oracle.max_trials and len(oracle.trials) >= oracle.max_trials
        if self.trials_per_process and self._trials_here >= self.trials_per_process and not last:
            raise Recycle(f"{self._trials_here} trials run in this process")

    def _populate_initial_space(self) -> None:
        # Keras Tuner builds the model to discover the space; declaring is enough.
        self.hypermodel.declaring = True
        try:
            super()._populate_initial_space()
        finally:
            self.hypermodel.declaring = False

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        folder = Path(self.get_trial_dir(trial.trial_id))
        history = folder / TRIAL_HISTORY
        history.unlink(missing_ok=True)  # A trial retried after a kill starts over.
        self.hypermodel.execution = 0
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), keras.callbacks.CSVLogger(str(history), append=True)]
        try:
            return super().run_trial(trial, *args, **kwargs)
        finally:
            # Keras Tuner clears the session before the next build; clearing
            # now too makes the memory recorded below that of the search alone.
            self.hypermodel.release()
            keras.backend.clear_session(free_memory=True)
            gc.collect()
            runs.write_json_atomically(folder / TRIAL_RECORD, {
                "worker": self.tuner_id,
                "process": _PROCESS,
                "seconds": round(time.perf_counter() - start, 2),
                **_memory_mib(),
            })


class RandomSearch(_KerasdlTuner, kt.RandomSearch):
    """Random search over a recipe's space."""


class BayesianOptimization(_KerasdlTuner, kt.BayesianOptimization):
    """Gaussian-process Bayesian optimization over a recipe's space."""


class Hyperband(_KerasdlTuner, kt.Hyperband):
    """Hyperband: many short trials, the best continued for longer."""


class GridSearch(_KerasdlTuner, kt.GridSearch):
    """Every combination of a discrete space, in order."""


TUNERS = {"random": RandomSearch, "bayesian": BayesianOptimization, "hyperband": Hyperband, "grid": GridSearch}


def role() -> Optional[str]:
    """``chief`` or ``worker`` in a distributed search, None otherwise."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return None
    return "chief" if "chief" in os.environ.get("KERASTUNER_TUNER_ID", "") else "worker"


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flat(item, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): value}


def _differences(saved: dict, current: dict) -> list[str]:
    """What differs between two fingerprints, for the refusal message."""
    names = {"space": "search space", "algorithm": "algorithm", "options": "algorithm options",
             "objective": "objective", "direction": "direction",
             "executions_per_trial": "executions per trial", "recipe": "recipe"}
    found = []
    for part, name in names.items():
        old, new = _flat(saved.get(part)), _flat(current.get(part))
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


def search(
    settings: Settings,
    *,
    overwrite: bool = False,
    export_best: bool = False,
    trials_per_process: Optional[int] = None,
    verbose: int = 1,
    log: Callable[[str], None] = print,
) -> dict:
    """Runs (or resumes, or joins) the search a ``tune`` section describes.

    Args:
        settings: From ``load_settings``.
        overwrite: Delete an existing project of this name first.
        export_best: Retrain the best recipe with ``training.run`` (run folder
            and SavedModel) once the search is over.
        trials_per_process: Stop with ``Recycle`` after this many trials, so
            that the caller continues the search in a fresh process; None
            runs every trial here.
        verbose: 0 silent; 1 (progress bars) or 2 (a line per epoch) with
            Keras Tuner's trial reports.

    Returns:
        A summary: the trials, the best one, the files written.

    Raises:
        RecipeError: the project holds a different search (and no overwrite).
        Recycle: after ``trials_per_process`` trials, the search saved.
    """
    current_role = role()
    project = settings.project
    _check_project(settings, overwrite, current_role)
    hypermodel = RecipeHyperModel(settings)
    if current_role != "worker":
        _check_builds(settings, hypermodel)
        if overwrite and project.exists():
            shutil.rmtree(project)
        project.mkdir(parents=True, exist_ok=True)
        runs.write_json_atomically(project / FINGERPRINT, settings.fingerprint())
    tuner = _create_tuner(settings, hypermodel, overwrite=False)
    tuner.trials_per_process = trials_per_process
    if current_role is None:
        finished = _finished(tuner.oracle.trials)
        if finished:
            log(f"Resuming the search in {project}: {finished} trials finished.")
    elif current_role == "chief":
        log(f"Chief: serving the search on {os.environ['KERASTUNER_ORACLE_IP']}:"
            f"{os.environ['KERASTUNER_ORACLE_PORT']}; the workers run the trials.")
    tuner.search(verbose=verbose)
    if current_role == "worker":
        mine = [trial_id for trial_id in _recorded_trials(project) if _record(project, trial_id)["worker"] == tuner.tuner_id]
        return {"name": settings.recipe.name, "role": "worker", "tuner_id": tuner.tuner_id,
                "project_dir": str(project), "trials_run": mine}
    summary = _results(settings, tuner.oracle.trials, tuner.oracle.get_best_trials(1))
    if export_best:
        best = load_recipe(summary["best_recipe"])
        log(f"Retraining the best recipe {summary['best_recipe']} and exporting it.")
        summary["export"] = training.run(best, verbose=verbose, log=log)
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
                training.build_model(recipe, hypermodel.dataset(recipe))
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


def _recorded_trials(project: Path) -> list[str]:
    """Ids of the trials that wrote a record here, in order (what a worker sees)."""
    ids = (path.parent.name.removeprefix("trial_") for path in project.glob(f"trial_*/{TRIAL_RECORD}"))
    return sorted(ids, key=int)


def _rows(settings: Settings, project: Path, tuner_trials: dict) -> list[dict]:
    """One row per trial: id, status, objective, values, worker, time, memory."""
    rows = []
    for trial_id in sorted(tuner_trials, key=int):
        trial = tuner_trials[trial_id]
        values = settings.space.assignments(trial.hyperparameters)
        row = {"trial": trial_id, "status": trial.status, settings.objective: trial.score}
        row.update({key: values.get(key) for key in settings.space.keys})
        if settings.algorithm == "hyperband":
            row["epochs"] = trial.hyperparameters.values.get("tuner/epochs")
        row.update(_record(project, trial_id))
        rows.append(row)
    return rows


def _record(project: Path, trial_id: str) -> dict:
    path = project / f"trial_{trial_id}" / TRIAL_RECORD
    record = json.loads(path.read_text()) if path.is_file() else {}
    return {key: record.get(key) for key in ("worker", "process", "seconds", "rss_mib", "peak_rss_mib")}


def _results(settings: Settings, trials: dict, best: list) -> dict:
    """Writes trials.csv and best_recipe.yaml; returns the summary."""
    project = settings.project
    rows = _rows(settings, project, trials)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["trial"])
    writer.writeheader()
    writer.writerows({key: dump_cell(value) for key, value in row.items()} for row in rows)
    runs.write_text_atomically(project / TRIALS, buffer.getvalue())
    if not best:
        raise TuningError(
            f"No trial of {project} completed, so there is no best recipe. Each failed trial's "
            f"traceback is in {project}/trial_*/trial.json under 'message'."
        )
    trial = best[0]
    assignments = settings.space.assignments(trial.hyperparameters)
    if "tuner/epochs" in trial.hyperparameters.values:
        assignments["training.epochs"] = trial.hyperparameters.values["tuner/epochs"]
    recipe = settings.recipe.with_values(assignments)
    values = {key: value for key, value in recipe.values.items() if key != "tune"}
    searched = ", ".join(f"{key}={label(value)}" for key, value in assignments.items())
    header = (
        f"# Best trial of `kerasdl tune {settings.recipe.path}`: trial {trial.trial_id}, "
        f"{settings.objective} {trial.score:.4f} ({settings.direction} over {len(rows)} trials).\n"
        f"# Its values: {searched}\n"
        f"# Train and export it: kerasdl run {project / BEST}\n"
    )
    runs.write_text_atomically(project / BEST, header + dump_yaml(values))
    return {
        "name": settings.recipe.name,
        "role": role() or "single",
        "project_dir": str(project),
        "algorithm": settings.algorithm,
        "objective": {"name": settings.objective, "direction": settings.direction},
        "trials": rows,
        "best": {"trial": trial.trial_id, "score": trial.score, "values": assignments},
        "best_recipe": str(project / BEST),
        "trials_csv": str(project / TRIALS),
        "export": None,
    }


def dump_cell(value: Any) -> Any:
    """A trial value as one CSV/table cell: lists and nulls spelled in YAML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict)) or value is None:
        return label(value) if value is not None else ""
    return value


def table(summary: dict) -> str:
    """The trials as an aligned text table, short column names."""
    rows = summary["trials"]
    if not rows:
        return "(no trials)"
    columns = [key for key in rows[0] if key not in ("process", "rss_mib", "peak_rss_mib")]
    headers = _short_names(columns)
    cells = [[str(dump_cell(row.get(key))) for key in columns] for row in rows]
    widths = [max(len(header), *(len(line[i]) for line in cells)) for i, header in enumerate(headers)]
    lines = ["  ".join(header.ljust(width) for header, width in zip(headers, widths))]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)) for line in cells]
    return "\n".join(line.rstrip() for line in lines)


def _short_names(keys: list[str]) -> list[str]:
    """The shortest dotted suffix of each key that no other key shares."""
    names = []
    for key in keys:
        parts = key.split(".")
        for size in range(1, len(parts) + 1):
            suffix = ".".join(parts[-size:])
            if sum(other == suffix or other.endswith("." + suffix) for other in keys) == 1:
                break
        names.append(suffix)
    return names
