"""The ``kerasdl`` command line. Each command parses, calls one library
function, prints: ``run`` the run loop (``tasks/loop.py``), ``tune`` the
search (``tune/search.py``), ``evaluate``, ``predict`` and ``export`` their
modules in ``commands/``.

TensorFlow is imported only inside commands that need it, so ``kerasdl
--help`` answers at once.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import sys
import time
from typing import Any, Callable, Optional

import click

from kerasdl import __version__
from kerasdl.artifacts.layout import FORMATS, QUANTIZATIONS
from kerasdl.schema import ALGORITHMS

# Set when `kerasdl tune` re-executes itself to continue a search; the
# deadline of --time-budget (a time.time()) travels with it.
_RECYCLED = "KERASDL_TUNE_RECYCLED"
_DEADLINE = "KERASDL_TUNE_DEADLINE"


class Duration(click.ParamType):
    """A time span: seconds (90), or with units: 90s, 45m, 2h, 1h30m."""

    name = "duration"
    UNITS = {"h": 3600, "m": 60, "s": 1}

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        text = str(value).strip().lower()
        parts = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?", text)
        if not text or parts is None or not any(parts.groups()):
            self.fail(f"{value!r} is not a duration: give seconds (900) or units (90s, 45m, 2h, 1h30m).", param, ctx)
        hours, minutes, seconds = (float(group or 0) for group in parts.groups())
        total = hours * 3600 + minutes * 60 + seconds
        if total <= 0:
            self.fail(f"{value!r}: the budget must be longer than 0.", param, ctx)
        return total


# The exit codes (docs/runs.md#exit-codes): the work failed (an export
# that does not reproduce the model, a search with no completed trial, a
# diverged training, a full disk), bad input (a recipe, a --set, a path, a
# model or data file), the run folder busy, interrupted (Ctrl-C).
FAILED, BAD_INPUT, BUSY, INTERRUPTED = 1, 2, 3, 130


class BadInput(click.ClickException):
    """A recipe, path or data problem: message, no traceback, exit code 2."""

    exit_code = BAD_INPUT


class Busy(click.ClickException):
    """Another process owns the run folder: exit code 3."""

    exit_code = BUSY


def _quiet_tensorflow() -> None:
    """TensorFlow imported without its C++ start-up lines (``--debug`` or
    ``KERASDL_DEBUG`` shows them): kerasdl's own lines come first."""
    from kerasdl.runtime import quiet

    context = click.get_current_context(silent=True)
    quiet.import_tensorflow(debug=bool(context and context.find_root().params.get("debug")))


def _verbosity(quiet: bool) -> int:
    """Keras's ``verbose``: a progress bar on a terminal, one line per epoch
    in a log file (a bar redrawn with carriage returns fills logs)."""
    if quiet:
        return 0
    return 1 if sys.stdout.isatty() else 2


def _stdout_for_json(as_json: bool) -> Any:
    """With --json, stdout carries the result alone: Keras's progress lines and
    Keras Tuner's trial reports go to stderr."""
    return contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()


def _call(function: Callable[[], Any]) -> Any:
    """Runs library code, turning kerasdl's own errors, a full disk and
    Ctrl-C into one message and the documented exit code; ``--debug``
    shows the traceback instead."""
    from kerasdl.errors import (
        DataError,
        ExportError,
        InputError,
        RecipeError,
        RegistryError,
        RunBusy,
        TrainingError,
        TuningError,
    )

    context = click.get_current_context(silent=True)
    if context is not None and context.find_root().params.get("debug"):
        return function()
    try:
        return function()
    except (RecipeError, RegistryError, InputError, DataError) as error:
        raise BadInput(str(error)) from None
    except RunBusy as error:
        raise Busy(str(error)) from None
    except (ExportError, TuningError, TrainingError) as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:  # Disk full, a folder that became read-only, a name too long, ...
        if error.errno is None:
            raise
        raise _os_error(error, context) from None
    except KeyboardInterrupt:
        resumes = context is not None and context.info_name in _RESUMING
        click.echo("Interrupted." + (" Rerun the same command to resume where it stopped." if resumes else ""), err=True)
        sys.exit(INTERRUPTED)


