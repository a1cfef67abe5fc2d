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


ROC_PR = "roc_pr.png"
CALIBRATION = "calibration.png"


def roc_and_pr(path: Path, positive: np.ndarray, scores: np.ndarray, ranking: dict, title: str) -> None:
    """A two-class classifier's ROC and precision-recall curves side by side,
    their areas (``ranking``: ``roc_auc``, ``pr_auc``, ``positive_class``'s ``name``) in the legends."""
    from kerasdl.evaluation import probabilities

    plt = _pyplot()
    figure, (roc, pr) = plt.subplots(1, 2, figsize=(9, 4.2))
    false_rate, true_rate = probabilities.roc_curve(positive, scores)
    roc.plot(false_rate, true_rate, label=f"AUC {ranking['roc_auc']:.4f}")
    roc.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    roc.set_xlabel("false positive rate")
    roc.set_ylabel("true positive rate")
    precision, recall, _ = probabilities.pr_curve(positive, scores)
    pr.step(np.r_[0.0, recall], np.r_[precision[:1], precision], where="post",
            label=f"average precision {ranking['pr_auc']:.4f}")
    pr.axhline(float(np.mean(positive)), color="grey", linestyle=":", label="chance (the positives' share)")
    pr.set_xlabel("recall")
    pr.set_ylabel("precision")
    for axes, name in ((roc, "ROC"), (pr, "precision-recall")):
        axes.set_title(f"{name}, positive class: {ranking['positive_class']['name']}", fontsize=9)
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1.02)
        axes.grid(alpha=0.3)
        axes.legend(loc="lower right" if axes is roc else "lower left", fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def reliability(path: Path, calibrated: dict, title: str) -> None:
    """A classifier's reliability diagram: each confidence bin's accuracy
    against its mean confidence (the diagonal is perfect calibration), the
    bins' share of the examples below."""
    plt = _pyplot()
    bins = calibrated["bins"]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(4.8, 5.6), sharex=True,
                                         gridspec_kw={"height_ratios": [3, 1]})
    centres = [(row["low"] + row["high"]) / 2 for row in bins]
    widths = [row["high"] - row["low"] for row in bins]
    top.bar(centres, [row["accuracy"] for row in bins], width=widths, edgecolor="black", alpha=0.7,
            label="accuracy in the bin")
    top.plot([row["confidence"] for row in bins], [row["accuracy"] for row in bins], "o", color="black",
             markersize=3, label="at the bin's mean confidence")
    top.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    top.set_ylabel("accuracy")
    top.set_ylim(0, 1)
    top.set_title(f"{title}\nexpected calibration error {calibrated['expected_calibration_error']:.4f}", fontsize=9)
    top.legend(loc="upper left", fontsize=7)
    total = sum(row["count"] for row in bins) or 1
    bottom.bar(centres, [row["count"] / total for row in bins], width=widths, edgecolor="black", alpha=0.7)
    bottom.set_xlabel("confidence (the top class's probability)")
    bottom.set_ylabel("share")
    bottom.set_xlim(0, 1)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


SCORES = "anomaly_scores.png"


def score_histograms(path: Path, scores: np.ndarray, abnormal: np.ndarray, cut: Optional[float], title: str) -> None:
    """An anomaly detector's test scores, normal and abnormal inputs apart
    (log-spaced bins: reconstruction errors span decades), and its threshold."""
    plt = _pyplot()
    scores, abnormal = np.asarray(scores, np.float64), np.asarray(abnormal, bool)
    positive = scores[scores > 0]
    low, high = (positive.min(), positive.max()) if len(positive) else (1e-6, 1.0)
    bins = np.geomspace(low, high * 1.0001, 60)
    figure, axes = plt.subplots(figsize=(6.4, 3.8))
    for chosen, name in ((~abnormal, "normal"), (abnormal, "abnormal")):
        axes.hist(np.clip(scores[chosen], low, None), bins=bins, alpha=0.6, label=f"{name} ({int(chosen.sum())})")
    if cut is not None:
        axes.axvline(cut, color="black", linestyle="--", label=f"threshold {cut:.4g}")
    axes.set_xscale("log")
    axes.set_xlabel("score (mean squared reconstruction error)")
    axes.set_ylabel("test inputs")
    axes.legend(fontsize=8)
    axes.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
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


