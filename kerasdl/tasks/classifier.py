"""Classifiers of examples (images, tables): the ``fit`` task as it is,
scored by accuracy and macro-F1."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from kerasdl.artifacts import trained
from kerasdl.artifacts.layout import DECISION_FILE
from kerasdl.data import balance
from kerasdl.data.kinds import Examples
from kerasdl.errors import InputError, RecipeError
from kerasdl.evaluation import figures, gradcam, probabilities
from kerasdl.evaluation.scores import classification_scores, confusion_matrix
from kerasdl.models import mixing
from kerasdl.registry import register_task
from kerasdl.runtime import atomic, runs, summaries
from kerasdl.tasks.task import Task

# Test images a run explains with Grad-CAM (grad_cam.png, TensorBoard).
EXPLAINED = 8


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
        if training["adversarial"] and len(self.data.input_shape) != 3:
            raise RecipeError(
                f"{self.recipe.path}: training.adversarial: attacks images (height, width, channels), but "
                f"{self.data.source} has examples of shape {tuple(self.data.input_shape)}. Remove "
                "training.adversarial."
            )
        if training["label_mixing"]:
            self._check_mixing(training["label_mixing"])
        if isinstance(training["class_weight"], dict):
            for name in training["class_weight"]:
                try:
                    balance.class_index(name, self.data.class_names)
                except ValueError as error:
                    raise RecipeError(f"{self.recipe.path}: training.class_weight: {error}.") from None

    def _check_mixing(self, spec: object) -> None:
        """``training.label_mixing``: images, a Keras layer and arguments it
        takes, a categorical crossentropy, metrics that read one-hot labels."""
        where = f"{self.recipe.path}: training.label_mixing"
        if len(self.data.input_shape) != 3:
            raise RecipeError(f"{where}: mixes images (height, width, channels), but {self.data.source} has examples "
                              f"of shape {tuple(self.data.input_shape)}. Remove training.label_mixing.")
        try:
            mixing.mixer(spec, self.recipe["training"]["seed"])
            mixing.dense_loss(self.recipe["loss"])
        except ValueError as error:
            raise RecipeError(f"{where}: {error}.") from None
        for index, metric in enumerate(self.recipe["metrics"]):
            if isinstance(metric, str) and metric.startswith("sparse_"):
                raise RecipeError(
                    f"{self.recipe.path}: metrics[{index}]: {metric} reads integer labels, and training.label_mixing "
                    f"trains on class probabilities. Use {metric.removeprefix('sparse_')} (or accuracy).")

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
    def scores(cls, data: Examples, predictions: np.ndarray) -> dict:
        return classification_scores(data.y_test, np.argmax(predictions, axis=-1), data.num_classes)

    @classmethod
    def details(cls, data: Examples, predictions: np.ndarray) -> dict:
        """Each class's accuracy (its recall) and the confusion matrix (rows: true class)."""
        matrix = confusion_matrix(data.y_test, np.argmax(predictions, axis=-1), data.num_classes)
        found = {
            "per_class_accuracy": {
                name: float(matrix[index, index] / max(matrix[index].sum(), 1))
                for index, name in enumerate(data.class_names)
            },
            "confusion_matrix": matrix.tolist(),
            **probabilities.calibration(data.y_test, predictions),
        }
        if data.num_classes == 2:  # Ranked by the probability of class 1, the positive one.
            positive, scores = np.asarray(data.y_test) == 1, predictions[:, 1]
            found.update(roc_auc=probabilities.roc_auc(positive, scores),
                         pr_auc=probabilities.average_precision(positive, scores),
                         positive_class={"index": 1, "name": data.class_names[1]})
        return found

    def evaluate(self, folder: Path) -> dict:
        """The test scores, and on the chief the confusion matrix as
        ``confusion_matrix.png`` and, with each class's accuracy, in
        TensorBoard (``logs/evaluation``)."""
        evaluated = super().evaluate(folder)
        recall = evaluated["details"]["per_class_accuracy"]
        self.log("Test recall per class: " + ", ".join(f"{name} {value:.4f}" for name, value in recall.items()))
        details = evaluated["details"]
        if "roc_auc" in details and self.validation_data is not None and self.placement.workers == 1:
            details["decision"] = self._decide(folder)
            self.log(f"Decision threshold {details['decision']['threshold']:.4f} on the probability of "
                     f"{details['positive_class']['name']} ({probabilities.THRESHOLD_RULE}); test accuracy at it "
                     f"{details['decision']['test_accuracy']:.4f}")
        calibrated = f"Test expected calibration error {details['expected_calibration_error']:.4f}"
        if "roc_auc" in details:
            calibrated += (f"; positive class {details['positive_class']['name']}: ROC AUC {details['roc_auc']:.4f}, "
                           f"PR AUC {details['pr_auc']:.4f}")
        self.log(calibrated)
        if self.placement.is_chief:
            self._probability_figures(folder, details)
            self._explanations(folder)
            matrix = np.asarray(evaluated["details"]["confusion_matrix"])
            figures.plot_confusion_matrix(matrix, self.data.class_names, folder / figures.CONFUSION,
                                          f"{self.recipe.name}: test split, accuracy "
                                          f"{evaluated['test']['accuracy']:.4f}")
            logs, step = folder / runs.LOGS / summaries.EVALUATION, self.epochs_trained(folder)
            summaries.image(logs, "test/confusion_matrix", (folder / figures.CONFUSION).read_bytes(), step,
                            "Rows: the true class; columns: the predicted class; colour: the share of the row.")
            # A "/" in a class name (T-shirt/top) would nest TensorBoard's tag groups.
            summaries.scores(logs, {name.replace("/", "-"): value for name, value in recall.items()}, step,
                             prefix="test/per_class_accuracy/")
            summaries.text(logs, "test/per_class_accuracy", summaries.markdown_table(
                ["class", "test accuracy (recall)", "test examples"],
                [(name, recall[name], int(matrix[index].sum())) for index, name in enumerate(recall)],
            ), step)
        return evaluated

    def _probability_figures(self, folder: Path, details: dict) -> None:
        """The reliability diagram and, for two classes, the ROC and PR
        curves: PNGs in the run folder and images in TensorBoard."""
        logs, step = folder / runs.LOGS / summaries.EVALUATION, self.epochs_trained(folder)
        figures.reliability(folder / figures.CALIBRATION, details, f"{self.recipe.name}: test split")
        summaries.image(logs, "test/calibration", (folder / figures.CALIBRATION).read_bytes(), step,
                        "Each confidence bin's accuracy against its mean confidence; the diagonal is calibrated.")
        if "roc_auc" not in details:
            return
        predictions = self.test_predictions
        positive = np.asarray(self.data.y_test) == 1
        figures.roc_and_pr(folder / figures.ROC_PR, positive, predictions[:, 1], details,
                           f"{self.recipe.name}: test split")
        summaries.image(logs, "test/roc_and_pr", (folder / figures.ROC_PR).read_bytes(), step,
                        f"ROC and precision-recall curves, positive class {details['positive_class']['name']}.")

    def _explanations(self, folder: Path) -> None:
        """Grad-CAM maps of the first test images, for a convolutional model
        of images: ``grad_cam.png`` in the run folder and in TensorBoard, the
        captions in its description (``kerasdl explain`` draws captioned
        maps of any image and checks them)."""
        if len(self.data.input_shape) != 3:
            return
        try:
            explainer = gradcam.Explainer(self.model)
        except InputError:
            return  # No convolutional feature map: a dense model on images.
        images = next(trained.test_batches(self.data))[:EXPLAINED]
        result = explainer.explain(images)
        captions = [f"{self.data.class_names[label]} -> {gradcam.caption(answer)}" for label, answer in
                    zip(np.asarray(self.data.y_test), gradcam.answers(result, self.data.class_names))]
        import tensorflow as tf

        picture = figures.overlay_grid(images, result["maps"])
        (folder / figures.EXPLAINED).write_bytes(tf.io.encode_png(picture).numpy())
        logs, step = folder / runs.LOGS / summaries.EVALUATION, self.epochs_trained(folder)
        summaries.image(logs, "test/grad_cam", picture, step,
                        f"Grad-CAM at {explainer.layer}, each test image beside its map (red: the strongest evidence "
                        "for the predicted class). Left to right, the true class -> the explained: "
                        + "; ".join(captions) + ". Captioned maps of any image: kerasdl explain.")

    def export_assets(self, folder: Path) -> dict[str, str]:
        """The class names and, for two classes, the decision threshold."""
        decided = folder / DECISION_FILE
        return {**super().export_assets(folder), **({DECISION_FILE: decided.read_text()} if decided.is_file() else {})}

    def _decide(self, folder: Path) -> dict:
        """The two-class decision threshold, chosen on the validation split
        (``probabilities.THRESHOLD_RULE``), scored on the test split, and
        written to the run folder for the export and ``kerasdl predict``."""
        scores, labels = [], []
        for batch in self.validation_data:
            labels.append(np.asarray(batch[1]))
            # As in check_metrics: under a strategy, the first answers are the batch's.
            scores.append(np.asarray(self.model.predict_on_batch(batch[0]))[:len(labels[-1]), 1])
        threshold = probabilities.decision_threshold(np.concatenate(labels) == 1, np.concatenate(scores))
        decided = self.test_predictions[:, 1] >= threshold
        decision = {
            "threshold": threshold, "positive_class": self.data.class_names[1], "rule": probabilities.THRESHOLD_RULE,
            "validation_examples": int(sum(len(part) for part in labels)),
            "test_accuracy": float(np.mean(decided == (np.asarray(self.data.y_test) == 1))),
        }
        if self.placement.is_chief:
            atomic.write_json(folder / DECISION_FILE, decision)
        return decision
