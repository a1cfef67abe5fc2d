"""Run folders: ``<runs_dir>/<name>/<timestamp>/`` and what goes in them.

A run folder holds ``recipe.yaml`` (resolved), ``history.csv``, ``logs/``
(TensorBoard), and until the run is done ``backup/`` (the checkpoint),
``trained.weights.h5`` (the trained model) and ``progress.json`` (the
stages done), for resume; at the end ``metrics.json``,
``learning_curve.png``, and for a classifier or forecaster the trained
``model.keras`` with ``class_names.txt`` (what ``kerasdl evaluate``,
``predict`` and ``export`` take). A folder with ``recipe.yaml`` and no
``metrics.json`` is an unfinished run that the same recipe resumes.

One process owns a run folder at a time: it holds an OS lock on
``.lock`` for the run's life (released by the OS however the process
ends), and another command on the same recipe is refused (``RunBusy``).

Only the chief of a multi-worker run writes here; the other workers write
to a scratch folder that is deleted when they finish (``workspace``).
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import fcntl
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from kerasdl.errors import DataError, InputError, RecipeError, RunBusy
from kerasdl.runtime import atomic, faults

RECIPE = "recipe.yaml"
METRICS = "metrics.json"
HISTORY = "history.csv"
CURVE = "learning_curve.png"
BACKUP = "backup"
MODEL = "model.keras"
LOGS = "logs"
CACHE = "cache"  # data.cache: disk, while the run trains
TRAINED = "trained.weights.h5"  # The trained model's weights, until the run is done.
PROGRESS = "progress.json"  # The stages done (runtime/progress.py), until the run is done.
LOCK = ".lock"
SECONDS = "seconds"  # The history column of each epoch's training time.


def find_unfinished(runs_dir: str, name: str, recipe_yaml: str) -> Optional[Path]:
    """The newest unfinished run of exactly this resolved recipe, if any
    (one killed before its first epoch ended too: it starts again in the
    same folder rather than leave an orphan)."""
    return _newest(runs_dir, name, recipe_yaml, finished=False)


def find_finished(runs_dir: str, name: str, recipe_yaml: str) -> Optional[Path]:
    """The newest finished run of exactly this resolved recipe, if any
    (what ``kerasdl compare`` reuses rather than train again)."""
    return _newest(runs_dir, name, recipe_yaml, finished=True)


def _newest(runs_dir: str, name: str, recipe_yaml: str, finished: bool) -> Optional[Path]:
    parent = Path(runs_dir) / name
    if not parent.is_dir():
        return None
    for folder in sorted(parent.iterdir(), reverse=True):
        recipe = folder / RECIPE
        if (
            recipe.is_file()
            and (folder / METRICS).exists() == finished
            and _read_or_none(recipe) == recipe_yaml
        ):
            return folder
    return None


def _read_or_none(path: Path) -> Optional[str]:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


class Lock:
    """An exclusive OS lock on a run folder's ``.lock`` (``flock``): held
    until ``release`` or the process ends, however it ends, so a lock left
    by a killed process is free again. The file says who holds it."""

    def __init__(self, folder: Path):
        self.path = folder / LOCK
        self.handle = open(self.path, "a+")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.seek(0)
            holder = self.handle.read().strip() or "another process"
            self.handle.close()
            raise RunBusy(
                f"{folder}: this run is in progress in {holder}; two commands must not train in one folder. "
                "Wait for it to finish (rerun then to resume it if it stops), or start a separate run "
                "with --fresh."
            ) from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(f"process {os.getpid()} since {datetime.datetime.now():%Y-%m-%d %H:%M:%S}\n")
        self.handle.flush()

    def release(self) -> None:
        if not self.handle.closed:
            self.handle.close()  # Closing releases the flock.


def is_running(folder: Path) -> bool:
    """Whether a process holds the run folder's ``Lock``, asked without
    taking it (a probe that took the lock, even for an instant, could make
    a run starting at that instant exit as busy): Linux lists every held
    flock in /proc/locks by inode; elsewhere, whether the process the lock
    file names is alive."""
    path = folder / LOCK
    try:
        inode = path.stat().st_ino
    except OSError:
        return False
    try:
        with open("/proc/locks") as locks:
            return any(
                line.split()[1] == "FLOCK" and line.split()[5].rsplit(":", 1)[-1] == str(inode)
                for line in locks if len(line.split()) > 5
            )
    except OSError:
        pid = re.match(r"process (\d+)", _read_or_none(path) or "")
        return bool(pid) and atomic.alive(int(pid.group(1)))


@contextlib.contextmanager
def workspace(
    recipe: Any, chief: bool, log: Callable[[str], None], resume: bool = True,
) -> Iterator[tuple[Path, Optional[int]]]:
    """The folder a run writes to, and the epoch it resumes after (or None).

    The chief (and a single process) gets the run folder, locked for the
    run's life (``Lock``: a run live in another process is refused): the
    unfinished run of the same resolved recipe when ``training.resume`` is
    on, else a new one (always new with ``resume`` off). A folder that a
    ``DataError`` stops before it finished an epoch holds nothing worth
    keeping and is removed. Any other worker of a multi-worker run gets a
    scratch folder, deleted afterwards; it resumes from the chief's
    checkpoint when it sees the chief's run folder (a runs_dir on a shared
    filesystem), as every worker must start from the same epoch.
    """
    training, recipe_yaml = recipe["training"], recipe.to_yaml()
    resume = resume and training["resume"]
    unfinished = find_unfinished(training["runs_dir"], recipe.name, recipe_yaml) if resume else None
    resumed_from = checkpointed_epoch(unfinished) if unfinished is not None else None
    if chief:
        if unfinished is not None:
            folder, lock = unfinished, Lock(unfinished)  # Before anything is read: a live run is refused.
            log(f"Resuming unfinished run {unfinished} {_resume_point(unfinished, resumed_from)}.")
            if not (unfinished / PROGRESS).exists():  # Training goes on from the checkpoint's epoch.
                checkpointed = any((unfinished / BACKUP).glob("**/training_metadata.json*"))
                epochs = checkpoint_epochs(unfinished) if checkpointed else 0
                if epochs is not None:  # (Unreadable metadata: the checkpoint's own message follows.)
                    trim_history(unfinished, epochs)
        else:
            made = [path for path in (Path(training["runs_dir"]), Path(training["runs_dir"]) / recipe.name)
                    if not path.exists()]
            folder, lock = create(training["runs_dir"], recipe.name, recipe_yaml)
            log(f"Run folder: {folder}")
        try:
            yield folder, resumed_from
        except (DataError, RecipeError, InputError):
            # Bad input found while reading the data: a run that finished no
            # epoch holds nothing worth keeping (nor resuming).
            if checkpointed_epoch(folder) == 0 and not (folder / PROGRESS).exists():
                shutil.rmtree(folder, ignore_errors=True)
                for parent in (folder.parent, *reversed(made if unfinished is None else [])):
                    with contextlib.suppress(OSError):  # The folders it made for it, if left empty.
                        parent.rmdir()
            raise
        finally:
            lock.release()
        return
    scratch = Path(tempfile.mkdtemp(prefix="kerasdl-worker-"))
    try:
        folder = scratch / "run"
        folder.mkdir()
        if unfinished is not None and (unfinished / BACKUP).is_dir():
            shutil.copytree(unfinished / BACKUP, folder / BACKUP)
            log(f"Resuming with the chief's checkpoint {unfinished} after epoch {resumed_from}.")
        log(f"Worker: writes only to the scratch folder {folder} (the chief writes the run and the export).")
        yield folder, resumed_from
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _resume_point(folder: Path, epoch: Optional[int]) -> str:
    if (folder / PROGRESS).is_file():
        return "with its training done: it goes on where it stopped"
    return f"after epoch {epoch}"


def finish(folder: Path) -> None:
    """Removes what only a resume needs, once ``metrics.json`` is written."""
    shutil.rmtree(folder / BACKUP, ignore_errors=True)
    for name in (TRAINED, PROGRESS, LOCK):  # The lock is held until the process ends: no one resumes a done run.
        (folder / name).unlink(missing_ok=True)


def checkpointed_epoch(folder: Path) -> int:
    """The epochs an unfinished run's checkpoint holds (its
    metadata), which is where it resumes; its history as a fallback."""
    epochs = checkpoint_epochs(folder)
    return epochs if epochs is not None else len(read_history(folder).get("epoch", []))


def checkpoint_epochs(folder: Path) -> Optional[int]:
    """The epochs the run's checkpoint holds, or None without a readable one
    (a second training phase checkpoints in a folder inside: transfer's
    ``fine_tune/``)."""
    epochs = []
    # The previous epoch's metadata too: the checkpoint falls back to it when the latest does not load.
    for metadata in sorted((folder / BACKUP).glob("**/training_metadata.json*")):
        try:
            epochs.append(int(json.loads(metadata.read_text())["epoch"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return max(epochs) if epochs else None


def trim_history(folder: Path, epochs: int) -> None:
    """Drops the history rows of epochs past the checkpoint's ``epochs``: a
    kill between an epoch's row and its checkpoint redoes the epoch, which
    then has one row, not two. A last row without its line end (a kill in
    its write: ``1`` of ``12,0.53,...``) goes too, so the rows the resumed
    run appends start on a line of their own."""
    path = folder / HISTORY
    if not path.is_file():
        return
    text = path.read_text(errors="replace")
    whole = _whole_rows(text)
    kept = whole[:1] + [line for line in whole[1:] if not line.split(",", 1)[0].isdigit()
                        or int(line.split(",", 1)[0]) < epochs]
    if "".join(kept) != text:
        atomic.write_text(path, "".join(kept))


def create(runs_dir: str, name: str, recipe_yaml: str) -> tuple[Path, Lock]:
    """Makes a new, never reused run folder, locks it, and writes the
    resolved recipe (after the lock: no other command takes a folder
    whose lock it could not see)."""
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
    lock = Lock(folder)
    atomic.write_text(folder / RECIPE, recipe_yaml)
    return folder, lock


def save_model(folder: Path, model: Any, assets: dict[str, str]) -> None:
    """Saves the trained model as ``model.keras`` (written under another
    name, then renamed: never half a file) and ``assets`` (file name ->
    text) beside it."""
    temporary = folder / f".{MODEL}.tmp.keras"
    model.save(temporary)
    faults.point("save")
    temporary.replace(folder / MODEL)
    for name, text in assets.items():
        atomic.write_text(folder / name, text)


def read_history(folder: Path) -> dict[str, list[float]]:
    """The per-epoch history that CSVLogger wrote (across resumes).

    A last row without its line end was torn by a kill and is left out
    (the epoch is redone on resume).

    Raises:
        DataError: naming the file and line, for a row that is not numbers
            (a file kerasdl did not write).
    """
    path = folder / HISTORY
    if not path.is_file():
        return {}
    lines = _whole_rows(path.read_text(errors="replace"))
    rows = list(csv.DictReader(lines))
    for number, row in enumerate(rows, start=2):
        if None in row or any(value is None or not _is_number(value) for value in row.values()):
            raise DataError(
                f"{path}: line {number} is not a row of numbers under the header ({lines[0].strip()}). "
                "kerasdl writes this file: restore it, or start the run over with --fresh."
            )
    if rows and "epoch" in rows[0]:
        # An epoch redone after a kill between its row and its checkpoint
        # has two rows: the later one is the epoch that counted.
        rows = list({row["epoch"]: row for row in rows}.values())
    keys = rows[0].keys() if rows else []
    # CSVLogger writes "NA" in the val_ columns of a run without validation.
    history = {key: [float(row[key]) for row in rows if row[key] not in ("", "NA")] for key in keys}
    return {key: values for key, values in history.items() if values or not rows}


def _whole_rows(text: str) -> list[str]:
    """A history's lines with their line ends, less a last one a kill tore
    (written without its line end)."""
    lines = text.splitlines(keepends=True)
    return lines if not lines or lines[-1].endswith("\n") else lines[:-1]


def _is_number(value: str) -> bool:
    if value in ("", "NA"):
        return True
    try:
        float(value)
    except ValueError:
        return False
    return True


def keep_trained(folder: Path, model: Any) -> None:
    """Writes the trained model's weights (``trained.weights.h5``, whole or
    not at all): what a run killed after training resumes with."""
    temporary = folder / f".{TRAINED}.tmp.weights.h5"  # Keras wants the suffix.
    model.save_weights(str(temporary), overwrite=True)
    os.replace(temporary, folder / TRAINED)


def load_trained(folder: Path, model: Any) -> None:
    """Loads ``keep_trained``'s weights into the (built) model.

    Raises:
        DataError: naming the file and ``--fresh`` when it does not load.
    """
    path = folder / TRAINED
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built:
        optimizer.build(model.trainable_variables)  # Its saved state loads into variables that exist.
    try:
        model.load_weights(str(path))
    except (OSError, ValueError, KeyError) as error:
        raise DataError(
            f"{path}: the trained model of this unfinished run cannot be read ({error}). "
            "Start a new run with --fresh (and delete the unfinished run's folder)."
        ) from None
