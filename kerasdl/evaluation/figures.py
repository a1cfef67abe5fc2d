"""Every figure kerasdl draws (the one module that imports matplotlib): a
classifier's confusion matrix (``kerasdl evaluate`` and every classifier
run write it, and the run shows it in TensorBoard), a run's learning curves
and two runs' side by side (``kerasdl runs diff``), and ``kerasdl
compare``'s paired scores."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from kerasdl.runtime import runs

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


# History columns that are not a learning curve.
NOT_CURVES = ("epoch", "learning_rate", runs.SECONDS)


def learning_curves(histories: Sequence[dict], labels: Sequence[str], path: Path) -> Optional[Path]:
    """One panel per metric every history logged, with its training and
    validation curves: for one run in two colours, for several in one
    colour a run (validation dashed). None when they share no metric.

    Args:
        histories: ``runs.read_history`` of each run.
        labels: Each run's name in the legend ("" for a run alone).
    """
    plt = _pyplot()
    metrics = [key for key in histories[0] if key not in NOT_CURVES and not key.startswith("val_")
               and all(key in history for history in histories[1:])]
    if not metrics:
        return None
    alone = len(histories) == 1
    figure, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5), squeeze=False)
    for axis, metric in zip(axes[0], metrics):
        for index, (history, label) in enumerate(zip(histories, labels)):
            epochs = [int(epoch) + 1 for epoch in history.get("epoch", range(len(history[metric])))]
            name = f"{label} " if label else ""
            axis.plot(epochs, history[metric], color=f"C{index}", marker="o", label=f"{name}train")
            if f"val_{metric}" in history:
                axis.plot(epochs[:len(history[f"val_{metric}"])], history[f"val_{metric}"],
                          color="C1" if alone else f"C{index}", linestyle="-" if alone else "--",
                          marker="o" if alone else ".", label=f"{name}validation")
        axis.set_xlabel("epoch")
        axis.set_title(metric)
        axis.grid(alpha=0.3)
        axis.legend(fontsize="medium" if alone else "small")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def paired_scores(path: Path, result: dict) -> None:
    """``kerasdl compare``'s box plot: each recipe's test scores, the pairs
    joined, the median difference and its interval in the title."""
    plt = _pyplot()
    first = [pair["first"] for pair in result["pairs"]]
    second = [pair["second"] for pair in result["pairs"]]
    figure, axes = plt.subplots(figsize=(4.5, 4))
    axes.boxplot([first, second], widths=0.4)
    for a, b in zip(first, second):
        axes.plot([1, 2], [a, b], color="grey", alpha=0.6, marker="o", markersize=4)
    axes.set_xticks([1, 2], [result["first"]["name"], result["second"]["name"]])
    axes.set_ylabel(f"test {result['metric']}")
    interval = result["interval_95"]
    shown = "no interval from one pair" if interval is None else (
        f"95% interval of the mean [{interval[0]:+.4f}, {interval[1]:+.4f}] (paired t)")
    axes.set_title(f"A - B: median {result['median_difference']:+.4f}\n{shown}", fontsize=9)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _pyplot():
    """matplotlib's pyplot on the file-only backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
