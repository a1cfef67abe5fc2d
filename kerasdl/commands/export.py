"""``kerasdl export``: a trained model in another format, optionally
quantized, with its size and test scores beside the float SavedModel's.

Formats: ``savedmodel`` (TF Serving layout, as ``kerasdl run`` writes),
``keras`` (a ``.keras`` file), ``tflite`` (TensorFlow Lite, with
``quantize``: ``dynamic`` range (int8 weights), ``float16`` weights, or
``int8`` weights and activations calibrated on a representative sample of
the recipe's training data; inputs and outputs stay float32). Each is
written as the next version of ``<directory>/<name>[-<format>[-<quantize>]]/``
(``directory``: ``saved_models`` unless given)
(atomically, as ``savedmodel.publish`` does), with ``assets.extra/`` (recipe,
class names), so ``kerasdl evaluate`` and ``predict`` take it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional

from kerasdl.artifacts import savedmodel, tflite, trained, trust
from kerasdl.artifacts.layout import (
    ANOMALY_FILE,
    ASSETS,
    DECISION_FILE,
    FORMATS,
    KERAS_FILE,
    QUANTIZATIONS,
    RECIPE_FILE,
    TFLITE_FILE,
)
from kerasdl.artifacts.tflite import folder_size, to_tflite
from kerasdl.data.dataset import CLASS_NAMES_FILE, PROBABILITIES, class_names_text
from kerasdl.data.kinds import Examples
from kerasdl.data.series import FORECAST
from kerasdl.errors import InputError
from kerasdl.models.anomaly import SCORE
from kerasdl.runtime import preflight

# Where versions go without --directory (the model's own recipe never says).
DEFAULT_DIRECTORY = "saved_models"


def convert(
    model_path: str, format: str, quantize: Optional[str] = None, directory: Optional[str] = None,
    evaluate: bool = True, log: Callable[[str], None] = print, trust_savedmodel: bool = False,
    recipe_file: Optional[str] = None,
) -> dict:
    """Writes the model at ``model_path`` in ``format`` (see the module) and,
    with ``evaluate``, scores it and the float SavedModel on the recipe's
    test split: ``recipe_file``'s (a recipe the user names), else the
    model's own, within the trust rule of ``artifacts.trust``.

    Returns:
        A summary: the output path, its size and the float SavedModel's,
        and both scores.

    Raises:
        InputError: an unknown format, a quantization outside tflite, a
            model path that holds no Keras model, a conversion the model's
            ops do not support. Nothing is written then.
    """
    _check_format(format, quantize)
    source = trained.locate(model_path, trust_savedmodel)
    recipe = _data_recipe(source, recipe_file, needed=quantize == "int8" or evaluate)  # Before the model is read.
    model = source.keras_model()
    if not isinstance(getattr(model, "inputs", None), list) or len(model.inputs) != 1:
        raise InputError(f"{source.path}: kerasdl exports models with one input (classifiers and forecasters).")
    # Not the model's recipe's export.directory: a file that came with a
    # model never chooses where kerasdl writes.
    directory = directory or DEFAULT_DIRECTORY
    preflight.writable_folder(directory, "--directory", "kerasdl export")
    name = source.name + ("" if format == "savedmodel" else f"-{format}") + (f"-{quantize}" if quantize else "")
    data = None
    if recipe is not None and (quantize == "int8" or evaluate):
        from kerasdl.data import catalogue as data_catalogue

        data = data_catalogue.from_recipe(recipe)  # Once: the calibration sample and the test split.

    with tempfile.TemporaryDirectory(prefix="kerasdl-export-") as scratch:
        # The float SavedModel: written from the Keras model (loaded in safe
        # mode), unless the user trusts the SavedModel given.
        reference = source.path if source.runs_graph else Path(scratch) / "float"
        if not source.runs_graph:
            output = (SCORE if source.anomaly is not None
                      else PROBABILITIES if source.class_names is not None else FORECAST)
            savedmodel.write_savedmodel(model, reference, output)
        # Converted first: a model the converter refuses leaves nothing behind.
        flatbuffer = to_tflite(reference, quantize, recipe, data) if format == "tflite" else b""
        written, _ = savedmodel.publish(directory, name, _writer(format, source, reference, flatbuffer))
        located = trained.locate(written, trust_savedmodel=True)  # Written here.
        if format == "tflite":
            tflite.vouch_for(written / TFLITE_FILE)
        summary = {"output": str(written), "format": format, "quantize": quantize,
                   **_sizes(located, reference, quantize)}
        if evaluate and data is not None and hasattr(data, "y_test"):
            log(f"Scoring both on {data.test_examples} test examples of {data.source}")
            summary["test"] = _scores(located, recipe, data)
            summary["float_test"] = _scores(trained.locate(reference, trust_savedmodel=True), recipe, data)
    return summary


def _check_format(format: str, quantize: Optional[str]) -> None:
    if format not in FORMATS:
        raise InputError(f"--format: expected one of {', '.join(FORMATS)}. Received: {format!r}")
    if quantize is not None and (format != "tflite" or quantize not in QUANTIZATIONS):
        raise InputError(
            f"--quantize {quantize}: quantization is for --format tflite, one of {', '.join(QUANTIZATIONS)}."
        )


def _writer(format: str, source: trained.Trained, reference: Path, flatbuffer: bytes) -> Callable[[Path], None]:
    """What ``savedmodel.publish`` calls to fill the new version's folder:
    copies of what is written already (the float SavedModel, the .keras
    file, the TFLite flatbuffer) and the assets that came with the model."""
    assets = {}
    if source.recipe_file is not None:
        assets[RECIPE_FILE] = source.recipe_file.read_text()
    if source.class_names is not None:
        assets[CLASS_NAMES_FILE] = class_names_text(source.class_names)
    if source.decision is not None:
        assets[DECISION_FILE] = json.dumps(source.decision, indent=2) + "\n"
    if source.anomaly is not None:
        assets[ANOMALY_FILE] = json.dumps(source.anomaly, indent=2) + "\n"

    def write(path: Path) -> None:
        if format == "savedmodel":
            shutil.copytree(reference, path, ignore=shutil.ignore_patterns(ASSETS))
        else:
            path.mkdir()
        extra = savedmodel.write_assets(path, assets)
        if format == "savedmodel":
            shutil.copyfile(source.keras_file, extra / KERAS_FILE)
        elif format == "keras":
            shutil.copyfile(source.keras_file, path / KERAS_FILE)
        else:
            (path / TFLITE_FILE).write_bytes(flatbuffer)

    return write


def _sizes(located: trained.Trained, reference: Path, quantize: Optional[str]) -> dict:
    """The output's size beside the float SavedModel's and, quantized, the float TFLite model's."""
    sizes: dict[str, Any] = {"bytes": folder_size(located.path), "float_savedmodel_bytes": folder_size(reference)}
    sizes["size_ratio"] = sizes["bytes"] / sizes["float_savedmodel_bytes"]
    if quantize:
        sizes["float_tflite_bytes"] = len(to_tflite(reference, None))
        sizes["size_ratio_to_float_tflite"] = sizes["bytes"] / sizes["float_tflite_bytes"]
    return sizes


