"""Keras Tuner's oracles, made to resume: a search reloaded after a kill or
in a fresh process (``kerasdl tune`` recycles its process every few trials)
goes on exactly as an uninterrupted one would. ``random`` and ``hyperband``
keep all they need in their saved state; these two did not."""

from __future__ import annotations

import functools

import keras_tuner as kt
import numpy as np
from keras_tuner.src.tuners import gridsearch as kt_gridsearch


class BayesianOptimizationOracle(kt.oracles.BayesianOptimizationOracle):
    """Keras Tuner's Gaussian-process oracle, proposing the same points
    whether or not the search was reloaded.

    It draws the starting points of its acquisition search from one random
    generator that lives in memory only, so a search resumed after a kill or
    in a fresh process proposed other points than an uninterrupted one. Here
    each proposal draws from a generator seeded by the search's seed and the
    trial's number.
    """

    def populate_space(self, trial_id: str) -> dict:
        self._random_state = np.random.RandomState([self.seed, len(self.trials)])
        return super().populate_space(trial_id)


class GridSearchOracle(kt.oracles.GridSearchOracle):
    """Keras Tuner's grid oracle, able to resume.

    Its place in the grid (the trials in grid order, and the finished trials
    whose successor is still to be made) lives in memory only: reloaded in a
    new process, it found no next combination and ended the search after
    the trials already run (the class of keras-tuner #1055). Both are
    rebuilt here from the saved trials.
    """

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        values = {trial_id: self.trials[trial_id].hyperparameters.values for trial_id in self.start_order}
        try:
            order = sorted(self.start_order, key=functools.cmp_to_key(
                lambda a, b: self._compare(values[a], values[b])))
        except KeyError:  # Conditional values absent from one trial: creation order is grid order.
            order = list(self.start_order)
        self._ordered_ids = kt_gridsearch.LinkedList()
        for trial_id in order:
            self._ordered_ids.insert(trial_id)
        # Each finished trial proposes its successor; one that exists already is skipped.
        self._populate_next = list(self.end_order)
