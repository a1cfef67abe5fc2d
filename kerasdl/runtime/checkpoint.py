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
import os
from pathlib import Path
from typing import Optional

import keras

from kerasdl.errors import DataError

METADATA = "training_metadata.json"
PREVIOUS = f"{METADATA}.bkp"


def _weights_name(epoch: int) -> str:
    return f"epoch-{epoch:05d}.weights.h5"


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

    # -- Saving ----------------------------------------------------------------

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        folder = self.folder
        folder.mkdir(parents=True, exist_ok=True)
        name = _weights_name(epoch + 1)
        temporary = folder / f".{name}.tmp.weights.h5"  # Keras wants the suffix.
        self.model.save_weights(str(temporary), overwrite=True)
        os.replace(temporary, folder / name)
        state = json.dumps({"epoch": epoch + 1, "batch": 0, "weights": name})
        staged = folder / f".{METADATA}.tmp"
        staged.write_text(state)
        with open(staged, "rb") as handle:
            os.fsync(handle.fileno())  # On disk before it is the one that counts.
        if (folder / METADATA).exists():
            os.replace(folder / METADATA, folder / PREVIOUS)
        os.replace(staged, folder / METADATA)
        self._remove_older_than(epoch)

    def _remove_older_than(self, epoch: int) -> None:
        """Keeps the files of this epoch and the one before."""
        keep = {_weights_name(epoch + 1), _weights_name(epoch)}
        for path in self.folder.glob("*.weights.h5"):
            if path.name not in keep:
                path.unlink(missing_ok=True)
