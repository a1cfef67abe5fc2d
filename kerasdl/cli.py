"""The ``kerasdl`` command line. Each command parses, calls the library, prints.

TensorFlow is imported only inside commands that need it, so ``kerasdl
--help`` answers at once.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable

import click

from kerasdl import __version__


class BadInput(click.ClickException):
    """A recipe or data problem: message, no traceback, exit code 2."""

    exit_code = 2


def _quiet_tensorflow() -> None:
    # TensorFlow's C++ start-up chatter (CUDA probes, oneDNN notes) hides
    # the messages that matter; users can still set the variable themselves.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _call(function: Callable[[], Any]) -> Any:
    """Runs library code, turning kerasdl's own errors into clean exits."""
    from kerasdl.errors import DataError, ExportError, RecipeError, RegistryError

    try:
        return function()
    except (RecipeError, RegistryError) as error:
        raise BadInput(str(error)) from None
    except (DataError, ExportError) as error:
        raise click.ClickException(str(error)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kerasdl")
def main() -> None:
    """Turn a YAML recipe into a trained, evaluated and exported Keras model.

    Example: kerasdl run recipes/cnn.yaml --set training.epochs=3
    """


@main.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe key, e.g. --set training.epochs=3 (repeatable; values are YAML).")
@click.option("--dry-run", is_flag=True, help="Validate, print the resolved recipe and the model summary; train nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the results at the end.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--fresh", is_flag=True, help="Start a new run even if an unfinished one of this recipe exists.")
def run(recipe: str, overrides: tuple, dry_run: bool, as_json: bool, quiet: bool, fresh: bool) -> None:
    """Train, evaluate and export the model a RECIPE describes.

    Writes a run folder (runs/<name>/<timestamp>/) and a verified SavedModel
    (saved_models/<name>/<version>/). Run the same command again after an
    interruption and it resumes from the last finished epoch.

    Example: kerasdl run recipes/cnn.yaml --set training.epochs=3 --set model.dropout_rate=0.3
    """
    _quiet_tensorflow()
    from kerasdl.recipe import load_recipe

    settings = list(overrides) + (["training.resume=false"] if fresh else [])
    resolved = _call(lambda: load_recipe(recipe, settings))
    # Messages go to stderr when stdout carries the JSON result.
    echo = (lambda text: click.echo(text, err=True)) if as_json else click.echo
    if dry_run:
        from kerasdl import training

        prepared = _call(lambda: training.dry_run(resolved))
        echo(resolved.to_yaml())
        prepared.model.summary(print_fn=lambda line, **_: echo(line))
        echo(f"Data: {prepared.data.source}: {prepared.train_examples} training examples, "
             f"{prepared.steps_per_epoch} steps per epoch. Dry run: nothing trained or written.")
        return
    from kerasdl import training

    summary = _call(lambda: training.run(resolved, verbose=0 if quiet else "auto", log=echo))
    if as_json:
        click.echo(json.dumps(summary))
        return
    metrics = ", ".join(f"{key} {value:.4f}" for key, value in summary["test"].items())
    echo(f"Test: {metrics}")
    echo(f"Run folder: {summary['run_dir']}")
    if summary["export_path"]:
        echo(f"SavedModel: {summary['export_path']} (reloaded and verified)")


@main.command(name="list")
def list_entries() -> None:
    """List the registered model builders and datasets.

    Example: kerasdl list
    """
    from kerasdl.registry import BUILDERS, DATASETS

    for title, registry in (("Model builders", BUILDERS), ("Datasets", DATASETS)):
        click.echo(f"{title}:")
        for name in registry.names():
            doc = (registry.get(name).__doc__ or "").strip().splitlines()
            click.echo(f"  {name:14s} {doc[0] if doc else ''}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
