"""``kerasdl export``: a trained model in another format, optionally
quantized, with its size and test scores beside the float SavedModel's.

Formats: ``savedmodel`` (TF Serving layout, as ``kerasdl run`` writes),
``keras`` (a ``.keras`` file), ``tflite`` (TensorFlow Lite, with
``quantize``: ``dynamic`` range (int8 weights), ``float16`` weights, or
``int8`` weights and activations calibrated on a representative sample of
the recipe's training data; inputs and outputs stay float32). Each is
written as the next version of ``<directory>/<name>[-<format>[-<quantize>]]/``
(atomically, as ``export.publish`` does), with ``assets.extra/`` (recipe,
class names), so ``kerasdl evaluate`` and ``predict`` take it.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from kerasdl import datasets, export, trained
from kerasdl.errors import InputError

FORMATS = ("savedmodel", "keras", "tflite")
QUANTIZATIONS = ("dynamic", "float16", "int8")
# Calibration examples for int8 (TFLite's guide suggests a few hundred).
REPRESENTATIVE = 300


def folder_size(path: Path) -> int:
    """Bytes of a model file, or of a SavedModel folder less ``assets.extra``."""
    if path.is_file():
        return path.stat().st_size
    return sum(
        file.stat().st_size for file in path.rglob("*")
        if file.is_file() and export.ASSETS not in file.relative_to(path).parts
    )


def _representative(recipe: Any, data: Any) -> Callable:
    """The calibration sample: the first examples of the training split."""
    if data.x_train.dtype == object:
        raise InputError(f"{recipe.path}: int8 quantization calibrates on numeric inputs; this model reads strings.")
    sample = data.x_train[:REPRESENTATIVE].astype(np.float32)

    def examples():
        for index in range(len(sample)):
            yield [sample[index:index + 1]]

    return examples


def to_tflite(saved_model: Path, quantize: Optional[str], recipe: Any = None, data: Any = None) -> bytes:
    """Converts a SavedModel's serving signature to a TFLite flatbuffer.

    Raises:
        InputError: naming the quantization (or plain conversion) when the
            model's ops do not support it, with the converter's reason.
    """
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=[export.SIGNATURE])
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        if recipe is None or data is None:
            raise InputError(
                f"{saved_model}: int8 quantization calibrates on the recipe's training data, and this model "
                "came without its recipe. Export from the run folder or from kerasdl's SavedModel export."
            )
        converter.representative_dataset = _representative(recipe, data)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    try:
        return converter.convert()
    except Exception as error:  # The converter raises ConverterError and others, with MLIR's text.
        option = f"--quantize {quantize}" if quantize else "--format tflite"
        what = f"{quantize} quantization" if quantize else "TFLite conversion"
        other = "Try --quantize dynamic or float16, or " if quantize == "int8" else "Try "
        raise InputError(
            f"{saved_model}: {option}: {what} is not supported by this model's operations "
            f"({_first_reason(str(error))}). {other}--format savedmodel or keras."
        ) from None


def _first_reason(message: str) -> str:
    """The converter's first error, without MLIR's location, and the
    TensorFlow ops it names."""
    errors = [line.split("error:", 1)[1].strip() for line in message.splitlines() if "error:" in line]
    if not errors:
        return (message.strip().splitlines() or ["unknown reason"])[-1][:300]
    first = errors[0].rsplit(")): ", 1)[-1]
    ops = sorted(set(re.findall(r"'(tf\.\w+)'", message)))
    return (f"{', '.join(ops)}: " if ops else "") + first[:300]


def convert(
    model_path: str, format: str, quantize: Optional[str] = None, directory: Optional[str] = None,
    evaluate: bool = True, log: Callable[[str], None] = print,
) -> dict:
    """Writes the model at ``model_path`` in ``format`` (see the module) and,
    with ``evaluate``, scores it and the float SavedModel on the recipe's
    test split.

    Returns:
        A summary: the output path, its size and the float SavedModel's,
        and both scores.

    Raises:
        InputError: an unknown format, a quantization outside tflite, a
            model path that holds no Keras model, a conversion the model's
            ops do not support. Nothing is written then.
    """
    if format not in FORMATS:
        raise InputError(f"--format: expected one of {', '.join(FORMATS)}. Received: {format!r}")
    if quantize is not None and (format != "tflite" or quantize not in QUANTIZATIONS):
        raise InputError(
            f"--quantize {quantize}: quantization is for --format tflite, one of {', '.join(QUANTIZATIONS)}."
        )
    from kerasdl.recipe import load_recipe

    source = trained.locate(model_path)
    model = source.keras_model()
    if not isinstance(model.inputs, list) or len(model.inputs) != 1:
        raise InputError(f"{source.path}: kerasdl exports models with one input (classifiers and forecasters).")
    recipe = load_recipe(source.recipe_file) if source.recipe_file is not None else None
    assets = {}
    if source.recipe_file is not None:
        assets[trained.RECIPE_FILE] = source.recipe_file.read_text()
    if source.class_names is not None:
        assets[datasets.CLASS_NAMES_FILE] = datasets.class_names_text(source.class_names)
    output_name = export.OUTPUT_NAME if source.class_names is not None else "forecast"
    directory = directory or (recipe["export"]["directory"] if recipe is not None else "saved_models")
    name = source.name + ("" if format == "savedmodel" else f"-{format}") + (f"-{quantize}" if quantize else "")
    data = None
    if recipe is not None and (quantize == "int8" or evaluate):
        from kerasdl import training

        data = training.load_data(recipe)  # Once: the calibration sample and the test split.

    with tempfile.TemporaryDirectory(prefix="kerasdl-export-") as scratch:
        reference = source.path if source.kind == "savedmodel" else Path(scratch) / "float"
        if source.kind != "savedmodel":
            export.write_savedmodel(model, reference, output_name)

        # Converted first: a model the converter refuses leaves nothing behind.
        flatbuffer = to_tflite(reference, quantize, recipe, data) if format == "tflite" else b""

        def write(path: Path) -> None:
            # Copies of what is written already: the float SavedModel, the .keras file.
            if format == "savedmodel":
                shutil.copytree(reference, path, ignore=shutil.ignore_patterns(export.ASSETS))
            else:
                path.mkdir()
            extra = export.write_assets(path, assets)
            if format == "savedmodel":
                shutil.copyfile(source.keras_file, extra / export.KERAS_FILE)
            elif format == "keras":
                shutil.copyfile(source.keras_file, path / export.KERAS_FILE)
            else:
                (path / trained.TFLITE_FILE).write_bytes(flatbuffer)

        written, _ = export.publish(directory, name, write)
        located = trained.locate(written)
        summary: dict[str, Any] = {
            "output": str(written), "format": format, "quantize": quantize,
            "bytes": folder_size(located.path), "float_savedmodel_bytes": folder_size(reference),
        }
        summary["size_ratio"] = summary["bytes"] / summary["float_savedmodel_bytes"]
        if quantize:
            # The float TFLite model, for the size the quantization saves.
            summary["float_tflite_bytes"] = len(to_tflite(reference, None))
            summary["size_ratio_to_float_tflite"] = summary["bytes"] / summary["float_tflite_bytes"]
        if evaluate and data is not None and hasattr(data, "x_test"):
            inputs = trained.as_inputs(data.x_test)
            log(f"Scoring both on {len(inputs)} test examples of {data.source}")
            summary["test"] = _scores(located, data, inputs)
            summary["float_test"] = _scores(trained.locate(reference), data, inputs)
    return summary


def _scores(model: trained.Trained, data: Any, inputs: np.ndarray) -> dict:
    from kerasdl import evaluation

    return evaluation.test_scores(data, model.predictor()(inputs))
