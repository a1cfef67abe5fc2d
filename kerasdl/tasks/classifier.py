"""Classifiers of examples (images, tables): the ``fit`` task as it is,
scored by accuracy and macro-F1."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from kerasdl.data import balance
from kerasdl.errors import RecipeError
from kerasdl.evaluation.scores import classification_scores, confusion_matrix
from kerasdl.registry import register_task
from kerasdl.tasks.task import Task


@register_task("classifier")
class Classifier(Task):
    """Any builder (cnn, dense, lstm) on examples with labels."""

    data_kinds = ("examples",)
    weighs_classes = True

    def check(self) -> None:
        super().check()
        training = self.recipe["training"]
        if training["class_weight"] and training["oversample"]:
            raise RecipeError(
                f"{self.recipe.path}: training.class_weight and training.oversample both correct the class "
                "imbalance; together they correct it twice. Keep one."
            )
        if isinstance(training["class_weight"], dict):
            for name in training["class_weight"]:
                try:
                    balance.class_index(name, self.data.class_names)
                except ValueError as error:
                    raise RecipeError(f"{self.recipe.path}: training.class_weight: {error}.") from None

    def prepare(self, pretrain: bool = True) -> None:
        super().prepare(pretrain)
        self.weights = self._class_weights()

    def _class_weights(self) -> Optional[dict]:
        """``training.class_weight`` as ``fit`` takes it: class index -> weight,
        counted on the training split (``balance.class_weights``)."""
        setting = self.recipe["training"]["class_weight"]
        if not setting:
            return None
        try:
            weights = balance.class_weights(setting, self.fit_labels, self.data.class_names)
        except ValueError as error:
            raise RecipeError(f"{self.recipe.path}: training.class_weight: {error}.") from None
        self.log("Class weights: " + ", ".join(
            f"{name} {weights[index]:.3g}" for index, name in enumerate(self.data.class_names)
        ))
        return weights

    def class_weight(self) -> Optional[dict]:
        return self.weights

    @classmethod
    def scores(cls, data: Any, predictions: np.ndarray) -> dict:
        return classification_scores(data.y_test, np.argmax(predictions, axis=-1), data.num_classes)

    @classmethod
    def details(cls, data: Any, predictions: np.ndarray) -> dict:
        """Each class's accuracy (its recall) and the confusion matrix (rows: true class)."""
        matrix = confusion_matrix(data.y_test, np.argmax(predictions, axis=-1), data.num_classes)
        return {
            "per_class_accuracy": {
                name: float(matrix[index, index] / max(matrix[index].sum(), 1))
                for index, name in enumerate(data.class_names)
            },
            "confusion_matrix": matrix.tolist(),
        }

    def evaluate(self, folder: Any) -> dict:
        evaluated = super().evaluate(folder)
        recall = evaluated["details"]["per_class_accuracy"]
        self.log("Test recall per class: " + ", ".join(f"{name} {value:.4f}" for name, value in recall.items()))
        return evaluated
