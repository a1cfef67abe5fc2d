"""Simple baselines scored on the same test split as the model, so a score
has something to be compared with.

- Labelled texts: the majority class, and TF-IDF on word 1-2-grams +
  logistic regression (scikit-learn's, when installed).
- Time series: the last value, and the seasonal naive forecast with drift:
  the value one season before, plus the mean change over a season in the
  training part.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from kerasdl.data.kinds import Examples
from kerasdl.evaluation.scores import classification_scores, forecast_scores


def text_baselines(data: Examples, fit_inputs: np.ndarray, fit_labels: np.ndarray,
                   log: Callable[[str], None] = print) -> dict:
    """The majority class and TF-IDF + logistic regression, by name.

    Args:
        fit_inputs, fit_labels: What the model trained on (validation
            share removed): the baselines learn from the same examples.
            The test texts are read whole (``data.sample``), streamed ones too.
    """
    majority = np.bincount(fit_labels, minlength=data.num_classes).argmax()
    results = {"majority_class": classification_scores(data.y_test, np.full(len(data.y_test), majority),
                                                       data.num_classes)}
    predictions = tfidf_logistic_regression(fit_inputs, fit_labels, data.sample(data.test_examples))
    if predictions is None:
        log("TF-IDF + logistic regression baseline skipped: scikit-learn is not installed "
            "(`pip install scikit-learn`, or `make install`).")
    else:
        results["tfidf_logistic_regression"] = classification_scores(data.y_test, predictions, data.num_classes)
    return results


def forecast_baselines(data: Examples) -> dict:
    """The last value and, for a series with a season, the seasonal naive
    forecast with drift, by name."""
    return {
        "last_value": forecast_scores(data.y_test, last_value(data)),
        **({f"seasonal_naive_drift_{data.season}": forecast_scores(data.y_test, seasonal_naive_drift(data))}
           if data.season else {}),
    }


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


def last_value(data: Examples) -> np.ndarray:
    """Every step forecast as the target's last value in the window."""
    origins = data.test_origins()
    return np.repeat(data.values[origins - 1, :1], data.horizon, axis=1)


def seasonal_naive_drift(data: Examples) -> np.ndarray:
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
