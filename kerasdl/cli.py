"""The ``kerasdl`` command line. Each command parses its arguments, calls
one function of ``commands/`` and prints the result (``cli_options.Output``:
lines, or JSON with ``--json``); ``cli_errors.call`` turns kerasdl's errors
into a message and the documented exit code.

TensorFlow is imported only inside commands that need it, so ``kerasdl
--help`` answers at once.
"""

from __future__ import annotations

import sys
from typing import Optional

import click

from kerasdl import __version__
from kerasdl import cli_options as options
from kerasdl.artifacts.layout import FORMATS, QUANTIZATIONS
from kerasdl.cli_errors import BAD_INPUT, BUSY, FAILED, INTERRUPTED, call, debugging
from kerasdl.cli_options import Output
from kerasdl.schema import ALGORITHMS, ATTACKS, EXPLANATIONS

__all__ = ["main", "FAILED", "BAD_INPUT", "BUSY", "INTERRUPTED"]


def _quiet_tensorflow() -> None:
    """TensorFlow imported without its C++ start-up lines (``--debug`` or
    ``KERASDL_DEBUG`` shows them): kerasdl's own lines come first."""
    from kerasdl.runtime import quiet

    quiet.import_tensorflow(debug=debugging())


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
@options.overrides()
@click.option("--dry-run", is_flag=True, help="Validate, print the resolved recipe and the model summary; train "
                                              "nothing.")
@options.as_json()
@options.quiet
@click.option("--fresh", is_flag=True, help="Start a new run even if an unfinished one of this recipe exists.")
def run(recipe: str, overrides: tuple, dry_run: bool, as_json: bool, quiet: bool, fresh: bool) -> None:
    """Train, evaluate and export the model a RECIPE describes.

    Writes a run folder (runs/<name>/<timestamp>/) and a verified SavedModel
    (saved_models/<name>/<version>/). Run the same command again after an
    interruption and it resumes from the last finished epoch.

    Example: kerasdl run recipes/cnn.yaml --set training.epochs=3 --set model.dropout_rate=0.3
    """
    _quiet_tensorflow()
    from kerasdl.commands import run as running

    out = Output(as_json)
    resolved = call(lambda: running.load(recipe, overrides, fresh))
    if dry_run:
        call(lambda: running.dry_run(resolved, out.echo))
        return
    with out.library_output():
        summary = call(lambda: running.run(resolved, options.verbosity(quiet), out.echo))
    out.result(summary, running.lines)


@main.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--algorithm", type=click.Choice(ALGORITHMS),
              help="Search algorithm; overrides tune.algorithm.")
@click.option("--max-trials", type=click.IntRange(min=1), help="Trials in all; overrides tune.max_trials.")
@options.overrides()
@click.option("--overwrite", is_flag=True, help="Delete an existing search of this recipe and start again.")
@click.option("--export-best", is_flag=True, help="Retrain the best recipe at the end and export it, as `kerasdl "
                                                  "run` does.")
@options.as_json()
@click.option("--quiet", is_flag=True, help="No trial reports or progress bars.")
@click.option("--trials-per-process", type=click.IntRange(min=0), default=5, show_default=True,
              help="Continue in a fresh process after this many trials, so memory stays flat "
                   "(TensorFlow keeps memory of every model a process trains); 0 never.")
@click.option("--time-budget", type=options.Duration(), metavar="DURATION",
              help="Start no trial after this long (900, 90s, 45m, 2h, 1h30m); the trial running finishes, "
                   "and the search ends with the trials run. Counts from this command's start, across fresh processes.")
@click.option("--tuner-id", envvar="KERASTUNER_TUNER_ID", metavar="ID",
              help="Distributed search: 'chief' serves the search, any other name is a worker. [env: "
                   "KERASTUNER_TUNER_ID]")
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
    from kerasdl.commands import tune as tuning

    out = Output(as_json)
    with out.library_output():
        summary = call(lambda: tuning.tune(
            recipe, overrides, algorithm=algorithm, max_trials=max_trials, overwrite=overwrite,
            export_best=export_best, trials_per_process=trials_per_process or None, time_budget=time_budget,
            distributed=(tuner_id, oracle_ip, oracle_port), verbose=options.verbosity(quiet), log=out.echo,
        ))
    out.result(summary, tuning.lines)


@main.command()
@click.argument("model", type=click.Path())
@click.argument("recipe_or_data", required=False)
@options.overrides("data.max_test_examples=1000", of="a key of the recipe whose data is used")
@click.option("--output", type=click.Path(file_okay=False),
              help="Folder for metrics.json and confusion_matrix.png (default evaluations/<name>/<timestamp>).")
@click.option("--attack", type=click.Choice(ATTACKS),
              help="Also score the test images attacked against the model: fgsm (one step) or pgd (--steps).")
@click.option("--epsilon", type=click.FloatRange(0.001, 1.0), default=0.1, show_default=True,
              help="How far --attack may move each pixel, on the 0-to-1 scale (0.1: 25.5 of 255 levels).")
