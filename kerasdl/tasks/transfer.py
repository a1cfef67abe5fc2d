"""Transfer learning: a classifier on a trained backbone, and a second phase
(the recipe's ``fine_tune`` section) that unfreezes the top of the backbone
and trains on at a low learning rate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from kerasdl.builders.transfer import BACKBONE, select_layers
from kerasdl.errors import RecipeError
from kerasdl.registry import register_task
from kerasdl.runtime import devices, runs
from kerasdl.tasks.classifier import Classifier

# The second phase checkpoints here, inside the run's backup folder.
FINE_TUNE_BACKUP = "fine_tune"


@register_task("transfer")
class Transfer(Classifier):
    """The ``transfer`` builder on examples with labels."""

    builders = ("transfer",)
    data_kinds = ("examples",)
    sections = ("fine_tune",)

    def prepare(self, pretrain: bool = True) -> None:
        super().prepare(pretrain)
        # Checked now, not after the first phase has trained.
        self.unfreeze = self._unfreeze() if self.recipe["fine_tune"]["epochs"] else []

    def _unfreeze(self) -> list:
        """The backbone layers the second phase trains (``fine_tune.unfreeze``)."""
        try:
            return select_layers(
                self.model.get_layer(BACKBONE).layers[1:], self.recipe["fine_tune"]["unfreeze"], from_top=True
            )
        except ValueError as error:
            raise RecipeError(f"{self.recipe.path}: fine_tune.unfreeze: {error}") from None

    def phases(self, folder: Path, outputs: list, verbose: Any) -> None:
        """The first phase, then the second. The second keeps its checkpoint
        inside the first's folder (the first deletes its own when it ends):
        a run killed in the second phase resumes there, not from the start."""
        second = f"{runs.BACKUP}/{FINE_TUNE_BACKUP}"
        if not (folder / second).is_dir():
            self.fit(self.run_callbacks(folder, outputs), verbose=verbose)
        if self.recipe["fine_tune"]["epochs"]:
            self.fine_tune(self.run_callbacks(folder, outputs, backup=second), verbose=verbose)

    def fine_tune(self, callbacks: list, *, verbose: Any = "auto") -> keras.callbacks.History:
        """The second phase: unfreezes the top of the backbone
        (``fine_tune.unfreeze``; batch norm stays frozen), rebuilds the
        optimizer at ``fine_tune.learning_rate`` and trains
        ``fine_tune.epochs`` more epochs."""
        recipe, section = self.recipe, self.recipe["fine_tune"]
        for layer in self.unfreeze:
            layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)
        with devices.building(self.placement):
            # The recipe's optimizer and its settings, at the phase's constant rate.
            self.compile({**recipe["optimizer"], "learning_rate": section["learning_rate"]}, section["epochs"])
        first = recipe["training"]["epochs"]
        return self.fit(callbacks, verbose=verbose, epochs=first + section["epochs"], initial_epoch=first)
