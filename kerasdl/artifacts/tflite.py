"""TensorFlow Lite: a SavedModel's serving signature converted to a TFLite
flatbuffer, optionally quantized: ``dynamic`` range (int8 weights),
``float16`` weights, or ``int8`` weights and activations calibrated on a
representative sample of the training data (inputs and outputs stay
float32)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from kerasdl.artifacts.layout import ASSETS, SIGNATURE
from kerasdl.data.kinds import Examples
from kerasdl.errors import InputError

# Calibration examples for int8 (TFLite's guide suggests a few hundred).
REPRESENTATIVE = 300


def folder_size(path: Path) -> int:
    """Bytes of a model file, or of a SavedModel folder less ``assets.extra``."""
    if path.is_file():
        return path.stat().st_size
    return sum(
        file.stat().st_size for file in path.rglob("*")
        if file.is_file() and ASSETS not in file.relative_to(path).parts
    )


def _representative(recipe: Any, data: Optional[Examples]) -> Callable:
    """The calibration sample: the first examples of the training split."""
    if data.kind == "texts":
        raise InputError(f"{recipe.path}: int8 quantization calibrates on numeric inputs; this model reads strings.")
    sample = data.sample(REPRESENTATIVE, "train").astype(np.float32)

    def examples():
        for index in range(len(sample)):
            yield [sample[index:index + 1]]

    return examples


def to_tflite(saved_model: Path, quantize: Optional[str], recipe: Any = None, data: Optional[Examples] = None) -> bytes:
    """Converts a SavedModel's serving signature to a TFLite flatbuffer.

    Raises:
        InputError: naming the quantization (or plain conversion) when the
            model's ops do not support it, with the converter's reason.
    """
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=[SIGNATURE])
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
