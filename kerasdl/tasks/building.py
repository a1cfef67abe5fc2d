"""Which builder trains on which data, and the build: a builder fits the
data when its signature takes what the data gives (``takes``) and a task
trains it on that kind (``candidates``: the tasks' ``builders`` and
``data_kinds``); every message about a mismatch is made from the same.
"""

from __future__ import annotations

from typing import Any

import keras

from kerasdl.data.kinds import KINDS, Data
from kerasdl.errors import BuilderArgumentError, RecipeError
from kerasdl.recipe.resolve import Recipe
from kerasdl.registry import BUILDERS, TASKS, create_model
from kerasdl.runtime import memory


def check_builder(recipe: Recipe, data: Data, fit_inputs: Any = None) -> tuple[dict, dict]:
    """What the data gives the builder, ``(required, optional)``, once the
    builder is known to take it.

    Raises:
        RecipeError: naming ``model.builder`` when it does not fit the data.
    """
    if not takes(recipe["model"]["builder"], data):
        raise mismatch(recipe, data)
    return data.builder_inputs(fit_inputs)


def mismatch(recipe: Recipe, data: Data) -> RecipeError:
    """The error for a builder that does not train on the recipe's data,
    naming those that do (from the tasks' ``builders`` and ``data_kinds``
    and the builders' signatures: what ``select`` and ``check_builder``
    decide by)."""
    builder = recipe["model"]["builder"]
    fitting = builders_for(data)
    # A builder a task names trains on that task's kinds; any other on whatever its signature takes.
    kinds = [kind for task in candidates(builder) if task.builders is not None for kind in task.data_kinds]
    return RecipeError(" ".join([
        f"{recipe.path}: model.builder: '{builder}' does not train on {data.description}",
        f"(data.dataset: {recipe['data']['dataset']}).",
        f"The builders that train on it: {', '.join(fitting)}." if fitting else "No builder trains on it.",
        *([f"'{builder}' trains on {' or '.join(KINDS[kind] for kind in kinds)}."] if kinds else []),
    ]))


def candidates(builder: str) -> list[type]:
    """The tasks that may train ``builder``: the one that names it among its
    ``builders``, else every task that names none (the catalogue's order)."""
    tasks = [TASKS.get(name) for name in TASKS.names()]
    claimed = [task for task in tasks if task.builders is not None and builder in task.builders]
    return claimed or [task for task in tasks if task.builders is None]


def takes(builder: str, data: Data) -> bool:
    """Whether the builder's signature takes what the data gives: every
    argument the data requires, and the data gives every one the builder
    requires."""
    required, _ = data.builder_inputs(None)
    accepted = BUILDERS.data_arguments_of(builder)
    needed = {name for name, parameter in BUILDERS.signature(builder).items()
              if name in accepted and parameter.default is parameter.empty}
    return set(required) <= accepted and needed <= set(required)


def builders_for(data: Data) -> list[str]:
    """The registered builders that a task trains on ``data``."""
    return [builder for builder in BUILDERS.names()
            if takes(builder, data) and any(data.kind in task.data_kinds for task in candidates(builder))]


def build_model(recipe: Recipe, data: Data, fit_inputs: Any = None) -> keras.Model:
    """The recipe's uncompiled model for the data: what the builder learns
    from the data (input shape, classes or horizon, vocabulary size,
    ``adapt_data``) plus the recipe's ``model`` section.

    Args:
        fit_inputs: The inputs the model trains on, which preprocessing
            layers adapt to; the whole training split by default.

    Raises:
        RecipeError: naming ``model.<argument>`` when the builder rejects a
            value, or ``model.builder`` when it does not fit the data.
    """
    if fit_inputs is None:
        fit_inputs = getattr(data, "x_train", None)
    required, optional = check_builder(recipe, data, fit_inputs)
    accepted = BUILDERS.data_arguments_of(recipe["model"]["builder"])
    provided = {**required, **{key: value for key, value in optional.items() if key in accepted}}
    builder, arguments = recipe["model"]["builder"], recipe.builder_arguments()
    try:
        # Counted before anything is allocated, adapted on a few examples (where a vocabulary grows with the
        # data, a lower bound: the guard is against sizes no machine holds, not a forecast).
        sample = {**provided, **({"adapt_data": _sample(provided["adapt_data"])} if "adapt_data" in provided else {})}
        count = memory.parameters(lambda: create_model(builder, **sample, **arguments))
        memory.check_fits(count, recipe["optimizer"]["name"], f"{recipe.path}: model")
        return create_model(builder, **provided, **arguments)
    except BuilderArgumentError as error:
        raise RecipeError(f"{recipe.path}: model.{error.argument}: {error}") from None


def _sample(inputs: Any) -> Any:
    """A few of the training inputs, for the abstract build's adapting layers."""
    if inputs is None:
        return None
    if hasattr(inputs, "take"):  # A tf.data.Dataset of batches.
        return inputs.take(1)
    return inputs[:64]
