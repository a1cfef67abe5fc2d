"""``kerasdl runs list | show | diff``: the run folders under a runs
directory, read and compared. Nothing here writes into a run folder; ``diff``
writes its plot where it is told (``--output``) or under ``<runs>/diffs/``.

A run folder is ``<runs>/<name>/<timestamp>/`` with its ``recipe.yaml``
(``runtime/runs.py`` creates it); its status is ``finished`` (it has
``metrics.json``), ``running`` (a process holds its lock) or ``unfinished``
(killed or failed: the same command resumes it) or ``unreadable`` (its
``metrics.json`` or ``history.csv`` is torn or foreign: listed, not read).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from pathlib import Path
from typing import Any, Optional

from kerasdl.errors import DataError, InputError
from kerasdl.evaluation import figures
from kerasdl.recipe.keys import flatten
from kerasdl.recipe.yaml_text import dump_yaml, parse_yaml
from kerasdl.runtime import runs

# Where `kerasdl runs diff` puts its plot by default, inside the runs directory.
DIFFS = "diffs"
# Keys of metrics.json's test section that a table leaves out (every Keras model has one).
UNLISTED = ("loss",)


@dataclasses.dataclass
class Run:
    """What a run folder says about its run.

    Attributes:
        folder: The run folder.
        name: The recipe's name (the folder's parent).
        started: When the folder was made (its name, else its time).
        status: ``finished``, ``running``, ``unfinished`` or ``unreadable``.
        epochs: Epochs in ``history.csv``.
        best_epoch: The epoch whose weights it kept, or None.
        test: The test scores of a finished run (``metrics.json``).
        scores: What the table shows: the test scores less the loss, or a
            GAN's quality.
        export: The export's folder, or None.
        train_seconds: Training time over every epoch (``history.csv``),
            across resumes.
        problem: Why the folder is ``unreadable``, or None.
    """

    folder: Path
    name: str
    started: datetime.datetime
    status: str
    epochs: int
    best_epoch: Optional[int]
    test: dict
    scores: dict
    export: Optional[str]
    train_seconds: Optional[float]
    problem: Optional[str] = None

    def as_dict(self) -> dict:
        row = dataclasses.asdict(self)
        row.update(folder=str(self.folder), started=self.started.isoformat(timespec="seconds"))
        return row


def read_run(folder: Path) -> Run:
    """The ``Run`` of one run folder; ``unreadable`` (with the ``problem``)
    when its ``metrics.json`` or ``history.csv`` is torn or not kerasdl's."""
    problem = None
    try:
        metrics = _metrics(folder / runs.METRICS)
        history = runs.read_history(folder)
    except DataError as error:
        metrics, history, problem = None, {}, str(error)
    if problem is not None:
        status = "unreadable"
    elif metrics is not None:
        status = "finished"
    else:
        status = "running" if runs.is_running(folder) else "unfinished"
    seconds = history.get(runs.SECONDS)
    test = (metrics or {}).get("test") or {}
    scores = {key: value for key, value in test.items() if key not in UNLISTED}
    quality = ((metrics or {}).get("gan") or {}).get("quality") or {}
    if not scores and isinstance(quality, dict) and "fid" in quality:
        scores = {"fid": quality["fid"]}
    return Run(
        folder=folder,
        name=folder.parent.name,
        started=_started(folder),
        status=status,
        epochs=len(history.get("epoch", [])),
        best_epoch=(metrics or {}).get("best_epoch"),
        test=test,
        scores=scores,
        export=(metrics or {}).get("export_path"),
        train_seconds=round(sum(seconds), 1) if seconds else (metrics or {}).get("train_seconds"),
        problem=problem,
    )


# The keys of metrics.json that runs list and diff read, and the types they need.
READ_KEYS = {"test": dict, "gan": dict, "best_epoch": (int, type(None)), "export_path": (str, type(None)),
             "train_seconds": (int, float, type(None))}


def _metrics(path: Path) -> Optional[dict]:
    """A run's ``metrics.json``, or None when there is none yet.

    Raises:
        DataError: naming the file, when it is not JSON or not of the
            shape kerasdl writes (a torn or a foreign file).
    """
    if not path.is_file():
        return None
    metrics = _json(path)
    problem = "is not JSON" if metrics is None else "is not a JSON object" if not isinstance(metrics, dict) else None
    for key, kind in READ_KEYS.items() if problem is None else ():
        if key in metrics and not isinstance(metrics[key], kind):
            problem = f"has a '{key}' of type {type(metrics[key]).__name__}"
    test = (metrics or {}).get("test") if problem is None else None
    if isinstance(test, dict) and not all(isinstance(value, (int, float)) for value in test.values()):
        problem = "has test scores that are not numbers"
    if problem is not None:
        raise DataError(f"{path}: {problem}; kerasdl did not write it as it is (a torn or foreign file).")
    return metrics


