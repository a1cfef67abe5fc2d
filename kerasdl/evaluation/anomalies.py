"""Scoring anomaly detectors as the field does, and the baselines beside them.

A detector gives each input a score, higher for the more abnormal. It is
ranked by AUROC and AUPR (average precision) with the abnormal inputs as
the positives, and judged at a threshold chosen on normal validation
inputs alone (``THRESHOLD_RULE``): abnormal inputs are not known in
advance. The baselines learn from the same normal training inputs:

- PCA reconstruction error (as many components as the autoencoder's code);
- an isolation forest (scikit-learn's, when installed).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from kerasdl.evaluation import probabilities

THRESHOLD_RULE = ("the (1 - false_alarm_rate) quantile of the validation split's scores, normal inputs only: "
                  "that share of normal inputs is expected below it")
# Rows a baseline fits and scores at a time (a bounded memory for any split).
CHUNK = 4096


def ranking(abnormal: np.ndarray, scores: np.ndarray) -> dict:
    """AUROC and AUPR of ``scores`` with the ``abnormal`` inputs as positives."""
    abnormal = np.asarray(abnormal, bool)
    return {"roc_auc": probabilities.roc_auc(abnormal, scores),
            "pr_auc": probabilities.average_precision(abnormal, scores)}


def threshold(normal_scores: np.ndarray, false_alarm_rate: float) -> float:
    """The score above which an input is flagged (``THRESHOLD_RULE``)."""
    return float(np.quantile(np.asarray(normal_scores, np.float64), 1.0 - false_alarm_rate))


def at_threshold(abnormal: np.ndarray, scores: np.ndarray, cut: float) -> dict:
    """What flagging the scores above ``cut`` gets right: the abnormal
    inputs found (true positive rate), normal ones flagged (false positive
    rate), the flagged that are abnormal (precision), and F1."""
    abnormal, flagged = np.asarray(abnormal, bool), np.asarray(scores) > cut
    found, false = int(np.sum(flagged & abnormal)), int(np.sum(flagged & ~abnormal))
    recall = found / max(int(abnormal.sum()), 1)
    precision = found / max(found + false, 1)
    return {
        "true_positive_rate": recall,
        "false_positive_rate": false / max(int((~abnormal).sum()), 1),
        "precision": precision,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "accuracy": float(np.mean(flagged == abnormal)),
    }


def _flat(examples: np.ndarray) -> np.ndarray:
    return np.asarray(examples, np.float32).reshape(len(examples), -1)


def pca_errors(fit_inputs: np.ndarray, test_inputs: np.ndarray, components: int) -> np.ndarray:
    """Each test input's squared distance from the span of the training
    inputs' first ``components`` principal axes (its PCA reconstruction
    error), the mean of the training inputs removed first."""
    fit = _flat(fit_inputs)
    mean = fit.mean(axis=0)
    covariance = np.zeros((fit.shape[1],) * 2, np.float64)
    for start in range(0, len(fit), CHUNK):
        centred = (fit[start:start + CHUNK] - mean).astype(np.float64)
        covariance += centred.T @ centred
    _, vectors = np.linalg.eigh(covariance)  # Ascending eigenvalues: the last are the principal axes.
    axes = vectors[:, -min(components, fit.shape[1]):].astype(np.float32)
    errors = []
    for start in range(0, len(test_inputs), CHUNK):
        centred = _flat(test_inputs[start:start + CHUNK]) - mean
        errors.append(np.sum(np.square(centred - (centred @ axes) @ axes.T), axis=1))
    return np.concatenate(errors)


def isolation_forest(fit_inputs: np.ndarray, test_inputs: np.ndarray, seed: int) -> Optional[np.ndarray]:
    """Test scores of scikit-learn's isolation forest (its defaults: 100
    trees of 256 examples) fitted on the training inputs, higher for the
    more abnormal; None without scikit-learn."""
    try:
        from sklearn.ensemble import IsolationForest
    except ImportError:
        return None
    forest = IsolationForest(random_state=seed).fit(_flat(fit_inputs))
    return -np.concatenate([forest.score_samples(_flat(test_inputs[start:start + CHUNK]))
                            for start in range(0, len(test_inputs), CHUNK)])
