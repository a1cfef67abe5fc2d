"""Scores of a classifier's probabilities, beyond the class it picks.

- Ranking, for two classes: ROC AUC (the chance that a random positive
  scores above a random negative, ties counted half) and PR AUC as average
  precision (scikit-learn's definition: precision at each positive's rank,
  averaged), with the curves they summarise. The positive class is index 1.
- A decision threshold for two classes, chosen on validation data
  (``THRESHOLD_RULE``) and used by ``kerasdl predict``.
- Calibration, for any classifier: the expected calibration error of the
  top class (the probabilities binned in ``BINS`` equal-width bins; the
  gap between each bin's mean confidence and its accuracy, weighted by the
  bin's share of the examples), and the bins for a reliability figure.
"""

from __future__ import annotations

import numpy as np

# Equal-width confidence bins of the calibration error (Guo et al. 2017 use 15).
BINS = 15


def roc_auc(positive: np.ndarray, scores: np.ndarray) -> float:
    """The area under the ROC curve, by ranks (the Mann-Whitney U statistic)."""
    positive = np.asarray(positive, bool)
    count_positive, count_negative = int(positive.sum()), int((~positive).sum())
    if not count_positive or not count_negative:
        return float("nan")
    ranks = _average_ranks(np.asarray(scores, np.float64))
    return float((ranks[positive].sum() - count_positive * (count_positive + 1) / 2)
                 / (count_positive * count_negative))


def average_precision(positive: np.ndarray, scores: np.ndarray) -> float:
    """The area under the precision-recall curve, as average precision."""
    precision, recall, _ = pr_curve(positive, scores)
    return float(np.sum(np.diff(recall, prepend=0.0) * precision)) if len(recall) else float("nan")


def roc_curve(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates at every distinct threshold, from (0, 0) to (1, 1)."""
    true, false, _ = _counts(positive, scores)
    return (np.concatenate([[0.0], false / max(false[-1], 1)]),
            np.concatenate([[0.0], true / max(true[-1], 1)]))


def pr_curve(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and the threshold at every distinct score, highest threshold first."""
    true, false, thresholds = _counts(positive, scores)
    if not len(true) or true[-1] == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    return true / (true + false), true / true[-1], thresholds


# How the decision threshold is chosen, in the words metrics.json and predict repeat.
THRESHOLD_RULE = "the validation split's largest true positive rate minus false positive rate (Youden's J)"


def decision_threshold(positive: np.ndarray, scores: np.ndarray) -> float:
    """The threshold on the positive class's probability at which
    ``THRESHOLD_RULE`` holds: an example is positive when its probability
    is at least this (of equal J, the threshold nearest 0.5)."""
    true, false, thresholds = _counts(positive, scores)
    if not len(true) or true[-1] == 0 or false[-1] == 0:
        return 0.5  # One class alone: no ranking to choose from.
    j = true / max(true[-1], 1) - false / max(false[-1], 1)
    best = np.flatnonzero(np.isclose(j, j.max()))
    return float(thresholds[best[np.argmin(np.abs(thresholds[best] - 0.5))]])


def calibration(labels: np.ndarray, probabilities: np.ndarray, bins: int = BINS) -> dict:
    """The top class's expected calibration error and its bins.

    Returns:
        ``expected_calibration_error`` and ``bins``: for each non-empty bin
        its ``low`` and ``high`` edges, ``confidence`` (mean top
        probability), ``accuracy`` and ``count``.
    """
    probabilities = np.asarray(probabilities, np.float64)
    confidence = probabilities.max(axis=-1)
    correct = probabilities.argmax(axis=-1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    rows, error = [], 0.0
    for index in range(bins):
        inside = which == index
        if not inside.any():
            continue
        mean_confidence, accuracy = float(confidence[inside].mean()), float(correct[inside].mean())
        error += inside.mean() * abs(mean_confidence - accuracy)
        rows.append({"low": float(edges[index]), "high": float(edges[index + 1]), "confidence": mean_confidence,
                     "accuracy": accuracy, "count": int(inside.sum())})
    return {"expected_calibration_error": float(error), "bins": rows}


def _counts(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative true and false positives at each distinct score, highest first."""
    positive, scores = np.asarray(positive, bool), np.asarray(scores, np.float64)
    order = np.argsort(-scores, kind="mergesort")
    positive, scores = positive[order], scores[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1] if len(scores) else np.zeros(0, int)
    true = np.cumsum(positive)[last].astype(np.float64)
    return true, (last + 1) - true, scores[last]


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, tied values sharing their mean rank."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    unique, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.zeros(len(unique))
    np.add.at(sums, inverse, ranks)
    return (sums / counts)[inverse]