# OSErrors that a path given to kerasdl causes (bad input), rather than the
# disk or the system (the work failed, and rerunning may go on).
_PATH_ERRORS = (errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR, errno.ELOOP, errno.EEXIST)
# The commands that resume where a failed run stopped.
_RESUMING = ("run", "tune")


def _os_error(error: OSError, context: Optional[click.Context]) -> click.ClickException:
    """The message and exit code for an OSError: bad input for a path that
    cannot be, failed otherwise, with the resume advice only where true."""
    where = f": {error.filename}" if error.filename else ""
    if error.errno in _PATH_ERRORS:
        return BadInput(f"{os.strerror(error.errno)}{where}. Give a shorter or different path.")
    command = context.info_name if context is not None else None
    after = ("then rerun the same command: the run resumes where it stopped" if command in _RESUMING
             else "then rerun the same command")
    return click.ClickException(f"{os.strerror(error.errno)}{where}. Free space or fix the folder, {after}.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kerasdl")
@click.option("--debug", is_flag=True, envvar="KERASDL_DEBUG",
              help="Show the traceback of an error rather than its message alone. [env: KERASDL_DEBUG]")
def main(debug: bool) -> None:
    """Turn a YAML recipe into a trained, evaluated and exported Keras model.

    Exit codes: 0 done, 1 the work failed, 2 bad input, 3 the run is busy
    in another process, 130 interrupted.

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
    from kerasdl.recipe.resolve import load_recipe

    settings = list(overrides) + (["training.resume=false"] if fresh else [])
    resolved = _call(lambda: load_recipe(recipe, settings))
    # Messages go to stderr when stdout carries the JSON result.
    echo = (lambda text: click.echo(text, err=True)) if as_json else click.echo
    from kerasdl.tasks import loop

    def check_tune_section() -> None:
        """`kerasdl run` does not search, but a tune section that `kerasdl
        tune` would refuse is not passed over in silence."""
        if resolved.values.get("tune") is None:
            return
        from kerasdl.errors import RecipeError
        from kerasdl.tune.settings import load_settings

        try:
            load_settings(resolved)
        except RecipeError as error:
            echo(f"Warning: kerasdl run ignores the tune section, and kerasdl tune would refuse it: {error}")

    if dry_run:
        prepared = _call(lambda: loop.prepared(resolved, pretrain=False, log=echo))
        check_tune_section()
        echo(resolved.to_yaml())
        prepared.model.summary(print_fn=lambda line, **_: echo(line))
        echo(f"Data: {prepared.data.source}: {prepared.train_examples} training examples, "
             f"{prepared.steps_per_epoch} steps per epoch. Dry run: nothing trained or written.")
        return
    with _stdout_for_json(as_json):
        summary = _call(lambda: loop.run(resolved, verbose=_verbosity(quiet), log=echo, before=check_tune_section))
    if as_json:
        click.echo(json.dumps(summary))
        return
    if summary["test"]:
        echo("Test: " + ", ".join(f"{key} {value:.4f}" for key, value in summary["test"].items()))
    echo(f"Run folder: {summary['run_dir']}")
    for key, value in summary[summary["task"]].items():  # The files the task wrote beside.
        if isinstance(value, str):
            echo(f"{key.replace('_', ' ').capitalize()}: {value}")
    if summary["export_path"]:
        echo(f"SavedModel: {summary['export_path']} (reloaded and verified)")


@main.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--algorithm", type=click.Choice(ALGORITHMS),
              help="Search algorithm; overrides tune.algorithm.")
@click.option("--max-trials", type=click.IntRange(min=1), help="Trials in all; overrides tune.max_trials.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe key, e.g. --set training.epochs=3 (repeatable; values are YAML).")
@click.option("--overwrite", is_flag=True, help="Delete an existing search of this recipe and start again.")
@click.option("--export-best", is_flag=True, help="Retrain the best recipe at the end and export it, as `kerasdl run` does.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the results at the end.")
@click.option("--quiet", is_flag=True, help="No trial reports or progress bars.")
@click.option("--trials-per-process", type=click.IntRange(min=0), default=5, show_default=True,
              help="Continue in a fresh process after this many trials, so memory stays flat "
                   "(TensorFlow keeps memory of every model a process trains); 0 never.")
@click.option("--time-budget", type=Duration(), metavar="DURATION",
              help="Start no trial after this long (900, 90s, 45m, 2h, 1h30m); the trial running finishes, "
                   "and the search ends with the trials run. Counts from this command's start, across fresh processes.")
@click.option("--tuner-id", envvar="KERASTUNER_TUNER_ID", metavar="ID",
              help="Distributed search: 'chief' serves the search, any other name is a worker. [env: KERASTUNER_TUNER_ID]")
@click.option("--oracle-ip", envvar="KERASTUNER_ORACLE_IP", metavar="IP",
              help="Distributed search: the chief's address. [env: KERASTUNER_ORACLE_IP]")
@click.option("--oracle-port", envvar="KERASTUNER_ORACLE_PORT", type=click.IntRange(1, 65535), metavar="PORT",
              help="Distributed search: the chief's port. [env: KERASTUNER_ORACLE_PORT]")
def tune(
    recipe: str, algorithm: str, max_trials: int, overrides: tuple, overwrite: bool, export_best: bool,
    as_json: bool, quiet: bool, trials_per_process: int, time_budget: Optional[float], tuner_id: str,
    oracle_ip: str, oracle_port: int,
) -> None:
    """Search the hyperparameters that the RECIPE's tune section lists.

    Each trial trains the recipe with the trial's values, as `kerasdl run`
    would. At the end it prints the trials, writes trials.csv and the best
    trial's recipe (best_recipe.yaml, ready for `kerasdl run`) to
    <tune.directory>/<name>/. Run the same command again after an
    interruption and it resumes without repeating finished trials.

    Several processes share one search: start one with --tuner-id chief and
    the others with their own --tuner-id, all with the same --oracle-ip and
    --oracle-port.

    Example: kerasdl tune recipes/cnn.yaml --max-trials 6 --set training.epochs=3
    """
    _quiet_tensorflow()
    distributed = [oracle_ip, oracle_port]
    if any(value is not None for value in distributed):
        if not all(value is not None for value in [*distributed, tuner_id]):
            raise BadInput("A distributed search needs --tuner-id, --oracle-ip and --oracle-port together "
                           "(or KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT).")
        os.environ.update(KERASTUNER_TUNER_ID=tuner_id, KERASTUNER_ORACLE_IP=oracle_ip,
                          KERASTUNER_ORACLE_PORT=str(oracle_port))
    from kerasdl.recipe.resolve import load_recipe

    settings_given = list(overrides)
    settings_given += [f"tune.algorithm={algorithm}"] if algorithm else []
    settings_given += [f"tune.max_trials={max_trials}"] if max_trials else []
    resolved = _call(lambda: load_recipe(recipe, settings_given))
    from kerasdl.tune import results, search, tuners
    from kerasdl.tune import settings as tune_settings

    settings = _call(lambda: tune_settings.load_settings(resolved))
    from kerasdl.runtime import preflight

    _call(lambda: preflight.writable_folder(settings.directory, "tune.directory", resolved.path))
    echo = (lambda text: click.echo(text, err=True)) if as_json else click.echo
    if os.environ.pop(_RECYCLED, None):
        overwrite = False  # The search this command started goes on.
        deadline = float(os.environ[_DEADLINE]) if _DEADLINE in os.environ else None
    else:
        deadline = time.time() + time_budget if time_budget else None
        os.environ.pop(_DEADLINE, None)
    if deadline is not None:
        os.environ[_DEADLINE] = repr(deadline)  # For the fresh processes that continue the search.
    try:
        with _stdout_for_json(as_json):
            summary = _call(lambda: search.search(
                settings, overwrite=overwrite, export_best=export_best,
                trials_per_process=trials_per_process or None, deadline=deadline, verbose=_verbosity(quiet), log=echo,
            ))
    except tuners.Recycle as pause:
        echo(f"Continuing the search in a fresh process ({pause}; this keeps memory flat).")
        sys.stdout.flush()
        sys.stderr.flush()
        os.environ[_RECYCLED] = "1"
        os.execv(sys.executable, sys.orig_argv)
    if as_json:
        click.echo(json.dumps(summary, default=str))
        return
    if summary["role"] == "worker":
        echo(f"Worker {summary['tuner_id']} ran trials: {', '.join(summary['trials_run']) or 'none'}.")
        return
    echo(results.table(summary))
    best = summary["best"]
    echo(f"Best: trial {best['trial']}, {summary['objective']['name']} {best['score']:.4f}")
    echo(f"Trials: {summary['trials_csv']}")
    echo(f"Best recipe: {summary['best_recipe']} (run it with: kerasdl run {summary['best_recipe']})")
    if summary["export"]:
        export = summary["export"]
        metrics = ", ".join(f"{key} {value:.4f}" for key, value in export["test"].items())
        echo(f"Retrained best recipe: test {metrics}; SavedModel: {export['export_path']}")


@main.command()
@click.argument("model", type=click.Path())
@click.argument("recipe_or_data", required=False)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a key of the recipe whose data is used, e.g. --set data.max_test_examples=1000.")
@click.option("--output", type=click.Path(file_okay=False),
              help="Folder for metrics.json and confusion_matrix.png (default evaluations/<name>/<timestamp>).")
@click.option("--trust-savedmodel", is_flag=True,
              help="Let a SavedModel's own TensorFlow graph answer (it can run any TensorFlow op): only for one you "
                   "made or trust. Without it the model.keras beside it answers, in Keras safe mode.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the results.")
def evaluate(model: str, recipe_or_data: str, overrides: tuple, output: str, as_json: bool, trust_savedmodel: bool) -> None:
    """Score a trained MODEL on the test split of RECIPE_OR_DATA.

    MODEL is a run folder, an export (saved_models/<name>[/<version>]) or a
    .keras or .tflite file. RECIPE_OR_DATA is a recipe file or a dataset
    name; by default the recipe that came with the model. Writes metrics.json
    and, for a classifier, confusion_matrix.png.

    Example: kerasdl evaluate saved_models/cnn
    """
    _quiet_tensorflow()
    from kerasdl.commands import evaluate as evaluating

    echo = (lambda text: click.echo(text, err=True)) if as_json else click.echo
    summary = _call(lambda: evaluating.evaluate(model, recipe_or_data, overrides, output, log=echo,
                                                trust_savedmodel=trust_savedmodel))
    if as_json:
        click.echo(json.dumps(summary))
        return
    echo("Test: " + ", ".join(f"{key} {value:.4f}" for key, value in summary["test"].items()))
    if "per_class_accuracy" in summary:
        echo("Per class: " + ", ".join(f"{name} {value:.3f}" for name, value in summary["per_class_accuracy"].items()))
    echo(f"Written: {summary['output']}")


@main.command()
@click.argument("model", type=click.Path())
@click.argument("inputs", nargs=-1, required=True)
@click.option("--top", type=click.IntRange(min=1), default=3, show_default=True, help="Classes shown per input.")
@click.option("--trust-savedmodel", is_flag=True,
              help="Let a SavedModel's own TensorFlow graph answer (it can run any TensorFlow op): only for one you "
                   "made or trust. Without it the model.keras beside it answers, in Keras safe mode.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the answers.")
def predict(model: str, inputs: tuple, top: int, as_json: bool, trust_savedmodel: bool) -> None:
    """Answer INPUTS with a trained MODEL: image files, a .npy batch, or
    strings for a text model.

    Prints each input's top classes with probabilities (a forecaster: its
    forecast). MODEL is as for `kerasdl evaluate`.

    Example: kerasdl predict saved_models/cnn shoe.png shirt.png
    """
    _quiet_tensorflow()
    from kerasdl.commands import predict as predicting

    result = _call(lambda: predicting.predict(model, inputs, top, trust_savedmodel))
    if as_json:
        click.echo(json.dumps(result))
        return
    for line in predicting.lines(result):
        click.echo(line)


@main.command(name="export")
@click.argument("model", type=click.Path())
@click.option("--format", "format_", type=click.Choice(FORMATS), default="savedmodel",
              show_default=True, help="The format to write.")
@click.option("--quantize", type=click.Choice(QUANTIZATIONS),
              help="TFLite only: int8 weights (dynamic), float16 weights, or int8 weights and activations (int8).")
@click.option("--directory", type=click.Path(file_okay=False),
              help="Where the versions go (default: saved_models; never the model's own recipe's).")
@click.option("--no-evaluate", is_flag=True, help="Do not score the output and the float SavedModel on the test split.")
@click.option("--recipe", "recipe_file", type=click.Path(dir_okay=False),
              help="A recipe whose data scores the export (and calibrates int8); default: the one that came with "
                   "the model, if it names data a package ships.")
@click.option("--trust-savedmodel", is_flag=True,
              help="Let a SavedModel's own TensorFlow graph answer (it can run any TensorFlow op): only for one you "
                   "made or trust. Without it the model.keras beside it answers, in Keras safe mode.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the results.")
def export_model(
    model: str, format_: str, quantize: str, directory: str, no_evaluate: bool, as_json: bool, trust_savedmodel: bool,
    recipe_file: Optional[str],
) -> None:
    """Write a trained MODEL as a SavedModel, a .keras file or TFLite.

    MODEL is a run folder or an export (saved_models/<name>[/<version>]).
    Prints the output's size and test scores beside the float SavedModel's
    (TFLite scored with the TFLite interpreter). Writes the next version of
    <directory>/<name>[-<format>[-<quantize>]]/.

    Example: kerasdl export saved_models/cnn --format tflite --quantize int8
    """
    _quiet_tensorflow()
    from kerasdl.commands import export

    echo = (lambda text: click.echo(text, err=True)) if as_json else click.echo
    summary = _call(lambda: export.convert(model, format_, quantize, directory, not no_evaluate, log=echo,
                                           trust_savedmodel=trust_savedmodel, recipe_file=recipe_file))
    if as_json:
        click.echo(json.dumps(summary))
        return
    echo(f"Written: {summary['output']}")
    echo(f"Size: {summary['bytes']:,} bytes, {summary['size_ratio']:.3f}x the float SavedModel's "
         f"{summary['float_savedmodel_bytes']:,}"
         + (f", {summary['size_ratio_to_float_tflite']:.3f}x the float TFLite model's {summary['float_tflite_bytes']:,}"
            if "float_tflite_bytes" in summary else ""))
    if "test" in summary:
        for label, key in (("This model", "test"), ("Float SavedModel", "float_test")):
            echo(f"{label}: " + ", ".join(f"{name} {value:.4f}" for name, value in summary[key].items()))


@main.group(name="runs")
def runs_group() -> None:
    """List, show and compare run folders (what `kerasdl run` wrote).

    Example: kerasdl runs list --name cnn
    """


_RUNS_DIR = click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False),
                         help="The folder of runs (training.runs_dir).")


@runs_group.command(name="list")
@_RUNS_DIR
@click.option("--name", help="Only the runs of this recipe name.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per run.")
def runs_list(runs_dir: str, name: Optional[str], as_json: bool) -> None:
    """One row per run folder, newest first: name, start, status (finished,
    running, unfinished), epochs, test scores, export, training time.

    Example: kerasdl runs list --name cnn
    """
    from kerasdl.commands import runs

    found = _call(lambda: runs.list_runs(runs_dir, name))
    if as_json:
        click.echo(json.dumps([run.as_dict() for run in found]))
        return
    click.echo(runs.table(found))


@runs_group.command(name="show")
@click.argument("run")
@_RUNS_DIR
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def runs_show(run: str, runs_dir: str, as_json: bool) -> None:
    """A run's status, scores and resolved recipe. RUN is a run folder,
    NAME/TIMESTAMP under --runs-dir, or a recipe name (its newest finished run).

    Example: kerasdl runs show cnn
    """
    from kerasdl.commands import runs
    from kerasdl.recipe.yaml_text import dump_yaml

    shown = _call(lambda: runs.show(runs.find_run(run, runs_dir)))
    if as_json:
        click.echo(json.dumps(shown, default=str))
        return
    click.echo(f"Run: {shown['folder']} ({shown['status']}, started {shown['started'].replace('T', ' ')})")
    click.echo(f"Epochs: {shown['epochs']}" + (f", best {shown['best_epoch']}" if shown["best_epoch"] else ""))
    scores = {**shown["test"], **shown["scores"]}  # A GAN's scores are its judge's (FID).
    if scores:
        click.echo("Test: " + ", ".join(f"{key} {value:.4f}" for key, value in scores.items()
                                        if isinstance(value, (int, float))))
    if shown["export"]:
        click.echo(f"Export: {shown['export']}")
    click.echo("Recipe:")
    click.echo("  " + dump_yaml(shown["recipe"]).rstrip().replace("\n", "\n  "))


@runs_group.command(name="diff")
@click.argument("first")
@click.argument("second")
@_RUNS_DIR
@click.option("--output", type=click.Path(dir_okay=False),
              help="Where the PNG of both learning curves goes (default <runs-dir>/diffs/<first>_vs_<second>.png).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def runs_diff(first: str, second: str, runs_dir: str, output: Optional[str], as_json: bool) -> None:
    """The recipe keys that differ between two runs, their test scores side
    by side, and both learning curves in one PNG. FIRST and SECOND are run
    folders, NAME/TIMESTAMP, or recipe names (their newest finished runs).

    Example: kerasdl runs diff cnn cnn_bn
    """
    from pathlib import Path

    from kerasdl.commands import runs

    folders = [_call(lambda: runs.find_run(reference, runs_dir)) for reference in (first, second)]
    compared = _call(lambda: runs.diff(*folders, Path(output) if output else None, runs_dir))
    if as_json:
        click.echo(json.dumps(compared, default=str))
        return
    click.echo(runs.diff_table(compared))
    if compared["plot"]:
        click.echo(f"Learning curves: {compared['plot']}")


@main.command()
@click.argument("first", type=click.Path(dir_okay=False))
@click.argument("second", type=click.Path(dir_okay=False))
@click.option("--seeds", type=click.IntRange(1, 1000), default=5, show_default=True,
              help="Pairs of runs: pair i trains both recipes with training.seed = A's seed + i.")
@click.option("--metric", help="The test score compared (default: accuracy, rmse or analogy_accuracy).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a key of both recipes, e.g. --set training.epochs=3 (repeatable).")
@click.option("--output-dir", default="comparisons", show_default=True, type=click.Path(file_okay=False),
              help="The comparison goes to <output-dir>/<A>_vs_<B>/<timestamp>/.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the results.")
def compare(first: str, second: str, seeds: int, metric: Optional[str], overrides: tuple, output_dir: str,
            as_json: bool) -> None:
    """Train recipes FIRST (A) and SECOND (B) on the same seeds and say
    whether A beats B: the paired difference of a test score (median, mean
    with a bootstrap 95% interval, wins), and the recipe keys that differ.

    A finished run of the same recipe and seed is reused, so an interrupted
    comparison goes on where it stopped. Writes the pairs (comparison.csv),
    summary.json, a box plot and links to the runs.

    Example: kerasdl compare recipes/transfer_5to9.yaml recipes/scratch_5to9.yaml --seeds 5
    """
    _quiet_tensorflow()
    from kerasdl.commands import compare as comparing

    echo = (lambda text: click.echo(text, err=True)) if as_json else click.echo
    with _stdout_for_json(as_json):
        result = _call(lambda: comparing.compare(first, second, seeds, overrides=overrides, metric=metric,
                                                 output_dir=output_dir, log=echo))
    if as_json:
        click.echo(json.dumps(result, default=str))
        return
    for line in comparing.report(result):
        echo(line)


@main.command(name="list")
def list_entries() -> None:
    """List the registered model builders and datasets.

    Example: kerasdl list
    """
    _quiet_tensorflow()
    from kerasdl.registry import BUILDERS, DATASETS

    for title, registry in (("Model builders", BUILDERS), ("Datasets", DATASETS)):
        click.echo(f"{title}:")
        for name in registry.names():
            doc = (registry.get(name).__doc__ or "").strip().splitlines()
            click.echo(f"  {name:14s} {doc[0] if doc else ''}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
