"""The task catalogue: every task, and picking the one for a recipe.

A task that names its builders (``gan``, ``transfer``, ``word2vec``) trains
those; any other builder is trained by the task for its kind of data:
``classifier`` (examples with labels), ``text`` (labelled texts),
``forecaster`` (a time series).
"""

from __future__ import annotations

from typing import Any, Optional

from kerasdl.recipe.resolve import Recipe
from kerasdl.registry import TASKS

# Importing a task module registers its task.
from kerasdl.tasks import classifier, forecaster, gan, text, transfer, word2vec  # noqa: F401
from kerasdl.tasks.task import Task, mismatch


def claiming(builder: str) -> Optional[type[Task]]:
    """The task that names ``builder`` among its own, if any."""
    for name in TASKS.names():
        task = TASKS.get(name)
        if task.builders is not None and builder in task.builders:
            return task
    return None


def select(recipe: Recipe, data: Any) -> type[Task]:
    """The task that trains the recipe's builder on ``data``.

    Raises:
        RecipeError: naming ``model.builder`` when no task trains that
            builder on this kind of data.
    """
    builder = recipe["model"]["builder"]
    claimed = claiming(builder)
    candidates = [claimed] if claimed else [
        TASKS.get(name) for name in TASKS.names() if TASKS.get(name).builders is None
    ]
    for task in candidates:
        if data.kind in task.data_kinds:
            return task
    raise mismatch(recipe, data)
