"""TensorFlow Lite: a SavedModel's serving signature converted to a TFLite
flatbuffer, optionally quantized: ``dynamic`` range (int8 weights),
``float16`` weights, or ``int8`` weights and activations calibrated on a
representative sample of the training data (inputs and outputs stay
float32). And reading one: each file opened first in a child process
(``probe``: the interpreter's C++ code crashes on a truncated file), then
run a slice at a time (``predictor``)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
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


# Opens a .tflite file and runs it once, in a child process: a file the
# interpreter's C++ code crashes on kills the child, not kerasdl.
_PROBE = """
import sys
import numpy as np
from tensorflow.lite.python.interpreter import Interpreter
interpreter = Interpreter(model_path=sys.argv[1], num_threads=1)
interpreter.allocate_tensors()
for detail in interpreter.get_input_details():
    interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
interpreter.invoke()
"""


# The .tflite files this process probed or wrote, as (path, size, mtime):
# each is probed once (a probe starts TensorFlow in a child, seconds).
_SOUND: set = set()


def _identity(path: Path) -> tuple:
    status = path.stat()
    return str(path.resolve()), status.st_size, status.st_mtime_ns


def vouch_for(path: Path) -> None:
    """Marks a .tflite file this process wrote as sound (no probe)."""
    _SOUND.add(_identity(path))


def probe(path: Path) -> None:
    """Refuses a .tflite file that is not a TFLite flatbuffer or that the
    interpreter cannot open and run (checked in a child process, once per
    file and process; files ``vouch_for`` names are not checked).

    Raises:
        InputError: naming the file.
    """
    if _identity(path) in _SOUND:
        return
    with open(path, "rb") as handle:
        header = handle.read(8)
    if len(header) < 8 or header[4:8] != b"TFL3":
        raise InputError(f"{path}: is not a TFLite model (no TFL3 identifier at byte 4). Export one with kerasdl "
                         "export --format tflite.")
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, str(path)], capture_output=True, text=True, timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    if probe.returncode != 0:
        if probe.returncode < 0:
            how = f"died ({signal.Signals(-probe.returncode).name})"
        else:
            errors = [line for line in probe.stderr.splitlines() if "Error" in line.split(":")[0]]
            how = f"failed ({errors[-1].strip()})" if errors else "failed"
        raise InputError(
            f"{path}: the TFLite interpreter {how} opening and running this file once in a separate process. "
            "The file is truncated or corrupt: export it again."
        )
    _SOUND.add(_identity(path))


def interpreter(path: Path) -> Any:
    """The TFLite interpreter of a ``.tflite`` file, once ``probe`` found it sound."""
    import tensorflow as tf

    probe(path)
    try:
        return tf.lite.Interpreter(model_path=str(path), num_threads=2)
    except ValueError as error:
        raise InputError(f"{path}: is not a TFLite model ({error}).") from None


def predictor(interpreter: Any, chunk: int) -> Callable[[np.ndarray], np.ndarray]:
    """Runs the TFLite interpreter over the inputs, ``chunk`` examples at a
    time, quantizing and dequantizing where its tensors are integers."""
    allocated = [-1]

    def predict(inputs: np.ndarray) -> np.ndarray:
        outputs = []
        for start in range(0, len(inputs), chunk):
            part = inputs[start:start + chunk]
            source = interpreter.get_input_details()[0]
            if allocated[0] != len(part):
                interpreter.resize_tensor_input(source["index"], [len(part), *source["shape"][1:]])
                interpreter.allocate_tensors()
                allocated[0] = len(part)
            source = interpreter.get_input_details()[0]
            target = interpreter.get_output_details()[0]
            interpreter.set_tensor(source["index"], _quantized(part, source))
            interpreter.invoke()
            outputs.append(_dequantized(interpreter.get_tensor(target["index"]), target))
        return np.concatenate(outputs) if outputs else np.zeros((0,))

    return predict


def _quantized(values: np.ndarray, details: dict) -> np.ndarray:
    """Quantizes float inputs for an integer input tensor; casts otherwise."""
    scale, zero_point = details["quantization"]
    if np.issubdtype(details["dtype"], np.integer) and scale:
        info = np.iinfo(details["dtype"])
        return np.clip(np.round(values / scale + zero_point), info.min, info.max).astype(details["dtype"])
    return values.astype(details["dtype"])


def _dequantized(values: np.ndarray, details: dict) -> np.ndarray:
    scale, zero_point = details["quantization"]
    if np.issubdtype(details["dtype"], np.integer) and scale:
        return (values.astype(np.float32) - zero_point) * scale
    return values.astype(np.float32)
