"""Run folders: ``<runs_dir>/<name>/<timestamp>/`` and what goes in them.

A run folder holds ``recipe.yaml`` (resolved), ``history.csv``, ``logs/``
(TensorBoard), ``backup/`` while training (for resume), and at the end
``metrics.json``, ``learning_curve.png``, and for a classifier or
forecaster the trained ``model.keras`` with ``class_names.txt`` (what
``kerasdl evaluate``, ``predict`` and ``export`` take). A folder with ``recipe.yaml``
and no ``metrics.json`` is an unfinished run that the same recipe resumes.

Only the chief of a multi-worker run writes here; the other workers write
to a scratch folder that is deleted when they finish (``workspace``).
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from kerasdl.errors import DataError

RECIPE = "recipe.yaml"
METRICS = "metrics.json"
HISTORY = "history.csv"
CURVE = "learning_curve.png"
BACKUP = "backup"
MODEL = "model.keras"
LOGS = "logs"
CACHE = "cache"  # data.cache: disk, while the run trains


def find_unfinished(runs_dir: str, name: str, recipe_yaml: str) -> Optional[Path]:
    """The newest unfinished run of exactly this resolved recipe, if any."""
    parent = Path(runs_dir) / name
    if not parent.is_dir():
        return None
    for folder in sorted(parent.iterdir(), reverse=True):
        recipe = folder / RECIPE
        if (
            recipe.is_file()
            and not (folder / METRICS).exists()
            and (folder / BACKUP).is_dir()
            and recipe.read_text() == recipe_yaml
        ):
            return folder
    return None


@contextlib.contextmanager
def workspace(
    recipe: Any, chief: bool, log: Callable[[str], None], resume: bool = True,
) -> Iterator[tuple[Path, Optional[int]]]:
    """The folder a run writes to, and the epoch it resumes after (or None).

    The chief (and a single process) gets the run folder: the unfinished
    run of the same resolved recipe when ``training.resume`` is on, else a
    new one (always new with ``resume`` off); a new one is removed again
    when a ``DataError`` stops it before it finished an epoch. Any other worker of a multi-worker run gets a scratch folder,
    deleted afterwards; it resumes from the chief's checkpoint when it sees
    the chief's run folder (a runs_dir on a shared filesystem), as every
    worker must start from the same epoch.
    """
    training, recipe_yaml = recipe["training"], recipe.to_yaml()
    resume = resume and training["resume"]
    unfinished = find_unfinished(training["runs_dir"], recipe.name, recipe_yaml) if resume else None
    resumed_from = checkpointed_epoch(unfinished) if unfinished is not None else None
    if chief:
        if unfinished is not None:
            log(f"Resuming unfinished run {unfinished} after epoch {resumed_from}.")
            yield unfinished, resumed_from
        else:
            folder = create(training["runs_dir"], recipe.name, recipe_yaml)
            log(f"Run folder: {folder}")
            try:
                yield folder, None
            except DataError:
                # Bad data found while reading it: a new run that finished no
                # epoch holds nothing worth keeping (nor resuming).
                if checkpointed_epoch(folder) == 0:
                    shutil.rmtree(folder, ignore_errors=True)
                    with contextlib.suppress(OSError):  # Its recipe's folder too, if it was the only run.
                        folder.parent.rmdir()
                raise
        return
    scratch = Path(tempfile.mkdtemp(prefix="kerasdl-worker-"))
    try:
        folder = scratch / "run"
        folder.mkdir()
        if unfinished is not None:
            shutil.copytree(unfinished / BACKUP, folder / BACKUP)
            log(f"Resuming with the chief's checkpoint {unfinished} after epoch {resumed_from}.")
        log(f"Worker: writes only to the scratch folder {folder} (the chief writes the run and the export).")
        yield folder, resumed_from
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def checkpointed_epoch(folder: Path) -> int:
    """The epochs an unfinished run's checkpoint holds (BackupAndRestore's
    metadata), which is where it resumes; its history as a fallback."""
    metadata = folder / BACKUP / "training_metadata.json"
    try:
        return int(json.loads(metadata.read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return len(read_history(folder).get("epoch", []))


def create(runs_dir: str, name: str, recipe_yaml: str) -> Path:
    """Makes a new, never reused run folder and writes the resolved recipe."""
    parent = Path(runs_dir) / name
    parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    for attempt in range(1000):
        folder = parent / (stamp if attempt == 0 else f"{stamp}-{attempt}")
        try:
            folder.mkdir()
            break
        except FileExistsError:
            continue
    (folder / RECIPE).write_text(recipe_yaml)
    return folder


def write_text_atomically(path: Path, text: str) -> None:
    """Writes a file whole or not at all (a kill leaves the old one)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def write_json_atomically(path: Path, content: dict) -> None:
    write_text_atomically(path, json.dumps(content, indent=2) + "\n")


def write_folder_atomically(folder: Path, write: Callable[[Path], None]) -> None:
    """Runs ``write(staging)`` into a hidden folder beside ``folder``, then
    renames it to ``folder``: a kill never leaves half a folder.

    Raises:
        OSError: when ``folder`` exists and is not empty (an empty one is
            replaced), or what ``write`` raised; nothing is left behind.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{folder.name}-", dir=folder.parent))
    try:
        write(staging)
        os.rename(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def save_model(folder: Path, model: Any, assets: dict[str, str]) -> None:
    """Saves the trained model as ``model.keras`` (written under another
    name, then renamed: never half a file) and ``assets`` (file name ->
    text) beside it."""
    temporary = folder / f".{MODEL}.tmp.keras"
    model.save(temporary)
    temporary.replace(folder / MODEL)
    for name, text in assets.items():
        write_text_atomically(folder / name, text)


def read_history(folder: Path) -> dict[str, list[float]]:
    """The per-epoch history that CSVLogger wrote (across resumes)."""
    path = folder / HISTORY
    if not path.is_file():
        return {}
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if rows and "epoch" in rows[0]:
        # An epoch redone after a kill between its row and its checkpoint
        # has two rows: the later one is the epoch that counted.
        rows = list({row["epoch"]: row for row in rows}.values())
    keys = rows[0].keys() if rows else []
    # CSVLogger writes "NA" in the val_ columns of a run without validation.
    history = {key: [float(row[key]) for row in rows if row[key] not in ("", "NA")] for key in keys}
    return {key: values for key, values in history.items() if values or not rows}


def plot_learning_curves(folder: Path) -> Optional[Path]:
    """Writes loss and metric curves (train and validation) to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = read_history(folder)
    metrics = [key for key in history if key not in ("epoch", "learning_rate") and not key.startswith("val_")]
    if not metrics:
        return None
    epochs = [int(e) + 1 for e in history.get("epoch", range(len(history[metrics[0]])))]
    figure, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5), squeeze=False)
    for axis, metric in zip(axes[0], metrics):
        axis.plot(epochs, history[metric], marker="o", label="train")
        if f"val_{metric}" in history:
            axis.plot(epochs, history[f"val_{metric}"], marker="o", label="validation")
        axis.set_xlabel("epoch")
        axis.set_title(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    path = folder / CURVE
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