def lines(summary: dict) -> list[str]:
    """The output's path, size beside the float models', and test scores."""
    size = (f"Size: {summary['bytes']:,} bytes, {summary['size_ratio']:.3f}x the float SavedModel's "
            f"{summary['float_savedmodel_bytes']:,}")
    if "float_tflite_bytes" in summary:
        size += (f", {summary['size_ratio_to_float_tflite']:.3f}x the float TFLite model's "
                 f"{summary['float_tflite_bytes']:,}")
    text = [f"Written: {summary['output']}", size]
    if "test" in summary:
        for label, key in (("This model", "test"), ("Float SavedModel", "float_test")):
            text.append(f"{label}: " + ", ".join(f"{name} {value:.4f}" for name, value in summary[key].items()))
    return text


def _data_recipe(source: trained.Trained, recipe_file: Optional[str], needed: bool) -> Any:
    """The recipe whose data calibrates and scores the export: the one the
    user names, else the model's own (``trust.model_recipe``); None when
    no data is needed or none is known."""
    if recipe_file is not None:
        from kerasdl.recipe import load_recipe

        return load_recipe(recipe_file)
    if not needed or source.recipe_file is None:
        return None
    return trust.model_recipe(source.recipe_file, fix="pass --recipe RECIPE.yaml (a recipe you wrote), or "
                                                      "--no-evaluate")


def _scores(model: trained.Trained, recipe: Any, data: Examples) -> dict:
    from kerasdl.tasks import catalogue

    return catalogue.select(recipe, data).scores(data, trained.predict_test(model.predictor(), data))
