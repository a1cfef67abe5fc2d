"""Scores on the test split beyond Keras's metrics, in the data's own terms.

- Classifiers: accuracy and macro-F1 (each class's F1, averaged, so a
  rare class counts as much as a common one), and the confusion matrix.
- Forecasters: RMSE and MAE in the data's units over every forecast step,
  and at the last step (the horizon).
"""

from __future__ import annotations

import numpy as np


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> float:
    """The unweighted mean of the classes' F1 scores (0 for a class never
    predicted nor present is left out, as scikit-learn does with zero_division)."""
    scores = []
    for label in range(num_classes):
        true, predicted = y_true == label, y_pred == label
        if not true.any() and not predicted.any():
            continue
        hits = float(np.sum(true & predicted))
        scores.append(2 * hits / (true.sum() + predicted.sum()))
    return float(np.mean(scores)) if scores else 0.0


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts: row = true class, column = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return matrix


def classification_scores(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> dict:
    return {"accuracy": float(np.mean(y_true == y_pred)), "macro_f1": macro_f1(y_true, y_pred, num_classes)}


def forecast_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """RMSE and MAE over every step, and at the horizon (the last step)."""
    error = np.asarray(y_pred, np.float64) - np.asarray(y_true, np.float64)
    return {
        "rmse": float(np.sqrt(np.mean(error ** 2))),
        "mae": float(np.mean(np.abs(error))),
        "rmse_at_horizon": float(np.sqrt(np.mean(error[:, -1] ** 2))),
        "mae_at_horizon": float(np.mean(np.abs(error[:, -1]))),
    }


def table(model: dict, baseline_scores: dict, keys: tuple) -> list[str]:
    """Lines comparing the model with the baselines on ``keys``."""
    rows = [("model", model), *baseline_scores.items()]
    width = max(len(name) for name, _ in rows)
    lines = [f"{'':{width}s}  " + "  ".join(f"{key:>15s}" for key in keys)]
    for name, scores in rows:
        lines.append(f"{name:{width}s}  " + "  ".join(f"{scores[key]:15.4f}" for key in keys))
    return lines
