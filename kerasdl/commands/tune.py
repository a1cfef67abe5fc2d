"""``kerasdl tune``: a recipe's tune section checked, then searched
(``tune/search.py``) in this process and the fresh ones that continue it
(``tune/processes.py``), and the search's summary as lines."""

from __future__ import annotations

from typing import Callable, Optional, Sequence

from kerasdl.recipe.resolve import load_recipe
from kerasdl.runtime import preflight
from kerasdl.tune import processes, results, search, tuners
from kerasdl.tune.settings import load_settings


def tune(
    path: str, overrides: Sequence[str], *, algorithm: Optional[str] = None, max_trials: Optional[int] = None,
    overwrite: bool = False, export_best: bool = False, trials_per_process: Optional[int] = None,
    time_budget: Optional[float] = None, distributed: tuple = (None, None, None), verbose: int = 1,
    log: Callable[[str], None] = print,
) -> dict:
    """Runs, resumes or joins the search; every ``trials_per_process``
    trials this process is replaced by a fresh one that goes on.

    Args:
        distributed: ``(tuner_id, oracle_ip, oracle_port)`` of a search
            shared by several processes; all None for one of its own.
    """
    processes.join(*distributed)
    given = list(overrides)
    given += [f"tune.algorithm={algorithm}"] if algorithm else []
    given += [f"tune.max_trials={max_trials}"] if max_trials else []
    settings = load_settings(load_recipe(path, given))
    preflight.writable_folder(settings.directory, "tune.directory", settings.recipe.path)
    continuing, deadline = processes.start(time_budget)
    try:
        return search.search(
            settings, overwrite=overwrite and not continuing, export_best=export_best,
            trials_per_process=trials_per_process, deadline=deadline, verbose=verbose, log=log,
        )
    except tuners.Recycle as pause:
        processes.continue_in_fresh_process(str(pause), log)


def lines(summary: dict) -> list[str]:
    """The summary as text: a worker's trials, or the chief's table, best
    trial, files and retrained export."""
    if summary["role"] == "worker":
        return [f"Worker {summary['tuner_id']} ran trials: {', '.join(summary['trials_run']) or 'none'}."]
    best = summary["best"]
    text = [
        results.table(summary),
        f"Best: trial {best['trial']}, {summary['objective']['name']} {best['score']:.4f}",
        f"Trials: {summary['trials_csv']}",
        f"Best recipe: {summary['best_recipe']} (run it with: kerasdl run {summary['best_recipe']})",
    ]
    if summary["export"]:
        export = summary["export"]
        metrics = ", ".join(f"{key} {value:.4f}" for key, value in export["test"].items())
        text.append(f"Retrained best recipe: test {metrics}; SavedModel: {export['export_path']}")
    return text
