"""A recipe's ``tune`` section, checked whole before anything runs: what to
search (``space.py``), for which objective, with which algorithm."""

from __future__ import annotations

import dataclasses
import difflib
import re
from pathlib import Path
from typing import Optional

import keras
from keras_tuner.engine import metrics_tracking

from kerasdl import schema
from kerasdl.errors import RecipeError
from kerasdl.recipe.checker import Checker
from kerasdl.recipe.resolve import Recipe
from kerasdl.recipe.sections import resolve_arguments, resolve_fields
from kerasdl.tasks.catalogue import claiming
from kerasdl.tune import space
from kerasdl.tune.tuners import TUNERS

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
    task = claiming(recipe["model"]["builder"])
    names += list(task.logs) if task is not None else []
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
    task = claiming(builder)
    if task is not None and task.not_tunable:
        check.fail("model.builder", f"'{builder}' cannot be searched: {task.not_tunable}")
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
            check.fail("tune.options.factor", "must be >= 2 (each round keeps 1/factor of the trials). Received: "
                                              f"factor={options['factor']}")
    return Settings(
        recipe=recipe, space=searched, objective=objective, direction=direction,
        algorithm=algorithm, options=options,
        max_trials=None if algorithm == "hyperband" and "max_trials" not in given else values["max_trials"],
        executions_per_trial=values["executions_per_trial"], directory=values["directory"],
    )




def ignored_section_warning(recipe: Recipe) -> Optional[str]:
    """What ``kerasdl run`` says of a tune section it does not search: a
    section that ``kerasdl tune`` would refuse is not passed over in silence."""
    if recipe.values.get("tune") is None:
        return None
    try:
        load_settings(recipe)
    except RecipeError as error:
        return f"Warning: kerasdl run ignores the tune section, and kerasdl tune would refuse it: {error}"
    return None
