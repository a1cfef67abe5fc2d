"""``kerasdl evaluate``: a trained model's scores on a recipe's test split,
and for a classifier its confusion matrix as a PNG.

The model answers as it is deployed (a SavedModel through its signature, a
``.tflite`` file through the TFLite interpreter); the scores are those
``kerasdl run`` reports (the task's ``scores``), so evaluating a run's
export reproduces the run's test accuracy. ``--attack`` scores an image
classifier on its test images attacked against it too (models/adversarial.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

from kerasdl.artifacts import trained, trust
from kerasdl.data import catalogue as data_catalogue
from kerasdl.data.kinds import Examples
from kerasdl.errors import InputError
from kerasdl.evaluation import figures
from kerasdl.models.adversarial import Attack, attacked_predictions
from kerasdl.recipe.resolve import Recipe, load_recipe
from kerasdl.runtime import atomic, preflight, runs
from kerasdl.tasks import catalogue


def recipe_for(model: trained.Trained, recipe_or_data: Optional[str], overrides: Sequence[str] = ()) -> Recipe:
    """The recipe whose data scores ``model``: a recipe file, or the
    model's own recipe with another registered dataset, or the model's own
    (within the trust rule of ``artifacts.trust``).

    Raises:
        InputError: when nothing says which data to use, or the model's
            recipe names data it may not (a path, a download, a server).
    """
    if recipe_or_data and (recipe_or_data.endswith((".yaml", ".yml")) or Path(recipe_or_data).is_file()):
        return load_recipe(recipe_or_data, overrides)
    if model.recipe_file is None:
        raise InputError(
            f"{model.path}: came without its recipe, so the data to score it on is unknown: give a recipe "
            "file as the second argument (e.g. recipes/cnn.yaml)."
        )
    settings = list(overrides)
    if recipe_or_data:
        settings.insert(0, f"data={{dataset: {recipe_or_data}}}")
    return trust.model_recipe(model.recipe_file, settings, fix=f"kerasdl evaluate {model.path} RECIPE.yaml")


def evaluate(
    model_path: str, recipe_or_data: Optional[str] = None, overrides: Sequence[str] = (),
    output: Optional[str] = None, log: Callable[[str], None] = print, trust_savedmodel: bool = False,
    attack: Optional[Attack] = None,
) -> dict:
    """Scores the model at ``model_path`` on the test split of its recipe's
    data (or ``recipe_or_data``'s) and writes ``metrics.json`` (and for a
    classifier ``confusion_matrix.png``, ``calibration.png`` and, for two
    classes, ``roc_pr.png``) to ``output``, by default
    ``evaluations/<name>/<timestamp>/``, written whole or not at all.
    With ``attack``, also the scores on the test images ``attack`` makes
    against the model (its Keras file's gradients) and
    ``attacked_examples.png``.

    Returns:
        A summary: the scores, the test examples, the output folder.

    Raises:
        InputError: a path that holds no model, data that does not fit it.
    """
    model = trained.locate(model_path, trust_savedmodel)
    recipe = recipe_for(model, recipe_or_data, overrides)
    folder = Path(output) if output else atomic.unused_stamp(Path("evaluations") / model.name)
    if folder.exists() and any(folder.iterdir()):
        raise InputError(f"{folder}: already holds files; give --output a new folder.")
    preflight.writable_folder(str(folder), "--output", "kerasdl evaluate")
    data = data_catalogue.from_recipe(recipe)
    if not hasattr(data, "y_test"):
        raise InputError(f"{recipe.path}: data.dataset: {data.source} has no test split with labels to score a "
                         "model on.")
    task = catalogue.select(recipe, data)
    deployed = task.deployed_test_inputs(recipe, data)  # A super-resolution model's: downscaled test images.
    if deployed is None:
        check_fits(model, data, recipe)
    if attack is not None:
        _check_attackable(model, data, recipe)
    answered = "its SavedModel graph" if model.runs_graph else f"{model.keras_file}, Keras safe mode"
    log(f"Scoring {model.path} ({model.kind}; answers from {answered}) on {data.test_examples} test examples "
        f"of {data.source}, the data {recipe.path} names")
    if deployed is None:
        predictions = trained.predict_test(model.predictor(), data)
        _check_outputs(model, predictions, data)
    else:
        predictions = _deployed_predictions(model, deployed, data, recipe)
    scores = task.scores(data, predictions)
    summary: dict[str, Any] = {
        "model": str(model.path), "format": model.kind, "recipe": str(recipe.path), "dataset": data.source,
        "test_examples": int(data.test_examples), "test": scores,
    }
    summary.update(task.details(data, predictions))
    matrix = np.array(summary["confusion_matrix"]) if "confusion_matrix" in summary else None
    if matrix is not None:
        summary["confusion_matrix_png"] = str(folder / figures.CONFUSION)
    attacked = _attack(model, task, data, attack, summary, log) if attack is not None else None
    summary["output"] = str(folder)

    def write(staging: Path) -> None:
        title = f"{model.name} on {data.test_examples} test examples"
        if attacked is not None:
            figures.attacked_examples(staging / figures.ATTACKED, *attacked, title=f"{title}: {_attack_name(attack)}")
        if matrix is not None:
            figures.plot_confusion_matrix(matrix, data.class_names, staging / figures.CONFUSION,
                                          f"{title}: accuracy {scores['accuracy']:.4f}")
        if "expected_calibration_error" in summary:
            figures.reliability(staging / figures.CALIBRATION, summary, title)
        if "roc_auc" in summary:
            figures.roc_and_pr(staging / figures.ROC_PR, np.asarray(data.y_test) == 1, predictions[:, 1], summary,
                               title)
        (staging / runs.METRICS).write_text(json.dumps(summary, indent=2) + "\n")

    atomic.write_folder(folder, write)
    return summary


def lines(summary: dict) -> list[str]:
    """The scores as text, per class for a classifier, and where they went."""
    text = ["Test: " + ", ".join(f"{key} {value:.4f}" for key, value in summary["test"].items())]
    if "per_class_accuracy" in summary:
        text.append("Per class: " + ", ".join(
            f"{name} {value:.3f}" for name, value in summary["per_class_accuracy"].items()))
    if "attack" in summary:
        found = summary["attack"]
        text.append(f"Under {found['method'].upper()} (epsilon {found['epsilon']:g}, {found['steps']} step"
                    f"{'s' if found['steps'] > 1 else ''}): accuracy {found['test']['accuracy']:.4f} (clean "
                    f"{summary['test']['accuracy']:.4f})")
    return text + [f"Written: {summary['output']}"]


# Test images shown attacked in attacked_examples.png.
SHOWN = 8


def _attack(model: trained.Trained, task: Any, data: Examples, attack: Attack, summary: dict,
            log: Callable[[str], None]) -> tuple:
    """Scores the model on attacked test images into ``summary["attack"]``;
    returns the figure's images, attacked images and captions."""
    log(f"Attacking the {data.test_examples} test images: {_attack_name(attack)}")
    network, labels = model.keras_model(), np.asarray(data.y_test)
    predictions, kept = attacked_predictions(network, attack, _test_batches(data, labels), keep=SHOWN)
    summary["attack"] = {**attack.describe(), "test": task.scores(data, predictions)}
    summary["attack"]["accuracy_lost"] = summary["test"]["accuracy"] - summary["attack"]["test"]["accuracy"]
    images = next(iter(_test_batches(data, labels)))[0][:len(kept)]
    names = list(data.class_names)
    clean = np.argmax(np.asarray(network.predict(images, verbose=0)), axis=-1)
    answers = {"truth": [names[i] for i in labels[:len(kept)]], "clean": [names[i] for i in clean],
               "attacked": [names[i] for i in np.argmax(predictions[:len(kept)], axis=-1)]}
    return images, kept, answers


def _test_batches(data: Examples, labels: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The test split's images and labels, ``trained.CHUNK`` at a time."""
    start = 0
    for images in trained.test_batches(data):
        yield images, labels[start:start + len(images)]
        start += len(images)


def _attack_name(attack: Attack) -> str:
    found = attack.describe()
    steps = f", {found['steps']} steps of {found['step_size']:.3g}" if attack.method == "pgd" else ""
    return f"{attack.method.upper()}, epsilon {attack.epsilon:g}{steps}"


def _check_attackable(model: trained.Trained, data: Examples, recipe: Recipe) -> None:
    """An attack needs a classifier of images and the Keras model's gradients."""
    if getattr(data, "class_names", None) is None or len(tuple(data.input_shape)) != 3:
        raise InputError(
            f"{recipe.path}: --attack perturbs the pixels of images a classifier answers, but {data.source} has "
            f"{data.description}. Evaluate without --attack."
        )
    if model.keras_file is None:
        raise InputError(
            f"{model.path}: --attack needs the model's gradients, which kerasdl takes from the Keras model "
            f"({trained.KERAS_FILE}) it exports beside a SavedModel; this {model.kind} has none. Attack the run "
            "folder or an export kerasdl wrote."
        )


def check_fits(model: trained.Trained, data: Examples, recipe: Recipe) -> None:
    """The data's examples have the model's input shape and classes."""
    shape, is_text = model.input_shape()
    data_shape, data_is_text = tuple(data.input_shape), data.kind == "texts"
    if is_text != data_is_text or (not is_text and data_shape != shape):
        expected = "strings" if is_text else f"examples of shape {shape}"
        received = "strings" if data_is_text else f"examples of shape {data_shape}"
        raise InputError(
            f"{recipe.path}: data.dataset: {model.path} takes {expected}, but {data.source} has {received}. "
            "Score it on the data it was trained for."
        )
    named = model.class_names is not None and data.class_names is not None
    if named and list(model.class_names) != list(data.class_names):
        raise InputError(
            f"{recipe.path}: data.dataset: {model.path} was trained on the classes {model.class_names}, but "
            f"{data.source} has {data.class_names}."
        )


def _deployed_predictions(model: trained.Trained, inputs: np.ndarray, data: Examples, recipe: Recipe) -> np.ndarray:
    """The model's answers for the inputs its task deploys it on, which
    must come back the shape of the test examples (a restoration of each)."""
    shape, is_text = model.input_shape()
    if is_text or len(shape) != inputs.ndim - 1 or any(want not in (None, have)
                                                      for have, want in zip(inputs.shape[1:], shape)):
        raise InputError(f"{recipe.path}: data.dataset: {model.path} takes examples of shape {shape}, but is scored on "
                         f"{data.source}'s test split as {inputs.shape[1:]}. Score it on the data it was trained for.")
    predictions = model.predictor()(inputs)  # Every predictor goes through trained.CHUNK examples at a time.
    if predictions.shape[1:] != tuple(data.input_shape):
        raise InputError(f"{model.path}: answers outputs of shape {predictions.shape[1:]}, but is scored against "
                         f"{data.source}'s test examples of shape {tuple(data.input_shape)}.")
    return predictions


def _check_outputs(model: trained.Trained, predictions: np.ndarray, data: Examples) -> None:
    width = data.output_width
    if tuple(predictions.shape[1:]) != ((width,) if width else ()):
        raise InputError(
            f"{model.path}: returns outputs of shape {predictions.shape[1:]}, but {data.source} needs "
            f"{width or 'one score'} per example (its classes, forecast steps or anomaly scores)."
        )
