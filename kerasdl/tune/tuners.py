"""Keras Tuner's tuners with what kerasdl adds to each: a fresh Keras session
per trial, a per-trial history.csv and record, a failed trial reported as it
ends, a time budget, and a stop after ``trials_per_process`` trials
(``Recycle``). The grid and Bayesian tuners use the oracles of
``oracles.py``, which resume."""

from __future__ import annotations

import gc
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any, Optional

import keras
import keras_tuner as kt
from keras_tuner.src import config as kt_config
from keras_tuner.src import utils as kt_utils

from kerasdl.runtime import atomic, runs
from kerasdl.tune.oracles import BayesianOptimizationOracle, GridSearchOracle

TRIAL_RECORD = "kerasdl-trial.json"
TRIAL_HISTORY = runs.HISTORY

# Tells apart the processes that ran a search's trials (re-executing keeps the pid).
_PROCESS = uuid.uuid4().hex[:8]


def _save_json_whole(path: str, content: Any) -> str:
    """Keras Tuner's ``utils.save_json``, written whole or not at all. Keras
    Tuner writes oracle.json and each trial.json in place, so a kill -9 in
    the middle of a write left a torn file, and the same command, resuming,
    died reloading it (a JSONDecodeError: tests/test_tune.py's kill -9 test
    caught it, now and then)."""
    text = json.dumps(content)
    atomic.write_text(Path(path), text)
    return text


kt_utils.save_json = _save_json_whole  # Keras Tuner calls it as utils.save_json, looked up at each call.


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


# What the deadline is compared with (a test's fake clock replaces it).
clock = time.time


class BudgetSpent(Exception):
    """Raised by the tuner before it would start a trial past its deadline
    (``kerasdl tune --time-budget``): the trials run so far are the search."""


def trial_error(trial: Any) -> Optional[str]:
    """A failed trial's error: the last line of its traceback (Keras Tuner
    keeps the whole in ``trial.json``), kerasdl's own errors without their
    class name; None when there is none."""
    lines = (getattr(trial, "message", None) or "").strip().splitlines()
    if not lines:
        return None
    name, separator, message = lines[-1].partition(": ")
    if separator and name.startswith("kerasdl."):
        return message
    return f"{name.rsplit('.', 1)[-1]}: {message}" if separator else lines[-1]


class _KerasdlTuner:
    """What kerasdl adds to each Keras Tuner tuner: a fresh Keras session per
    trial, a per-trial history.csv, a trial record (worker, seconds, memory
    after the trial), a failed trial reported as it ends, no trial started
    past ``deadline``, and a stop after ``trials_per_process`` trials."""

    trials_per_process: Optional[int] = None
    deadline: Optional[float] = None  # time.time() after which no trial starts.
    log: Any = print
    _trials_here = 0

    def on_search_begin(self) -> None:
        super().on_search_begin()
        # Keras Tuner prints a failed trial's whole traceback; the error's
        # last line is reported instead (trial.json keeps the traceback).
        kt_config.DEBUG = bool(os.environ.get("KERASDL_DEBUG"))

    def pre_create_trial(self) -> None:
        super().pre_create_trial()
        if self.deadline is not None and clock() >= self.deadline:
            raise BudgetSpent("the time budget is spent")

    def on_trial_end(self, trial: Any) -> None:
        super().on_trial_end(trial)  # Records the result and saves the search.
        ended = self.oracle.get_trial(trial.trial_id) if isinstance(self.oracle, kt.Oracle) else trial
        if ended.status in (kt.engine.trial.TrialStatus.FAILED, kt.engine.trial.TrialStatus.INVALID):
            retried = ended.status == kt.engine.trial.TrialStatus.INVALID
            self.log(f"Trial {trial.trial_id} failed: {trial_error(trial).rstrip('.')}. "
                     + ("It will be retried." if retried else "The search goes on; trials.csv records the error."))
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
            atomic.write_json(folder / TRIAL_RECORD, {
                "worker": self.tuner_id,
                "process": _PROCESS,
                "seconds": round(time.perf_counter() - start, 2),
                **_memory_mib(),
            })


class RandomSearch(_KerasdlTuner, kt.RandomSearch):
    """Random search over a recipe's space."""


class BayesianOptimization(_KerasdlTuner, kt.BayesianOptimization):
    """Gaussian-process Bayesian optimization over a recipe's space."""

    def __init__(self, hypermodel: Any = None, objective: Any = None, max_trials: int = 10,
                 num_initial_points: Optional[int] = None, alpha: float = 1e-4, beta: float = 2.6,
                 seed: Optional[int] = None, max_retries_per_trial: int = 0, max_consecutive_failed_trials: int = 3,
                 **kwargs: Any):
        oracle = BayesianOptimizationOracle(
            objective=objective, max_trials=max_trials, num_initial_points=num_initial_points, alpha=alpha,
            beta=beta, seed=seed, max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        kt.Tuner.__init__(self, oracle, hypermodel, **kwargs)  # kt.BayesianOptimization's own, with this oracle.


class Hyperband(_KerasdlTuner, kt.Hyperband):
    """Hyperband: many short trials, the best continued for longer."""


class GridSearch(_KerasdlTuner, kt.GridSearch):
    """Every combination of a discrete space, in order."""

    def __init__(self, hypermodel: Any = None, objective: Any = None, max_trials: Optional[int] = None,
                 seed: Optional[int] = None, max_retries_per_trial: int = 0, max_consecutive_failed_trials: int = 3,
                 **kwargs: Any):
        self.seed = seed
        oracle = GridSearchOracle(
            objective=objective, max_trials=max_trials, seed=seed, max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        kt.Tuner.__init__(self, oracle, hypermodel, **kwargs)  # kt.GridSearch's own, with this oracle.


TUNERS = {"random": RandomSearch, "bayesian": BayesianOptimization, "hyperband": Hyperband, "grid": GridSearch}


def role() -> Optional[str]:
    """``chief`` or ``worker`` in a distributed search, None otherwise."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return None
    return "chief" if "chief" in os.environ.get("KERASTUNER_TUNER_ID", "") else "worker"


