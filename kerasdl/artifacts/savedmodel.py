"""Export: a verified SavedModel in the TF Serving layout, written atomically.

``<directory>/<name>/<version>/`` holds ``saved_model.pb``, ``variables/``
and ``assets.extra/``. The ``serving_default`` signature takes ``inputs``
as in the data: float32 raw values (0-255 pixels, ppm, ...) shaped
``[batch, *input_shape]``, or for a text model strings shaped ``[batch]``.
A classifier returns ``probabilities`` (float32, ``[batch, num_classes]``;
``assets.extra/class_names.txt`` names the classes), a forecaster
``forecast`` (float32, ``[batch, horizon]``; ``assets.extra/series.json``
says how to feed it): the data's ``output_name``. An anomaly detector
returns ``score`` (float32, ``[batch]``) and ``anomalous`` (bool). Word vectors and a GAN's
generator have exporters of their own (``word_vectors.py``,
``generator.py``) that publish through ``publish`` here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable, Optional

import keras
import numpy as np
import tensorflow as tf

from kerasdl.artifacts.layout import ASSETS, INPUT_NAME, KERAS_FILE, SIGNATURE
from kerasdl.data.dataset import PROBABILITIES
from kerasdl.errors import ExportError
from kerasdl.runtime import atomic, faults

# In assets.extra/: the run folder that wrote the export (and its verification).
ORIGIN = "origin.json"


def next_version(folder: Path) -> int:
    """TF Serving versions are integers; the next is one past the highest."""
    versions = [int(p.name) for p in folder.iterdir() if p.name.isdigit()] if folder.is_dir() else []
    return max(versions, default=0) + 1


def _input_dtype(model: keras.Model) -> tf.DType:
    return tf.string if model.inputs[0].dtype == "string" else tf.float32


def write_savedmodel(model: keras.Model, path: Path, output_name: str) -> None:
    """Writes the model's serving_default signature (inputs -> output_name,
    or a model's named outputs) to ``path``, unverified."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    spec = tf.TensorSpec((None,) + tuple(model.input_shape[1:]), _input_dtype(model), name=INPUT_NAME)

    def serve(inputs: tf.Tensor) -> dict:
        outputs = model(inputs, training=False)  # A model of named outputs names them itself.
        return outputs if isinstance(outputs, dict) else {output_name: outputs}

    archive.add_endpoint(name=SIGNATURE, fn=serve, input_signature=[spec])
    archive.write_out(str(path), verbose=False)


# How closely a reloaded export must reproduce the model, by the precision
# it computes in: (absolute, relative) tolerance. A mixed-precision model's
# SavedModel may pick other kernels, each rounding to 8 (bfloat16) or 11
# (float16) significant bits.
TOLERANCES = {"float32": (1e-4, 0.0), "mixed_float16": (2e-3, 2e-3), "mixed_bfloat16": (2e-2, 2e-2)}


def verify(path: Path, model: keras.Model, sample: np.ndarray, output_name: str = PROBABILITIES,
           precision: str = "float32") -> float:
    """Reloads the SavedModel and compares its outputs with the model's.

    Returns:
        The largest absolute difference seen.

    Raises:
        ExportError: if an output differs by more than the ``precision``'s
            tolerance (``TOLERANCES``).
    """
    loaded = tf.saved_model.load(str(path))
    serve = loaded.signatures[SIGNATURE]
    inputs = tf.constant(sample.tolist() if sample.dtype == object else sample, _input_dtype(model))
    exported = serve(**{INPUT_NAME: inputs})[output_name].numpy()
    expected = model(inputs, training=False)
    expected = keras.ops.convert_to_numpy(expected[output_name] if isinstance(expected, dict) else expected)
    difference = float(np.max(np.abs(exported - expected)))
    atol, rtol = TOLERANCES[precision]
    if not np.all(np.abs(exported - expected) <= atol + rtol * np.abs(expected)):
        raise ExportError(
            f"The SavedModel at {path} does not reproduce the trained model: "
            f"max |difference| = {difference:.3g} > {atol}"
            + (f" + {rtol} x |output| ({precision})." if rtol else ".")
        )
    return difference


def export_savedmodel(
    model: keras.Model,
    directory: str,
    name: str,
    sample: np.ndarray,
    assets: dict[str, str],
    output_name: str = PROBABILITIES,
    check: bool = True,
    precision: str = "float32",
    keras_file: Optional[Path] = None,
    origin: Optional[Path] = None,
) -> tuple[Path, Optional[float]]:
    """Writes, verifies, then moves a model's SavedModel into place.

    Args:
        sample: Inputs the reloaded export must answer as the model does.
        assets: File name -> text, written to ``assets.extra/`` (with
            ``model.keras``, the model itself).
        output_name: The signature's output: ``probabilities`` or ``forecast``.
        precision: The dtype policy the model computes in (the
            verification's tolerance).
        keras_file: The model already saved as ``.keras`` (the run
            folder's), copied rather than saved again; None saves it.
        origin: The run folder exporting (``publish``).

    Returns:
        The version folder and the verification's max difference (None
        when ``check`` is off).
    """

    def write(path: Path) -> Optional[float]:
        write_savedmodel(model, path, output_name)
        # The Keras model beside the SavedModel: what `kerasdl export` converts
        # and a transfer-learning backbone starts from.
        extra = write_assets(path, assets)
        if keras_file is not None:
            shutil.copyfile(keras_file, extra / KERAS_FILE)
        else:
            model.save(extra / KERAS_FILE)
        return verify(path, model, sample, output_name, precision) if check else None

    return publish(directory, name, write, origin)


def write_assets(path: Path, assets: dict[str, str]) -> Path:
    """Writes ``assets`` (file name -> text) to the export's ``assets.extra/``
    (TF Serving ignores that folder) and returns the folder."""
    extra = path / ASSETS
    extra.mkdir(exist_ok=True)
    for file_name, text in assets.items():
        (extra / file_name).write_text(text)
    return extra


def publish(
    directory: str, name: str, write: Callable[[Path], Optional[float]], origin: Optional[Path] = None,
) -> tuple[Path, Optional[float]]:
    """Runs ``write(path)`` into a hidden temporary folder beside the final
    place, then renames it to the next version: a crash never leaves a
    half-written version that TF Serving would pick up.

    Args:
        origin: The run folder exporting, written to ``assets.extra/``
            (``ORIGIN``): a run killed after its export was in place finds
            it there when it resumes, rather than writing a second version.

    Returns:
        The version folder and what ``write`` returned (its verification's
        max difference).
    """
    parent = Path(directory) / name
    if origin is not None:
        found = find_published(parent, origin)
        if found is not None:
            return found
    temporary = atomic.staging_folder(parent, "export")
    try:
        difference = write(temporary / "model")
        if origin is not None:
            record = {"run_dir": str(origin), "max_difference": difference}
            write_assets(temporary / "model", {ORIGIN: json.dumps(record, indent=2) + "\n"})
        faults.point("export")
        while True:
            final = parent / str(next_version(parent))
            try:
                (temporary / "model").rename(final)
                break
            except OSError:
                if not final.exists():
                    raise
        return final, difference
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def find_published(parent: Path, origin: Path) -> Optional[tuple[Path, Optional[float]]]:
    """The version that the run in ``origin`` exported, with its
    verification's difference, if there is one."""
    if not parent.is_dir():
        return None
    for version in parent.iterdir():
        try:
            record = json.loads((version / ASSETS / ORIGIN).read_text())
        except (OSError, ValueError):
            continue
        if version.name.isdigit() and record.get("run_dir") == str(origin):
            return version, record.get("max_difference")
    return None