def list_runs(runs_dir: str, name: Optional[str] = None) -> list[Run]:
    """Every run folder under ``runs_dir`` (of recipe ``name`` alone, if
    given), newest first.

    Raises:
        InputError: when ``runs_dir`` is not a folder.
    """
    root = Path(runs_dir)
    if not root.is_dir():
        raise InputError(f"{runs_dir}: no such folder of runs. `kerasdl run` writes them to training.runs_dir (runs/).")
    folders = [
        folder for parent in sorted(root.iterdir()) if parent.is_dir() and (name is None or parent.name == name)
        for folder in parent.iterdir() if (folder / runs.RECIPE).is_file() and not folder.name.startswith(".")
    ]
    return sorted((read_run(folder) for folder in folders), key=lambda run: (run.started, str(run.folder)),
                  reverse=True)


def find_run(reference: str, runs_dir: str) -> Path:
    """The run folder ``reference`` names: a folder path, ``NAME/TIMESTAMP``
    under ``runs_dir``, or ``NAME`` (its newest finished run).

    Raises:
        InputError: naming what was looked for, and the runs there are.
    """
    given = Path(reference)
    for folder in (given, Path(runs_dir) / reference):
        if (folder / runs.RECIPE).is_file():
            return folder
    finished = [run for run in list_runs(runs_dir, reference) if run.status == "finished"] \
        if (Path(runs_dir) / reference).is_dir() else []
    if finished:
        return finished[0].folder
    names = sorted({run.name for run in list_runs(runs_dir)}) if Path(runs_dir).is_dir() else []
    raise InputError(
        f"{reference}: not a run folder, nor a recipe name with a finished run under {runs_dir}/. Give a run "
        f"folder ({runs_dir}/NAME/TIMESTAMP) or a name"
        + (f": {', '.join(names)}." if names else f"; {runs_dir}/ has no runs yet.")
    )


def show(folder: Path) -> dict:
    """A run's summary (``Run``), its resolved recipe and its metrics."""
    run = read_run(folder)
    return {**run.as_dict(), "recipe": _recipe(folder), "metrics": _json(folder / runs.METRICS)}


def show_lines(shown: dict) -> list[str]:
    """``show``'s result as text: status, epochs, test scores, export, recipe."""
    text = [
        f"Run: {shown['folder']} ({shown['status']}, started {shown['started'].replace('T', ' ')})",
        f"Epochs: {shown['epochs']}" + (f", best {shown['best_epoch']}" if shown["best_epoch"] else ""),
    ]
    scores = {**shown["test"], **shown["scores"]}  # A GAN's scores are its judge's (FID).
    if scores:
        text.append("Test: " + ", ".join(f"{key} {value:.4f}" for key, value in scores.items()
                                         if isinstance(value, (int, float))))
    if shown["export"]:
        text.append(f"Export: {shown['export']}")
    text.append("Recipe:")
    text.append("  " + dump_yaml(shown["recipe"]).rstrip().replace("\n", "\n  "))
    return text


# What recipe_differences gives for a key that one recipe does not have.
ABSENT = "(absent)"
# Mappings whose entries are compared whole: a search space's entry
# (`{type: int, min: 1, max: 2}`) is one value, named by its dotted key.
WHOLE_ENTRIES = ("tune.space.",)


def recipe_differences(first: dict, second: dict) -> list[tuple[str, Any, Any]]:
    """The dotted keys whose values differ between two resolved recipes,
    in order: ``(key, first's value, second's value)``; a key one recipe
    lacks has ``ABSENT`` there. Lists count as one value."""
    flat_first, flat_second = flatten(first, whole=WHOLE_ENTRIES), flatten(second, whole=WHOLE_ENTRIES)
    keys = list(dict.fromkeys([*flat_first, *flat_second]))
    return [
        (key, flat_first.get(key, ABSENT), flat_second.get(key, ABSENT)) for key in keys
        if key not in flat_first or key not in flat_second or flat_first[key] != flat_second[key]
    ]