@click.option("--steps", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="PGD's steps, each of 2.5 x epsilon / steps.")
@options.trust_savedmodel
@options.as_json()
def evaluate(model: str, recipe_or_data: str, overrides: tuple, output: str, attack: str, epsilon: float,
             steps: int, as_json: bool, trust_savedmodel: bool) -> None:
    """Score a trained MODEL on the test split of RECIPE_OR_DATA.

    MODEL is a run folder, an export (saved_models/<name>[/<version>]) or a
    .keras or .tflite file. RECIPE_OR_DATA is a recipe file or a dataset
    name; by default the recipe that came with the model. Writes metrics.json
    and, for a classifier, confusion_matrix.png and calibration.png (two
    classes: roc_pr.png too). With --attack, also the accuracy on attacked
    test images and attacked_examples.png.

    Example: kerasdl evaluate saved_models/cnn (attacked: add --attack pgd
    --epsilon 0.05)
    """
    _quiet_tensorflow()
    from kerasdl.commands import evaluate as evaluating

    out = Output(as_json)
    from kerasdl.models.adversarial import Attack

    given = {name for name in ("epsilon", "steps") if options.given(name)}
    if given and not attack:
        raise click.UsageError(f"--{sorted(given)[0]} sizes an attack: add --attack fgsm or --attack pgd, or drop it.")
    if "steps" in given and attack != "pgd":
        raise click.UsageError("--steps counts PGD's steps; FGSM takes one: use --attack pgd, or drop --steps.")
    threat = Attack(attack, epsilon, steps) if attack else None
    summary = call(lambda: evaluating.evaluate(model, recipe_or_data, overrides, output, log=out.echo,
                                               trust_savedmodel=trust_savedmodel, attack=threat))
    out.result(summary, evaluating.lines)


@main.command()
@click.argument("model", type=click.Path())
@click.argument("inputs", nargs=-1, required=True)
@click.option("--top", type=click.IntRange(min=1), default=3, show_default=True, help="Classes shown per input.")
@click.option("--output", type=click.Path(file_okay=False), default=None,
              help="A new folder for the images a super-resolution model answers [default: "
                   "predictions/<name>/<timestamp>/].")
@options.trust_savedmodel
@options.as_json("one JSON object with the answers")
def predict(model: str, inputs: tuple, top: int, output: Optional[str], as_json: bool, trust_savedmodel: bool) -> None:
    """Answer INPUTS with a trained MODEL: image files, a .npy batch, or
    strings for a text model.

    Prints each input's top classes with probabilities (a forecaster: its
    forecast; an anomaly detector: its score and verdict). A
    super-resolution model's answers are images, written as PNG files to
    --output. MODEL is as for `kerasdl evaluate`.

    Example: kerasdl predict saved_models/cnn shoe.png shirt.png
    """
    _quiet_tensorflow()
    from kerasdl.commands import predict as predicting

    Output(as_json).result(call(lambda: predicting.predict(model, inputs, top, trust_savedmodel, output)),
                           predicting.lines)


@main.command()
@click.argument("model", type=click.Path())
@click.argument("images", nargs=-1)
@click.option("--class", "explained", metavar="CLASS",
              help="The class to explain (a name or an index); by default each image's predicted class.")
@click.option("--layer", help="The feature map to explain (backbone/NAME inside a transfer model's backbone); by "
                              "default the last convolutional one.")
@click.option("--method", type=click.Choice(EXPLANATIONS), default="gradcam", show_default=True,
              help="gradcam weighs each channel by its mean gradient; hirescam each position by its own (faithful "
                   "to a flatten head).")
@click.option("--test", type=click.IntRange(1, 100_000), default=None,
              help="Also explain this many test images of the model's data and check the maps (masking, random "
                   "weights).")
@click.option("--data", "recipe_or_data", metavar="RECIPE_OR_DATA",
              help="With --test: the recipe file or dataset name whose test images to use (default: the model's).")
@options.overrides("data.max_test_examples=500", of="a key of the recipe whose data --test uses")
@click.option("--output", type=click.Path(file_okay=False),
              help="Folder for the PNGs and explanations.json (default explanations/<name>/<timestamp>).")
@options.trust_savedmodel
@options.as_json("one JSON object with the explanations")
def explain(model: str, images: tuple, explained: str, layer: str, method: str, test: int, recipe_or_data: str,
            overrides: tuple, output: str, trust_savedmodel: bool, as_json: bool) -> None:
    """Show which pixels drove a convolutional MODEL's answer for IMAGES (Grad-CAM).

    Writes each image with its Grad-CAM map laid over it (<image>_gradcam.png,
    the class explained and its probability in the caption) and
    explanations.json. MODEL is a cnn or transfer model as for `kerasdl
    evaluate` (its model.keras: a .tflite has no gradients). With --test N,
    also N test images of the model's data in grad_cam.png, and two checks of
    the maps: masking the top 20 % of their pixels against a random 20 %,
    and the maps of random weights.

    Example: kerasdl explain saved_models/cnn shoe.png --test 500
    """
    _quiet_tensorflow()
    from kerasdl.commands import explain as explaining

    out = Output(as_json)
    summary = call(lambda: explaining.explain(model, images, explained, layer, test or 0, recipe_or_data, overrides,
                                              output, log=out.echo, trust_savedmodel=trust_savedmodel,
                                              method=method))
    out.result(summary, explaining.lines)


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
@options.trust_savedmodel
@options.as_json()
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

    out = Output(as_json)
    summary = call(lambda: export.convert(model, format_, quantize, directory, not no_evaluate, log=out.echo,
                                          trust_savedmodel=trust_savedmodel, recipe_file=recipe_file))
    out.result(summary, export.lines)


