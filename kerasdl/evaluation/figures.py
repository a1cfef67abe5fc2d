"""Figures of a model's test scores, drawn with matplotlib: a classifier's
confusion matrix (``kerasdl evaluate`` and every classifier run write it,
and the run shows it in TensorBoard)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

# The file name of a confusion matrix's picture (in a run or evaluation folder).
CONFUSION = "confusion_matrix.png"

def plot_confusion_matrix(matrix: np.ndarray, class_names: Sequence[str], path: Path, title: str) -> None:
    """Rows normalised to the share of each true class, counts written in."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = max(5.0, 0.6 * len(class_names) + 2)
    figure, axes = plt.subplots(figsize=(size + 1, size))
    image = axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    axes.set_yticks(range(len(class_names)), class_names)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(title)
    if len(class_names) <= 20:
        for row in range(len(class_names)):
            for column in range(len(class_names)):
                axes.text(column, row, str(matrix[row, column]), ha="center", va="center", fontsize=7,
                          color="white" if shares[row, column] > 0.5 else "black")
    figure.colorbar(image, ax=axes, fraction=0.046, label="share of the true class")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
