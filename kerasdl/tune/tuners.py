"""Keras Tuner's tuners with what kerasdl adds to each: a fresh Keras session
per trial, a per-trial history.csv and record, and a stop after
``trials_per_process`` trials (``Recycle``)."""

from __future__ import annotations

import gc
import os
import time
import uuid
from pathlib import Path
from typing import Any, Optional

import keras
import keras_tuner as kt

from kerasdl.runtime import runs

TRIAL_RECORD = "kerasdl-trial.json"
TRIAL_HISTORY = runs.HISTORY

# Tells apart the processes that ran a search's trials (re-executing keeps the pid).
_PROCESS = uuid.uuid4().hex[:8]


def _memory_mib() -> dict[str, Optional[float]]:
    """This process's resident memory now and at its peak so far (Linux), in MiB."""
    found: dict[str, Optional[float]] = {"rss_mib": None, "peak_rss_mib": None}
    names = {"VmRSS:": "rss_mib", "VmHWM:": "peak_rss_mib"}
    try:
        with open("/proc/self/status") as status:
            for line in status:
                field = line.split()[0] if line.strip() else ""
                if field in names:
                    found[names[field]] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return found


class Recycle(Exception):
    """Raised by ``search`` after ``trials_per_process`` trials: the search is
    saved; run it again (the CLI re-executes itself) to go on in a fresh process.

    TensorFlow keeps some memory of every model trained in a process, even
    after ``keras.backend.clear_session()`` (keras-tuner #873; measured here:
    about 17 MiB per CNN in a plain build-fit-delete loop, about 50 MiB per
    trial of the CNN recipe's space), so only a new process keeps memory flat
    over a long search.
    """


class _KerasdlTuner:
    """What kerasdl adds to each Keras Tuner tuner: a fresh Keras session per
    trial, a per-trial history.csv, a trial record (worker, seconds, memory
    after the trial), and a stop after ``trials_per_process`` trials."""

    trials_per_process: Optional[int] = None
    _trials_here = 0

    def on_trial_end(self, trial: Any) -> None:
        super().on_trial_end(trial)  # Records the result and saves the search.
        self._trials_here += 1
        oracle = self.oracle
        last = isinstance(oracle, kt.Oracle) and oracle.max_trials and len(oracle.trials) >= oracle.max_trials
        if self.trials_per_process and self._trials_here >= self.trials_per_process and not last:
            raise Recycle(f"{self._trials_here} trials run in this process")

    def _populate_initial_space(self) -> None:
        # Keras Tuner builds the model to discover the space; declaring is enough.
        self.hypermodel.declaring = True
        try:
            super()._populate_initial_space()
        finally:
            self.hypermodel.declaring = False

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        folder = Path(self.get_trial_dir(trial.trial_id))
        history = folder / TRIAL_HISTORY
        history.unlink(missing_ok=True)  # A trial retried after a kill starts over.
        self.hypermodel.execution = 0
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), keras.callbacks.CSVLogger(str(history), append=True)]
        try:
            return super().run_trial(trial, *args, **kwargs)
        finally:
            # Keras Tuner clears the session before the next build; clearing
            # now too makes the memory recorded below that of the search alone.
            self.hypermodel.release()
            keras.backend.clear_session(free_memory=True)
            gc.collect()
            runs.write_json_atomically(folder / TRIAL_RECORD, {
                "worker": self.tuner_id,
                "process": _PROCESS,
                "seconds": round(time.perf_counter() - start, 2),
                **_memory_mib(),
            })


class RandomSearch(_KerasdlTuner, kt.RandomSearch):
    """Random search over a recipe's space."""


class BayesianOptimization(_KerasdlTuner, kt.BayesianOptimization):
    """Gaussian-process Bayesian optimization over a recipe's space."""


class Hyperband(_KerasdlTuner, kt.Hyperband):
    """Hyperband: many short trials, the best continued for longer."""


class GridSearch(_KerasdlTuner, kt.GridSearch):
    """Every combination of a discrete space, in order."""


TUNERS = {"random": RandomSearch, "bayesian": BayesianOptimization, "hyperband": Hyperband, "grid": GridSearch}


def role() -> Optional[str]:
    """``chief`` or ``worker`` in a distributed search, None otherwise."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return None
    return "chief" if "chief" in os.environ.get("KERASTUNER_TUNER_ID", "") else "worker"