ATTACKED = "attacked_examples.png"


def attacked_examples(path: Path, images: np.ndarray, attacked: np.ndarray, answers: dict, title: str) -> None:
    """Each image over its attacked copy and the change (pixels 0 to 255),
    captioned with the true class and the model's answer on each.

    Args:
        answers: ``truth``, ``clean`` and ``attacked``: class names per image.
    """
    plt = _pyplot()
    count = len(images)
    figure, axes = plt.subplots(3, count, figsize=(1.6 * count, 5.4), squeeze=False)
    change = attacked.astype(np.float32) - images.astype(np.float32)
    reach = max(float(np.abs(change).max()), 1.0)
    for column in range(count):
        shown = [(images[column], "gray", 0, 255, f"{answers['truth'][column]}\n→ {answers['clean'][column]}"),
                 (attacked[column], "gray", 0, 255, f"attacked → {answers['attacked'][column]}"),
                 (change[column], "coolwarm", -reach, reach, "change")]
        for row, (pixels, colours, low, high, caption) in enumerate(shown):
            axes[row, column].imshow(_as_picture(pixels, row < 2), cmap=colours, vmin=low, vmax=high)
            axes[row, column].set_title(caption, fontsize=7)
            axes[row, column].axis("off")
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


EXPLAINED = "grad_cam.png"


def explanations(path: Path, images: np.ndarray, maps: np.ndarray, captions: Sequence[str], title: str) -> None:
    """Each image (pixels 0 to 255) over its Grad-CAM map laid on it
    (``maps`` in [0, 1], red where the explained class's evidence is
    strongest), captioned with the class explained and its probability."""
    plt = _pyplot()
    count = len(images)
    width = max(1.9 * count, 3.2)
    # A fixed layout, not tight_layout: a run draws this figure, and tight_layout doubles its cost.
    figure, axes = plt.subplots(2, count, figsize=(width, 4.4), squeeze=False,
                                gridspec_kw={"left": 0.01, "right": 0.99, "bottom": 0.01, "top": 0.8, "wspace": 0.05,
                                             "hspace": 0.05})
    for column in range(count):
        picture = _as_picture(images[column], True)
        grey = picture if picture.ndim == 2 else None
        for row in range(2):
            axes[row, column].imshow(picture, cmap="gray" if grey is not None else None, vmin=0,
                                     vmax=255 if grey is not None else 1)
            axes[row, column].axis("off")
        axes[1, column].imshow(maps[column], cmap="jet", alpha=0.45, vmin=0, vmax=1)
        axes[0, column].set_title(captions[column], fontsize=7)
    figure.suptitle(title, fontsize=8)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def overlay_grid(images: np.ndarray, maps: np.ndarray, scale: int = 4) -> np.ndarray:
    """Each image (pixels 0 to 255) beside its map laid over it, in a row,
    as one RGB picture (uint8), each pixel ``scale`` times wider: the
    figure a run writes without pyplot's cost (a run draws it every time)."""
    import matplotlib

    colours = matplotlib.colormaps["jet"](np.clip(maps, 0, 1))[..., :3]
    pictures = np.clip(images.astype(np.float32) / 255.0, 0, 1)
    pictures = np.repeat(pictures, 3, axis=-1) if pictures.shape[-1] == 1 else pictures
    laid = 0.55 * pictures + 0.45 * colours
    gap = np.ones((pictures.shape[1], 2, 3))
    row = np.concatenate([part for image, over in zip(pictures, laid) for part in (image, over, gap)][:-1], axis=1)
    return (np.kron(row, np.ones((scale, scale, 1))) * 255).round().astype(np.uint8)


def _as_picture(pixels: np.ndarray, image: bool) -> np.ndarray:
    """One channel as it is; colour as RGB (0-255 to 0-1); a change's channels averaged."""
    if pixels.shape[-1] == 1:
        return pixels[..., 0]
    return np.clip(pixels / 255.0, 0, 1) if image else pixels.mean(axis=-1)


def _pyplot():
    """matplotlib's pyplot on the file-only backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
