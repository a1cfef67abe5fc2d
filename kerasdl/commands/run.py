"""``kerasdl run``: a recipe read with its ``--set`` overrides, then shown
(``--dry-run``) or run by the run loop (``tasks/loop.py``), and its summary
as lines."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from kerasdl.recipe.resolve import Recipe, load_recipe
from kerasdl.tasks import loop


def load(path: str, overrides: Sequence[str], fresh: bool = False) -> Recipe:
    """The resolved recipe; ``fresh`` starts a new run rather than resume one."""
    return load_recipe(path, list(overrides) + (["training.resume=false"] if fresh else []))


def dry_run(recipe: Recipe, log: Callable[[str], None]) -> None:
    """Shows what a run would do, the model built and compiled; trains and writes nothing."""
    prepared = loop.prepared(recipe, pretrain=False, log=log)
    _warn_of_tune_section(recipe, log)
    log(recipe.to_yaml())
    prepared.model.summary(print_fn=lambda line, **_: log(line))
    log(f"Data: {prepared.data.source}: {prepared.train_examples} training examples, "
        f"{prepared.steps_per_epoch} steps per epoch. Dry run: nothing trained or written.")


def run(recipe: Recipe, verbose: Any, log: Callable[[str], None]) -> dict:
    """Trains, evaluates and exports (``loop.run``); returns the summary."""
    return loop.run(recipe, verbose=verbose, log=log, before=lambda: _warn_of_tune_section(recipe, log))


def lines(summary: dict) -> list[str]:
    """The summary as text: test scores, the run folder, the files the task
    wrote beside, the export."""
    text = []
    if summary["test"]:
        text.append("Test: " + ", ".join(f"{key} {value:.4f}" for key, value in summary["test"].items()))
    text.append(f"Run folder: {summary['run_dir']}")
    for key, value in summary[summary["task"]].items():
        if isinstance(value, str):
            text.append(f"{key.replace('_', ' ').capitalize()}: {value}")
    if summary["export_path"]:
        text.append(f"SavedModel: {summary['export_path']} (reloaded and verified)")
    return text


def _warn_of_tune_section(recipe: Recipe, log: Callable[[str], None]) -> None:
    if recipe.values.get("tune") is None:
        return  # Keras Tuner is not imported for nothing.
    from kerasdl.tune.settings import ignored_section_warning

    warning = ignored_section_warning(recipe)
    if warning:
        log(warning)
