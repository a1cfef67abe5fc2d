"""The task catalogue: every task, and picking the one for a recipe.

A task that names its builders (``anomaly``, ``gan``, ``super_resolution``,
``transfer``, ``word2vec``) trains
those; any other builder is trained by the task for its kind of data:
``classifier`` (examples with labels), ``text`` (labelled texts),
``forecaster`` (a time series).
"""

from __future__ import annotations

from typing import Optional

from kerasdl.data.kinds import Data
from kerasdl.recipe.resolve import Recipe

# Importing a task module registers its task.
from kerasdl.tasks import (  # noqa: F401
    anomaly,
    classifier,
    forecaster,
    gan,
    super_resolution,
    text,
    transfer,
    word2vec,
)
from kerasdl.tasks.building import candidates, mismatch
from kerasdl.tasks.task import Task


def claiming(builder: str) -> Optional[type[Task]]:
    """The task that names ``builder`` among its own, if any."""
    return next((task for task in candidates(builder) if task.builders is not None), None)


def select(recipe: Recipe, data: Data) -> type[Task]:
    """The task that trains the recipe's builder on ``data``.

    Raises:
        RecipeError: naming ``model.builder`` when no task trains that
            builder on this kind of data.
    """
    for task in candidates(recipe["model"]["builder"]):
        if data.kind in task.data_kinds:
            return task
    raise mismatch(recipe, data)
