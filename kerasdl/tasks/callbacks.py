"""The callbacks of a run and where the recipe asks for them: the epoch's
timing (``Throughput``), the divergence guard (``StopOnNaN``), the
recipe's plateau and early-stopping rules, and a run folder's callbacks
(``for_run``: best weights, history, TensorBoard curves, checkpoint).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Optional

import keras

from kerasdl.errors import TrainingError
from kerasdl.recipe.resolve import Recipe
from kerasdl.runtime import faults, runs, summaries
from kerasdl.runtime.checkpoint import BestWeights, Checkpoint


class Throughput(keras.callbacks.Callback):
    """Times each epoch's training part (validation excluded) and adds it
    to the epoch's logs as ``seconds``: a column of history.csv, so the
    epochs of a run resumed across processes are all counted."""

    def __init__(self):
        super().__init__()
        self._start = 0.0
        self._seconds = 0.0

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        self._start = time.perf_counter()

    def on_test_begin(self, logs: Optional[dict] = None) -> None:
        if self._start:
            self._seconds = time.perf_counter() - self._start
            self._start = 0.0

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        self.on_test_begin()
        if logs is not None:  # The same dict goes on to the CSV logger.
            logs[runs.SECONDS] = round(self._seconds, 4)


def samples_per_second(history: dict, examples_per_epoch: int) -> Optional[float]:
    """Training examples per second over the epochs of ``history``; the
    first epoch includes tracing and cache filling: left out when there
    are others."""
    seconds = history.get(runs.SECONDS, [])
    timed = seconds[1:] or seconds
    return examples_per_epoch * len(timed) / sum(timed) if timed and sum(timed) > 0 else None


class StopOnNaN(keras.callbacks.Callback):
    """Stops training at the first batch whose loss is NaN or infinite,
    with a message that says what to change (Keras's ``TerminateOnNaN``
    stops without a word, and the run would export a broken model).

    Raises:
        TrainingError: naming the epoch, the batch and the recipe.
    """

    def __init__(self, recipe: Recipe):
        super().__init__()
        self.recipe, self.epoch = recipe, 0

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        for key, value in (logs or {}).items():
            if "loss" in key and not math.isfinite(float(value)):
                rate = self.recipe["optimizer"]["learning_rate"]
                raise TrainingError(
                    f"{self.recipe.path}: the training {key} became {float(value)} in epoch {self.epoch + 1}, "
                    f"batch {batch + 1}: the weights diverged. Lower optimizer.learning_rate (now {rate}), "
                    "set optimizer.clipnorm, or check the data for NaN or huge values. The checkpoint keeps "
                    "the last finished epoch; a changed recipe starts a new run."
                )


def monitored(recipe: Recipe) -> str:
    """What a plateau is judged on: val_loss with validation data, else loss."""
    return "val_loss" if recipe["training"]["validation_split"] > 0 else "loss"


def best_monitor(recipe: Recipe) -> str:
    """What the best epoch is judged on: early stopping's monitor when the
    recipe names one, else ``monitored``."""
    stopping = recipe["training"]["early_stopping"]
    return stopping.get("monitor", monitored(recipe)) if isinstance(stopping, dict) else monitored(recipe)


def reduce_on_plateau(recipe: Recipe) -> list:
    """The recipe's ``training.reduce_on_plateau`` as callbacks (none or one)."""
    plateau = recipe["training"]["reduce_on_plateau"]
    if not plateau:
        return []
    options = {"monitor": monitored(recipe), "factor": 0.5, "patience": 2, "min_lr": 1e-6}
    if isinstance(plateau, dict):
        options.update(plateau)
    return [keras.callbacks.ReduceLROnPlateau(**options)]


def early_stopping(recipe: Recipe) -> list:
    """The recipe's ``training.early_stopping`` as callbacks (none or one)."""
    stopping = recipe["training"]["early_stopping"]
    if not stopping:
        return []
    # With training.checkpoint: best the best weights come from BestWeights,
    # which (unlike early stopping's copy in memory) survives a resume.
    options = {"patience": 3, "restore_best_weights": recipe["training"]["checkpoint"] != "best"}
    if isinstance(stopping, dict):
        options.update(stopping)
    return [keras.callbacks.EarlyStopping(**options)]


def for_run(recipe: Recipe, folder: Path, outputs: list, backup: str = runs.BACKUP, best: bool = True) -> list:
    """The run's callbacks, in the order that keeps a kill consistent: the
    epoch's own outputs (``outputs``: throughput, a GAN's sample grid), the
    best epoch's weights (``best`` and ``training.checkpoint: best``), then
    its history row, then the checkpoint. A kill before the checkpoint
    redoes the epoch, which rewrites the outputs and the row
    (``runs.read_history`` keeps the last row of an epoch)."""
    callbacks: list = [*outputs]
    if best and recipe["training"]["checkpoint"] == "best":
        callbacks.append(BestWeights(str(folder / backup), best_monitor(recipe)))
    callbacks.append(keras.callbacks.CSVLogger(str(folder / runs.HISTORY), append=True))
    callbacks.append(summaries.EpochCurves(str(folder / runs.LOGS)))
    if recipe["training"]["resume"]:
        callbacks.append(Checkpoint(str(folder / backup)))
    return [*callbacks, *faults.epoch_killer()]


def with_rules(recipe: Recipe, callbacks: list) -> list:
    """``callbacks`` after the divergence guard (``StopOnNaN``: a run and a
    tuning trial alike) and the recipe's plateau and early-stopping rules:
    the rate the plateau rule logs reaches history.csv, and the checkpoint
    saves the rules' state after their epoch's update (and restores it
    after their ``on_train_begin`` resets it)."""
    rules = [*reduce_on_plateau(recipe), *early_stopping(recipe)]
    for callback in callbacks:
        if isinstance(callback, Checkpoint):
            callback.track(*rules, *(other for other in callbacks if isinstance(other, BestWeights)))
    return [StopOnNaN(recipe), *rules, *callbacks]