def diff(first: Path, second: Path, output: Optional[Path] = None, runs_dir: str = "runs") -> dict:
    """What differs between two runs: their recipes' keys, their test scores
    side by side, and a PNG of both learning curves (at ``output``, or
    ``<runs_dir>/diffs/<first>_vs_<second>.png``)."""
    runs_compared = [read_run(first), read_run(second)]
    scores = list(dict.fromkeys([*runs_compared[0].test, *runs_compared[1].test]))
    path = output or Path(runs_dir) / DIFFS / _diff_file_name(first, second)
    plotted = figures.learning_curves([runs.read_history(first), runs.read_history(second)],
                                      [_label(first), _label(second)], path)
    return {
        "runs": [run.as_dict() for run in runs_compared],
        "recipe": [
            {"key": key, "first": a, "second": b} for key, a, b in recipe_differences(_recipe(first), _recipe(second))
        ],
        "test": {key: [run.test.get(key) for run in runs_compared] for key in scores},
        "plot": str(plotted) if plotted else None,
    }


def table(rows: list[Run]) -> str:
    """The runs as an aligned text table."""
    if not rows:
        return "(no runs)"
    headers = ["name", "started", "status", "epochs", "test", "export", "train time"]
    cells = [[
        run.name,
        run.started.strftime("%Y-%m-%d %H:%M"),
        run.status,
        str(run.epochs) + (f" (best {run.best_epoch})" if run.best_epoch else ""),
        ", ".join(f"{key} {value:.4f}" for key, value in run.scores.items() if isinstance(value, (int, float))),
        run.export or "",
        _duration(run.train_seconds),
    ] for run in rows]
    widths = [max(len(header), *(len(line[index]) for line in cells)) for index, header in enumerate(headers)]
    lines = ["  ".join(header.ljust(width) for header, width in zip(headers, widths))]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)) for line in cells]
    lines += [f"Unreadable: {run.problem}" for run in rows if run.problem]
    return "\n".join(line.rstrip() for line in lines)


def diff_table(compared: dict) -> str:
    """``diff``'s result as text: which run is A and B, the recipe keys that
    differ, then the test scores side by side."""
    first, second = (run["folder"] for run in compared["runs"])
    rows = [("recipe key", "A", "B")]
    rows += [(row["key"], _cell(row["first"]), _cell(row["second"])) for row in compared["recipe"]]
    if len(rows) == 1:
        rows.append(("(the resolved recipes are the same)", "", ""))
    rows.append(("", "", ""))
    rows += [(f"test {key}", *(_cell(value) for value in values)) for key, values in compared["test"].items()]
    widths = [max(len(row[index]) for row in rows) for index in range(3)]
    lines = [f"A: {first}", f"B: {second}"]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def diff_lines(compared: dict) -> list[str]:
    """``diff``'s result as text: the table, and where the plot went."""
    return [diff_table(compared)] + ([f"Learning curves: {compared['plot']}"] if compared["plot"] else [])


def _cell(value: Any) -> str:
    """A value as one table cell: numbers to 4 decimals, lists and mappings in
    JSON (YAML's flow style), null as ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def _started(folder: Path) -> datetime.datetime:
    """When a run started: its folder's name (``20261126-180441``, maybe with
    ``-N``), or the folder's time for a name of another form."""
    try:
        return datetime.datetime.strptime(folder.name[:15], "%Y%m%d-%H%M%S")
    except ValueError:
        return datetime.datetime.fromtimestamp(folder.stat().st_mtime)


def _diff_file_name(first: Path, second: Path) -> str:
    """``<first>_vs_<second>.png``, its labels cut (and told apart by a hash
    of both folders) where the name would pass a file system's 255 bytes."""
    name = f"{_label(first)}_vs_{_label(second)}.png"
    if len(name.encode()) <= MAX_NAME:
        return name
    import hashlib

    digest = hashlib.sha256(f"{first.resolve()}\0{second.resolve()}".encode()).hexdigest()[:12]
    return f"{_label(first)[:60]}_vs_{_label(second)[:60]}-{digest}.png"


# The longest file name kerasdl makes (file systems allow 255 bytes).
MAX_NAME = 200


def _label(folder: Path) -> str:
    return f"{folder.parent.name}-{folder.name}"


def _json(path: Path) -> Optional[dict]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _recipe(folder: Path) -> dict:
    """A run folder's resolved recipe (flat: no base is followed)."""
    try:
        values = parse_yaml((folder / runs.RECIPE).read_text(encoding="utf-8"), str(folder / runs.RECIPE))
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{folder / runs.RECIPE}: cannot be read ({error}).") from None
    return values if isinstance(values, dict) else {}

