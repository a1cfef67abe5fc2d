"""What a run reports beyond Keras's metrics: scores on the test split and
simple baselines scored on the same split.

- Classifiers: accuracy and macro-F1 (each class's F1, averaged, so a
  rare class counts as much as a common one). Baselines for texts: the
  majority class, and TF-IDF on word 1-2-grams + logistic regression
  (scikit-learn's, when installed).
- Forecasters: RMSE and MAE in the data's units over every forecast step,
  and at the last step (the horizon). Baselines: the last value, and the
  seasonal naive forecast with drift: the value one season before, plus
  the mean change over a season in the training part.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from kerasdl.datasets import Dataset
from kerasdl.series import Series


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


def test_scores(data: Any, predictions: np.ndarray) -> dict:
    """The model's scores from its test-split predictions."""
    if isinstance(data, Series):
        return forecast_scores(data.y_test, predictions)
    return classification_scores(data.y_test, np.argmax(predictions, axis=-1), data.num_classes)


def baselines(data: Any, fit_inputs: np.ndarray, fit_labels: np.ndarray, log: Callable[[str], None] = print) -> dict:
    """Baselines scored on the test split, by name; {} for data that has none.

    Args:
        fit_inputs, fit_labels: What the model trained on (validation
            share removed): baselines learn from the same examples.
    """
    if isinstance(data, Series):
        return {
            "last_value": forecast_scores(data.y_test, last_value(data)),
            **({f"seasonal_naive_drift_{data.season}": forecast_scores(data.y_test, seasonal_naive_drift(data))}
               if data.season else {}),
        }
    if not isinstance(data, Dataset) or not data.is_text:
        return {}
    majority = np.bincount(fit_labels, minlength=data.num_classes).argmax()
    results = {"majority_class": classification_scores(data.y_test, np.full(len(data.y_test), majority), data.num_classes)}
    predictions = tfidf_logistic_regression(fit_inputs, fit_labels, data.x_test)
    if predictions is None:
        log("TF-IDF + logistic regression baseline skipped: scikit-learn is not installed "
            "(`pip install scikit-learn`, or `make install`).")
    else:
        results["tfidf_logistic_regression"] = classification_scores(data.y_test, predictions, data.num_classes)
    return results


def tfidf_logistic_regression(texts: np.ndarray, labels: np.ndarray, test_texts: np.ndarray) -> Optional[np.ndarray]:
    """Test predictions of TF-IDF (word 1-2-grams) + logistic regression,
    scikit-learn's defaults otherwise; None without scikit-learn."""
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        return None
    vectorizer = TfidfVectorizer(ngram_range=(1, 2))
    features = vectorizer.fit_transform([str(text) for text in texts])
    model = LogisticRegression(max_iter=1000).fit(features, labels)
    return model.predict(vectorizer.transform([str(text) for text in test_texts]))


def last_value(data: Series) -> np.ndarray:
    """Every step forecast as the target's last value in the window."""
    origins = data.test_origins()
    return np.repeat(data.values[origins - 1, :1], data.horizon, axis=1)


def seasonal_naive_drift(data: Series) -> np.ndarray:
    """The value one season before each forecast step, plus the mean change
    over one season in the training part (the drift)."""
    season, target = data.season, data.values[:, 0].astype(np.float64)
    train = target[: data.test_start]
    drift = float(np.mean(train[season:] - train[:-season]))
    steps = data.test_origins()[:, None] + np.arange(data.horizon)[None]
    # A step less than a season ahead uses last season's value; further
    # ahead, the same week of the latest season observed, plus drift for
    # each season it spans.
    seasons_back = 1 + np.arange(data.horizon)[None] // season
    return target[steps - season * seasons_back] + drift * seasons_back


def table(model: dict, baseline_scores: dict, keys: tuple) -> list[str]:
    """Lines comparing the model with the baselines on ``keys``."""
    rows = [("model", model), *baseline_scores.items()]
    width = max(len(name) for name, _ in rows)
    lines = [f"{'':{width}s}  " + "  ".join(f"{key:>15s}" for key in keys)]
    for name, scores in rows:
        lines.append(f"{name:{width}s}  " + "  ".join(f"{scores[key]:15.4f}" for key in keys))
    return lines
