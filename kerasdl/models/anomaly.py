"""An autoencoder as an anomaly detector: the layers and loss that saved
detectors name (``kerasdl>ReconstructionError``, ``kerasdl>Exceeds``,
``kerasdl>MeanScore``), and ``detector``, which wraps an autoencoder.

A detector maps raw inputs to one score each, the mean squared
reconstruction error in the autoencoder's [0, 1] units: it trains by
lowering the mean score of normal inputs (``MeanScore``), so ``fit`` needs
no targets, and it answers with the score an input is judged by.
"""

from __future__ import annotations

from typing import Any, Optional

import keras
from keras import ops

from kerasdl.data.anomalies import SCORE

# Beside the score in the export, the verdict: whether the score exceeds the threshold.
VERDICT = "anomalous"


@keras.saving.register_keras_serializable(package="kerasdl")
class ReconstructionError(keras.layers.Layer):
    """``[inputs, reconstructions]`` to each example's mean squared
    difference, times ``scale`` squared (``scale`` maps raw units to the
    model's: 1/255 for pixels), in float32."""

    def __init__(self, scale: float = 1.0, **kwargs: Any):
        super().__init__(**{"dtype": "float32", **kwargs})
        self.scale = float(scale)

    def call(self, pair: list) -> Any:
        inputs, reconstructions = (ops.cast(tensor, "float32") for tensor in pair)
        squared = ops.square((inputs - reconstructions) * self.scale)
        return ops.mean(ops.reshape(squared, (ops.shape(squared)[0], -1)), axis=-1)

    def compute_output_shape(self, shapes: list) -> tuple:
        return (shapes[0][0],)

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="kerasdl")
class Exceeds(keras.layers.Layer):
    """Scores to verdicts: whether each exceeds ``threshold`` (bool)."""

    def __init__(self, threshold: float, **kwargs: Any):
        super().__init__(**kwargs)
        self.threshold = float(threshold)

    def call(self, scores: Any) -> Any:
        return ops.greater(scores, self.threshold)

    def compute_output_spec(self, scores: Any) -> keras.KerasTensor:
        return keras.KerasTensor(scores.shape, dtype="bool")

    def get_config(self) -> dict:
        return {**super().get_config(), "threshold": self.threshold}


@keras.saving.register_keras_serializable(package="kerasdl")
class MeanScore(keras.losses.Loss):
    """The mean of the model's outputs, whatever the targets: a detector
    trained on normal inputs lowers their reconstruction error."""

    def __init__(self, name: str = "mean_score", **kwargs: Any):
        super().__init__(name=name, **kwargs)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return y_pred


def detector(autoencoder: keras.Model, scale: Optional[float]) -> keras.Model:
    """The autoencoder's inputs to their score (``ReconstructionError``),
    sharing its layers: training the detector trains the autoencoder.

    Args:
        scale: The autoencoder's ``rescale`` (raw units to [0, 1]); None for 1.
    """
    inputs = autoencoder.inputs[0]
    score = ReconstructionError(1.0 if scale is None else scale, name=SCORE)([inputs, autoencoder(inputs)])
    return keras.Model(inputs, score, name="anomaly_detector")


def with_verdict(detecting: keras.Model, threshold: float) -> keras.Model:
    """The detector answering ``{"score", "anomalous"}``: the export's model."""
    score = detecting.outputs[0]
    return keras.Model(detecting.inputs[0], {SCORE: score, VERDICT: Exceeds(threshold, name=VERDICT)(score)},
                       name="anomaly_detector")
