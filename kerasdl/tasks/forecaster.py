"""Forecasters of a time series: a regression loss, RMSE and MAE in the
data's units, and the naive baselines beside them."""

from __future__ import annotations

import numpy as np

from kerasdl.data.kinds import Examples
from kerasdl.errors import RecipeError
from kerasdl.evaluation.baselines import forecast_baselines
from kerasdl.evaluation.scores import forecast_scores
from kerasdl.registry import register_task
from kerasdl.tasks.task import Task


@register_task("forecaster")
class Forecaster(Task):
    """Any builder that takes a ``horizon`` (lstm) on a time series."""

    data_kinds = ("series",)

    def check(self) -> None:
        """A forecast needs a regression loss and metrics."""
        super().check()
        recipe, data = self.recipe, self.data
        if "crossentropy" in recipe["loss"]:
            raise RecipeError(
                f"{recipe.path}: loss: {recipe['loss']} is a classification loss, but {data.source} is "
                "forecast: set loss: mse (or mae, huber)."
            )
        for index, metric in enumerate(recipe["metrics"]):
            if metric in ("accuracy", "acc") or "accuracy" in metric or "crossentropy" in metric:
                raise RecipeError(
                    f"{recipe.path}: metrics[{index}]: {metric} scores classes, but {data.source} is forecast: "
                    "use mae, root_mean_squared_error or mean_absolute_percentage_error."
                )

    @classmethod
    def scores(cls, data: Examples, predictions: np.ndarray) -> dict:
        return forecast_scores(data.y_test, predictions)

    def baselines(self) -> dict:
        return forecast_baselines(self.data)
