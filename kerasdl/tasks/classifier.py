"""Classifiers of examples (images, tables): the ``fit`` task as it is,
scored by accuracy and macro-F1."""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasdl.evaluation.scores import classification_scores, confusion_matrix
from kerasdl.registry import register_task
from kerasdl.tasks.task import Task


@register_task("classifier")
class Classifier(Task):
    """Any builder (cnn, dense, lstm) on examples with labels."""

    data_kinds = ("examples",)

    @classmethod
    def scores(cls, data: Any, predictions: np.ndarray) -> dict:
        return classification_scores(data.y_test, np.argmax(predictions, axis=-1), data.num_classes)

    @classmethod
    def details(cls, data: Any, predictions: np.ndarray) -> dict:
        """Each class's accuracy and the confusion matrix (rows: true class)."""
        matrix = confusion_matrix(data.y_test, np.argmax(predictions, axis=-1), data.num_classes)
        return {
            "per_class_accuracy": {
                name: float(matrix[index, index] / max(matrix[index].sum(), 1))
                for index, name in enumerate(data.class_names)
            },
            "confusion_matrix": matrix.tolist(),
        }
