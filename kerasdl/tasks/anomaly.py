"""The anomaly task: an autoencoder trained on normal inputs only, which
flags an input it rebuilds badly.

The model that trains is the detector (``models.anomaly.detector``): raw
inputs to their reconstruction error, fitted by lowering the normal
inputs' mean error. On the test split (normal and abnormal inputs,
``data.anomalies``) it is ranked by AUROC and AUPR beside PCA and an
isolation forest, and judged at the threshold chosen on the validation
split's normal inputs (``evaluation.anomalies.THRESHOLD_RULE``). The
export answers each input's ``score`` and its verdict, ``anomalous``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import keras
import numpy as np

from kerasdl.artifacts.layout import ANOMALY_FILE
from kerasdl.builders.autoencoder import CODE
from kerasdl.data import anomalies as normal_and_abnormal
from kerasdl.data.kinds import Examples
from kerasdl.errors import RecipeError
from kerasdl.evaluation import anomalies, figures
from kerasdl.models import anomaly
from kerasdl.registry import register_task
from kerasdl.runtime import atomic, runs, summaries
from kerasdl.schema import TOP_LEVEL
from kerasdl.tasks.building import build_model
from kerasdl.tasks.task import Task


@register_task("anomaly")
class AnomalyDetector(Task):
    """The ``autoencoder`` builder on examples recast as normal and abnormal."""

    builders = ("autoencoder",)
    data_kinds = ("examples",)
    sections = ("anomaly",)
    streams = False  # The baselines and the abnormal test inputs are arrays.

    def check(self) -> None:
        super().check()
        recipe = self.recipe
        if self.data.class_names != normal_and_abnormal.CLASSES:
            raise RecipeError(
                f"{recipe.path}: anomaly: an autoencoder learns what is normal, and the recipe does not say what "
                "is abnormal. Set anomaly.abnormal_dataset (another dataset's test split, e.g. mnist against "
                "fashion_mnist) or anomaly.held_out_class (a class left out of training).")
        for key in ("loss", "metrics"):
            if recipe[key] != TOP_LEVEL[key].default:
                raise RecipeError(
                    f"{recipe.path}: {key}: an autoencoder trains on its reconstruction error, the anomaly score, "
                    f"and is scored by AUROC and AUPR. Remove {key}. Received: {key}={recipe[key]!r}")
        if not recipe["training"]["validation_split"]:
            raise RecipeError(
                f"{recipe.path}: training.validation_split: the threshold is chosen on normal validation inputs "
                "(none are held out at 0). Set it above 0, e.g. 0.1.")

    # -- The model -------------------------------------------------------------

    def build(self) -> keras.Model:
        autoencoder = build_model(self.recipe, self.data, self.fit_inputs)
        rescale = next((layer.scale for layer in autoencoder.layers if layer.name == "rescale"), None)
        return anomaly.detector(autoencoder, rescale)

    def loss_and_metrics(self, mixed: bool = False) -> dict:
        return dict(loss=anomaly.MeanScore(), metrics=[])

    def check_metrics(self) -> None:
        """Nothing to check: a detector is scored by AUROC and AUPR, not by ``metrics``."""

    # -- After training --------------------------------------------------------

    @classmethod
    def scores(cls, data: Examples, predictions: np.ndarray) -> dict:
        return anomalies.ranking(np.asarray(data.y_test) == normal_and_abnormal.ABNORMAL, predictions)

    @classmethod
    def details(cls, data: Examples, predictions: np.ndarray) -> dict:
        """The mean score of the normal and of the abnormal test inputs, and their counts."""
        abnormal = np.asarray(data.y_test) == normal_and_abnormal.ABNORMAL
        return {"mean_score": {"normal": float(np.mean(predictions[~abnormal])),
                               "abnormal": float(np.mean(predictions[abnormal]))},
                "test_examples": {"normal": int((~abnormal).sum()), "abnormal": int(abnormal.sum())}}

    def baselines(self) -> dict:
        """PCA's reconstruction error (as many components as the code) and
        an isolation forest, fitted on the model's training inputs."""
        abnormal = np.asarray(self.data.y_test) == normal_and_abnormal.ABNORMAL
        components = int(self.model.get_layer("autoencoder").get_layer(CODE).units)
        scored = {f"pca_{components}": anomalies.ranking(
            abnormal, anomalies.pca_errors(self.fit_inputs, self.data.x_test, components))}
        forest = anomalies.isolation_forest(self.fit_inputs, self.data.x_test, self.recipe["training"]["seed"])
        if forest is None:
            self.log("Isolation forest baseline skipped: scikit-learn is not installed "
                     "(`pip install scikit-learn`, or `make install`).")
        else:
            scored["isolation_forest"] = anomalies.ranking(abnormal, forest)
        return scored

    def evaluate(self, folder: Path) -> dict:
        """The ranking scores and baselines, then the verdicts at the
        threshold chosen on the validation split (``ANOMALY_FILE`` in the
        run folder, for the export and ``kerasdl predict``) and, on the
        chief, the scores' histograms and the ROC and PR curves."""
        evaluated = super().evaluate(folder)
        details, scores = evaluated["details"], self.test_predictions
        abnormal = np.asarray(self.data.y_test) == normal_and_abnormal.ABNORMAL
        if self.placement.workers == 1:
            details["decision"] = self._decide(folder, abnormal)
            decision = details["decision"]
            decided = decision["test"]
            self.log(f"Threshold {decision['threshold']:.4g} (above {1 - decision['false_alarm_rate']:.0%} of the "
                     f"normal validation inputs' scores); on the test split it finds "
                     f"{decided['true_positive_rate']:.1%} of the abnormal inputs and flags "
                     f"{decided['false_positive_rate']:.1%} of the normal ones (precision "
                     f"{decided['precision']:.4f}, F1 {decided['f1']:.4f})")
        if self.placement.is_chief:
            self._figures(folder, evaluated, abnormal, scores)
        return evaluated

    def _decide(self, folder: Path, abnormal: np.ndarray) -> dict:
        rate = self.recipe["anomaly"]["false_alarm_rate"]
        normal = np.concatenate([np.asarray(self.model.predict_on_batch(batch[0]))[:len(batch[1])]
                                 for batch in self.validation_data])
        cut = anomalies.threshold(normal, rate)
        decision = {"threshold": cut, "false_alarm_rate": rate, "rule": anomalies.THRESHOLD_RULE,
                    "validation_examples": len(normal),
                    "test": anomalies.at_threshold(abnormal, self.test_predictions, cut)}
        if self.placement.is_chief:
            atomic.write_json(folder / ANOMALY_FILE, decision)
        return decision

    def _figures(self, folder: Path, evaluated: dict, abnormal: np.ndarray, scores: np.ndarray) -> None:
        """``anomaly_scores.png`` and ``roc_pr.png``, in the run folder and in TensorBoard."""
        logs, step = folder / runs.LOGS / summaries.EVALUATION, self.epochs_trained(folder)
        cut = evaluated["details"].get("decision", {}).get("threshold")
        title = f"{self.recipe.name}: test split, AUROC {evaluated['test']['roc_auc']:.4f}"
        figures.score_histograms(folder / figures.SCORES, scores, abnormal, cut, title)
        summaries.image(logs, "test/anomaly_scores", (folder / figures.SCORES).read_bytes(), step,
                        "The test inputs' scores, normal and abnormal apart, and the threshold.")
        ranked = {**evaluated["test"], "positive_class": {"name": "abnormal"}}
        figures.roc_and_pr(folder / figures.ROC_PR, abnormal, scores, ranked, f"{self.recipe.name}: test split")
        summaries.image(logs, "test/roc_and_pr", (folder / figures.ROC_PR).read_bytes(), step,
                        "ROC and precision-recall curves, the abnormal inputs as the positives.")

    def export_assets(self, folder: Path) -> dict[str, str]:
        """The threshold, when the run chose one."""
        decided = folder / ANOMALY_FILE
        return {**super().export_assets(folder), **({ANOMALY_FILE: decided.read_text()} if decided.is_file() else {})}

    def export(self, folder: Path) -> tuple[Path, Optional[float]]:
        """The detector with its verdict at the threshold: the SavedModel
        answers ``score`` and ``anomalous`` (``assets.extra/model.keras``
        is the detector, the score alone)."""
        decided = folder / ANOMALY_FILE
        served = self.model
        if decided.is_file():
            import json

            served = anomaly.with_verdict(self.model, json.loads(decided.read_text())["threshold"])
        return self.export_model(folder, served, self.data.output_name)
