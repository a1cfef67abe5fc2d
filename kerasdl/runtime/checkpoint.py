"""The checkpoint a run resumes from: ``backup/`` in the run folder.

Keras's ``BackupAndRestore`` writes over its weights file in place and its
epoch in a second file, so a kill (or a full disk) in the middle leaves a
file that no longer loads, or weights one epoch ahead of their epoch
number. ``Checkpoint`` keeps its protocol (``training_metadata.json``
says the epoch; ``fit`` starts after it) but writes each epoch's weights
to a new file and then swaps the metadata that points at it, in one
rename: whatever the moment of a kill, the metadata names a whole file.
The previous epoch's files stay as a second chance. Nothing is deleted
when ``fit`` ends: the run removes ``backup/`` once ``metrics.json`` is
written (a kill after training must not cost the training).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Optional

import keras
import numpy as np

from kerasdl.errors import DataError

METADATA = "training_metadata.json"
PREVIOUS = f"{METADATA}.bkp"
BEST_PREFIX = "best-epoch-"


def _weights_name(epoch: int, prefix: str = "epoch-") -> str:
    return f"{prefix}{epoch:05d}.weights.h5"


class BestWeights(keras.callbacks.Callback):
    """Keeps the weights of the best epoch so far on disk
    (``best-epoch-NNNNN.weights.h5`` beside the checkpoint) and loads them
    into the model when ``fit`` ends (``training.checkpoint: best``).
    ``Checkpoint`` saves and restores its state, so a resumed run still
    knows its best epoch.

    Args:
        folder: Where the file goes (the run's ``backup/``).
        monitor: The logged value judged (``val_loss``, ``val_accuracy``,
            ...): maximized for accuracy-like names, minimized otherwise.
    """

    def __init__(self, folder: str, monitor: str):
        super().__init__()
        self.folder, self.monitor = Path(folder), monitor
        self.maximize = any(word in monitor for word in ("acc", "auc", "f1", "precision", "recall"))
        self.best: Optional[float] = None
        self.best_epoch: Optional[int] = None  # 1-based, as history.csv's epoch + 1.
        self.file: Optional[str] = None

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(float(value)):
            return
        value = float(value)
        if self.best is not None and (value <= self.best if self.maximize else value >= self.best):
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        name = _weights_name(epoch + 1, BEST_PREFIX)
        temporary = self.folder / f".{name}.tmp.weights.h5"
        self.model.save_weights(str(temporary), overwrite=True)
        os.replace(temporary, self.folder / name)
        previous, self.best, self.best_epoch, self.file = self.file, value, epoch + 1, name
        # The previous best stays until the checkpoint names this one (a kill in between).
        for path in self.folder.glob(f"{BEST_PREFIX}*.weights.h5"):
            if path.name not in (name, previous):
                path.unlink(missing_ok=True)

    def on_train_end(self, logs: Optional[dict] = None) -> None:
        if self.file is not None:
            self.model.load_weights(str(self.folder / self.file))


# The attributes that make a callback's state, saved with each epoch and
# restored on resume: early stopping's patience count and best value
# survive a kill (keras-team/keras #17012), as do the plateau rule's and
# the best epoch.
STATE = {
    keras.callbacks.EarlyStopping: ("wait", "best", "best_epoch", "stopped_epoch"),
    keras.callbacks.ReduceLROnPlateau: ("wait", "best", "cooldown_counter"),
    BestWeights: ("best", "best_epoch", "file"),
}


def _state_of(callback: Any) -> dict:
    attributes = next(names for kind, names in STATE.items() if isinstance(callback, kind))
    plain = {}
    for name in attributes:
        value = getattr(callback, name, None)
        plain[name] = float(value) if isinstance(value, (float, np.floating)) else (
            int(value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else value)
    return plain


class Checkpoint(keras.callbacks.Callback):
    """Saves the model's weights and optimizer state after every epoch and
    restores them when ``fit`` starts again.

    Args:
        backup_dir: Its folder (made when the first epoch ends).

    Raises:
        DataError: when ``fit`` starts and neither the latest nor the
            previous checkpoint loads, naming the files and ``--fresh``.
    """

    def __init__(self, backup_dir: str):
        super().__init__()
        self.folder = Path(backup_dir)
        self.tracked: list = []

    def track(self, *callbacks: Any) -> None:
        """Saves and restores the state of these callbacks (``STATE``'s
        kinds; others are ignored) with each epoch. They must come before
        the checkpoint in ``fit``'s list: restored after their own
        ``on_train_begin`` resets them, saved after their epoch's update."""
        self.tracked += [callback for callback in callbacks if any(isinstance(callback, kind) for kind in STATE)]

    # -- Restoring -------------------------------------------------------------

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        failures = []
        for metadata in (self.folder / METADATA, self.folder / PREVIOUS):
            if not metadata.exists():
                continue
            try:
                self._restore(metadata)
                return
            except (OSError, ValueError, KeyError, TypeError) as error:
                failures.append(f"{metadata}: {error}")
        if failures:
            raise DataError(
                f"The checkpoint of this unfinished run cannot be read: {'; '.join(failures)}. "
                "Start a new run with --fresh (and delete the unfinished run's folder)."
            )

    def _restore(self, metadata: Path) -> None:
        """Loads the weights ``metadata`` names; errors name the file that failed."""
        state = json.loads(metadata.read_text())
        epoch = int(state["epoch"])
        # Runs from before this checkpoint hold Keras's BackupAndRestore file.
        weights = self.folder / state.get("weights", "latest.weights.h5")
        model = self.model
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)  # Its variables must exist to be loaded.
        try:
                model.load_weights(str(weights))
        except (OSError, ValueError, KeyError) as error:
            raise OSError(f"{weights.name} ({error})") from None
        model._initial_epoch = epoch  # Where Keras's fit starts (BackupAndRestore's protocol).
        states = state.get("callbacks", {})
        for callback in self.tracked:
            for name, value in states.get(type(callback).__name__, {}).items():
                setattr(callback, name, value)

    # -- Saving ----------------------------------------------------------------

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        folder = self.folder
        folder.mkdir(parents=True, exist_ok=True)
        name = _weights_name(epoch + 1)
        temporary = folder / f".{name}.tmp.weights.h5"  # Keras wants the suffix.
        self.model.save_weights(str(temporary), overwrite=True)
        os.replace(temporary, folder / name)
        state = json.dumps({
            "epoch": epoch + 1, "batch": 0, "weights": name,
            "callbacks": {type(callback).__name__: _state_of(callback) for callback in self.tracked},
        })
        staged = folder / f".{METADATA}.tmp"
        staged.write_text(state)
        with open(staged, "rb") as handle:
            os.fsync(handle.fileno())  # On disk before it is the one that counts.
        if (folder / METADATA).exists():
            os.replace(folder / METADATA, folder / PREVIOUS)
        os.replace(staged, folder / METADATA)
        self._remove_older_than(epoch)

    def _remove_older_than(self, epoch: int) -> None:
        """Keeps the files of this epoch and the one before (the best epoch's are ``BestWeights``')."""
        keep = {_weights_name(epoch + 1), _weights_name(epoch)}
        for path in self.folder.glob("epoch-*.weights.h5"):
            if path.name not in keep:
                path.unlink(missing_ok=True)
