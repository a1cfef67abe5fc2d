"""A search's results: trials.csv, best_recipe.yaml and the trials table."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from kerasdl.errors import TuningError
from kerasdl.recipe.yaml_text import dump_yaml
from kerasdl.runtime import atomic, runs, summaries
from kerasdl.tune.settings import Settings
from kerasdl.tune.space import label
from kerasdl.tune.tuners import TRIAL_RECORD, role, trial_error

TRIALS = "trials.csv"
BEST = "best_recipe.yaml"
LOGS = "logs"  # TensorBoard: the HParams dashboard of the search.


def recorded_trials(project: Path) -> list[str]:
    """Ids of the trials that wrote a record here, in order (what a worker sees)."""
    ids = (path.parent.name.removeprefix("trial_") for path in project.glob(f"trial_*/{TRIAL_RECORD}"))
    return sorted(ids, key=int)


def _rows(settings: Settings, project: Path, tuner_trials: dict) -> list[dict]:
    """One row per trial: id, status, objective, values, worker, time,
    memory, and a failed trial's error (the last line of its traceback)."""
    rows = []
    for trial_id in sorted(tuner_trials, key=int):
        trial = tuner_trials[trial_id]
        values = settings.space.assignments(trial.hyperparameters)
        row = {"trial": trial_id, "status": trial.status, settings.objective: trial.score}
        row.update({key: values.get(key) for key in settings.space.keys})
        if settings.algorithm == "hyperband":
            row["epochs"] = trial.hyperparameters.values.get("tuner/epochs")
        row.update(record(project, trial_id))
        row["error"] = trial_error(trial) if trial.status != "COMPLETED" else None
        rows.append(row)
    return rows


def record(project: Path, trial_id: str) -> dict:
    path = project / f"trial_{trial_id}" / TRIAL_RECORD
    record = json.loads(path.read_text()) if path.is_file() else {}
    return {key: record.get(key) for key in ("worker", "process", "seconds", "rss_mib", "peak_rss_mib")}


def results(settings: Settings, trials: dict, best: list) -> dict:
    """Writes trials.csv and best_recipe.yaml; returns the summary."""
    project = settings.project
    rows = _rows(settings, project, trials)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["trial"])
    writer.writeheader()
    writer.writerows({key: dump_cell(value) for key, value in row.items()} for row in rows)
    atomic.write_text(project / TRIALS, buffer.getvalue())
    write_hparams(settings, project, trials)
    best = [trial for trial in best if trial.status == "COMPLETED"]  # Keras Tuner pads with failed ones.
    if not best:
        raise TuningError(
            f"No trial of {project} completed, so there is no best recipe. Each failed trial's "
            f"traceback is in {project}/trial_*/trial.json under 'message'."
        )
    trial = best[0]
    assignments = settings.space.assignments(trial.hyperparameters)
    if "tuner/epochs" in trial.hyperparameters.values:
        assignments["training.epochs"] = trial.hyperparameters.values["tuner/epochs"]
    recipe = settings.recipe.with_values(assignments)
    values = {key: value for key, value in recipe.values.items() if key != "tune"}
    searched = ", ".join(f"{key}={label(value)}" for key, value in assignments.items())
    header = (
        f"# Best trial of `kerasdl tune {settings.recipe.path}`: trial {trial.trial_id}, "
        f"{settings.objective} {trial.score:.4f} ({settings.direction} over {len(rows)} trials).\n"
        f"# Its values: {searched}\n"
        f"# Train and export it: kerasdl run {project / BEST}\n"
    )
    atomic.write_text(project / BEST, header + dump_yaml(values))
    return {
        "name": settings.recipe.name,
        "role": role() or "single",
        "project_dir": str(project),
        "algorithm": settings.algorithm,
        "objective": {"name": settings.objective, "direction": settings.direction},
        "trials": rows,
        "best": {"trial": trial.trial_id, "score": trial.score, "values": assignments},
        "best_recipe": str(project / BEST),
        "trials_csv": str(project / TRIALS),
        "export": None,
    }


def write_hparams(settings: Settings, project: Path, tuner_trials: dict) -> None:
    """The search in TensorBoard's HParams dashboard (``<project>/logs``,
    rewritten whole): a column per searched key, the objective's score,
    and each trial's curves from its history.csv."""
    trials, taken = [], {key: [] for key in settings.space.keys}
    for trial_id in sorted(tuner_trials, key=int):
        trial = tuner_trials[trial_id]
        values = settings.space.assignments(trial.hyperparameters)
        for key, value in values.items():
            taken.setdefault(key, []).append(value)
        history = runs.read_history(project / f"trial_{trial_id}")
        trials.append({
            "trial": trial_id, "values": values, "score": trial.score if trial.status == "COMPLETED" else None,
            "history": {key: series for key, series in history.items() if key not in ("epoch", runs.SECONDS)},
        })
    summaries.hparams(project / LOGS, {key: values for key, values in taken.items() if values},
                      settings.objective, trials)


def dump_cell(value: Any) -> Any:
    """A trial value as one CSV/table cell: lists and nulls spelled in YAML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict)) or value is None:
        return label(value) if value is not None else ""
    return value


def table(summary: dict) -> str:
    """The trials as an aligned text table, short column names."""
    rows = summary["trials"]
    if not rows:
        return "(no trials)"
    columns = [key for key in rows[0] if key not in ("process", "rss_mib", "peak_rss_mib")]
    headers = _short_names(columns)
    cells = [[_clip(str(dump_cell(row.get(key)))) for key in columns] for row in rows]
    widths = [max(len(header), *(len(line[i]) for line in cells)) for i, header in enumerate(headers)]
    lines = ["  ".join(header.ljust(width) for header, width in zip(headers, widths))]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)) for line in cells]
    return "\n".join(line.rstrip() for line in lines)


def _clip(cell: str, width: int = 60) -> str:
    """A cell no wider than ``width`` (a failed trial's error; trials.csv has it whole)."""
    return cell if len(cell) <= width else cell[:width - 3] + "..."


def _short_names(keys: list[str]) -> list[str]:
    """The shortest dotted suffix of each key that no other key shares."""
    names = []
    for key in keys:
        parts = key.split(".")
        for size in range(1, len(parts) + 1):
            suffix = ".".join(parts[-size:])
            if sum(other == suffix or other.endswith("." + suffix) for other in keys) == 1:
                break
        names.append(suffix)
    return names