@main.group(name="runs")
def runs_group() -> None:
    """List, show and compare run folders (what `kerasdl run` wrote).

    Example: kerasdl runs list --name cnn
    """


@runs_group.command(name="list")
@options.runs_dir
@click.option("--name", help="Only the runs of this recipe name.")
@options.as_json("a JSON list, one object per run")
def runs_list(runs_dir: str, name: Optional[str], as_json: bool) -> None:
    """One row per run folder, newest first: name, start, status (finished,
    running, unfinished), epochs, test scores, export, training time.

    Example: kerasdl runs list --name cnn
    """
    from kerasdl.commands import runs

    found = call(lambda: runs.list_runs(runs_dir, name))
    Output(as_json).result([run.as_dict() for run in found], lambda _: [runs.table(found)])


@runs_group.command(name="show")
@click.argument("run")
@options.runs_dir
@options.as_json("one JSON object")
def runs_show(run: str, runs_dir: str, as_json: bool) -> None:
    """A run's status, scores and resolved recipe. RUN is a run folder,
    NAME/TIMESTAMP under --runs-dir, or a recipe name (its newest finished run).

    Example: kerasdl runs show cnn
    """
    from kerasdl.commands import runs

    Output(as_json).result(call(lambda: runs.show(runs.find_run(run, runs_dir))), runs.show_lines)


@runs_group.command(name="diff")
@click.argument("first")
@click.argument("second")
@options.runs_dir
@click.option("--output", type=click.Path(dir_okay=False),
              help="Where the PNG of both learning curves goes (default <runs-dir>/diffs/<first>_vs_<second>.png).")
@options.as_json("one JSON object")
def runs_diff(first: str, second: str, runs_dir: str, output: Optional[str], as_json: bool) -> None:
    """The recipe keys that differ between two runs, their test scores side
    by side, and both learning curves in one PNG. FIRST and SECOND are run
    folders, NAME/TIMESTAMP, or recipe names (their newest finished runs).

    Example: kerasdl runs diff cnn cnn_bn
    """
    from pathlib import Path

    from kerasdl.commands import runs

    folders = [call(lambda: runs.find_run(reference, runs_dir)) for reference in (first, second)]
    compared = call(lambda: runs.diff(*folders, Path(output) if output else None, runs_dir))
    Output(as_json).result(compared, runs.diff_lines)


@main.command()
@click.argument("first", type=click.Path(dir_okay=False))
@click.argument("second", type=click.Path(dir_okay=False))
@click.option("--seeds", type=click.IntRange(1, 1000), default=5, show_default=True,
              help="Pairs of runs: pair i trains both recipes with training.seed = A's seed + i.")
@click.option("--metric", help="The test score compared (default: accuracy, rmse or analogy_accuracy).")
@options.overrides(of="a key of both recipes")
@click.option("--output-dir", default="comparisons", show_default=True, type=click.Path(file_okay=False),
              help="The comparison goes to <output-dir>/<A>_vs_<B>/<timestamp>/.")
@options.as_json()
def compare(first: str, second: str, seeds: int, metric: Optional[str], overrides: tuple, output_dir: str,
            as_json: bool) -> None:
    """Train recipes FIRST (A) and SECOND (B) on the same seeds and say
    whether A beats B: the paired difference of a test score (median, mean
    with a paired t 95% interval, wins), whether the seeds tell the two
    apart, and the recipe keys that differ.

    A finished run of the same recipe and seed is reused, so an interrupted
    comparison goes on where it stopped. Writes the pairs (comparison.csv),
    summary.json, a box plot and links to the runs.

    Example: kerasdl compare recipes/transfer_5to9.yaml recipes/scratch_5to9.yaml --seeds 5
    """
    _quiet_tensorflow()
    from kerasdl.commands import compare as comparing

    out = Output(as_json)
    with out.library_output():
        result = call(lambda: comparing.compare(first, second, seeds, overrides=overrides, metric=metric,
                                                output_dir=output_dir, log=out.echo))
    out.result(result, comparing.report)


@main.command(name="list")
def list_entries() -> None:
    """List the registered model builders and datasets.

    Example: kerasdl list
    """
    _quiet_tensorflow()
    from kerasdl.commands import reference

    for line in reference.listing():
        click.echo(line)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
