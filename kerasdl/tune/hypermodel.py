"""The hypermodel: a trial's recipe built and trained through the same task
as ``kerasdl run``."""

from __future__ import annotations

from typing import Any, Optional

import keras
import keras_tuner as kt

from kerasdl.data import catalogue as data_catalogue
from kerasdl.data.kinds import Data
from kerasdl.errors import RecipeError
from kerasdl.recipe.resolve import Recipe
from kerasdl.recipe.yaml_text import dump_yaml
from kerasdl.tasks import loop
from kerasdl.tasks.task import Task
from kerasdl.tune.settings import Settings


class _TrialRecipeError(RecipeError, kt.errors.FatalError):
    """A trial's values are rejected by the builder: stop the search, not just the trial."""


class RecipeHyperModel(kt.HyperModel):
    """Builds and trains a trial's recipe through the same path as ``kerasdl run``.

    ``build(hp)`` resolves the recipe with the trial's values and returns the
    compiled model of its prepared task; ``fit`` trains it on the pipelines
    made for the trial's batch size and epochs.
    """

    def __init__(self, settings: Settings):
        super().__init__(name=settings.recipe.name)
        self.settings = settings
        self.declaring = False  # Declare the space only: no data, no model.
        self.execution = 0
        self._data_key: Optional[str] = None
        self._data: Optional[Data] = None
        self._prepared: Optional[Task] = None

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
            self._prepared = loop.prepared(recipe, self.dataset(recipe))
        except RecipeError as error:
            values = ", ".join(f"{key}={value!r}" for key, value in assignments.items())
            raise _TrialRecipeError(f"{error} (trial values: {values})") from None
        return self._prepared.model

    def dataset(self, recipe: Recipe) -> Any:
        """The recipe's data; trials share one loaded copy unless they search data options."""
        key = dump_yaml({"data": recipe["data"], "seed": recipe["training"]["seed"]})
        if key != self._data_key:
            self._data, self._data_key = None, None
            self._data, self._data_key = data_catalogue.from_recipe(recipe), key
        return self._data

    def fit(self, hp: Any, model: keras.Model, *args: Any, callbacks: Any = (), epochs: Optional[int] = None,
            initial_epoch: int = 0, verbose: Any = 1, **kwargs: Any) -> keras.callbacks.History:
        prepared, self._prepared = self._prepared, None
        if prepared is None or prepared.model is not model:
            raise kt.errors.FatalError("RecipeHyperModel.fit needs the model its build() returned last.")
        return prepared.fit(list(callbacks), verbose=verbose, epochs=epochs, initial_epoch=initial_epoch)

    def release(self) -> None:
        self._prepared = None


