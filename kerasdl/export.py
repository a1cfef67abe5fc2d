"""Export: a verified SavedModel in the TF Serving layout, written atomically.

``<directory>/<name>/<version>/`` holds ``saved_model.pb``, ``variables/``
and ``assets.extra/class_names.txt``. Its ``serving_default`` signature
takes ``inputs`` (float32, raw values as in the data, e.g. 0-255 pixels,
shape ``[batch, *input_shape]``) and returns ``probabilities`` (float32,
``[batch, num_classes]``).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from kerasdl.errors import ExportError

SIGNATURE = "serving_default"
INPUT_NAME = "inputs"
OUTPUT_NAME = "probabilities"


def next_version(folder: Path) -> int:
    """TF Serving versions are integers; the next is one past the highest."""
    versions = [int(p.name) for p in folder.iterdir() if p.name.isdigit()] if folder.is_dir() else []
    return max(versions, default=0) + 1


def _write(model: keras.Model, path: Path) -> None:
    archive = keras.export.ExportArchive()
    archive.track(model)
    spec = tf.TensorSpec((None,) + tuple(model.input_shape[1:]), tf.float32, name=INPUT_NAME)

    def serve(inputs: tf.Tensor) -> dict:
        return {OUTPUT_NAME: model(inputs, training=False)}

    archive.add_endpoint(name=SIGNATURE, fn=serve, input_signature=[spec])
    archive.write_out(str(path), verbose=False)


def verify(path: Path, model: keras.Model, sample: np.ndarray, atol: float = 1e-4) -> float:
    """Reloads the SavedModel and compares its outputs with the model's.

    Returns:
        The largest absolute difference seen.

    Raises:
        ExportError: if the outputs differ by more than ``atol``.
    """
    loaded = tf.saved_model.load(str(path))
    serve = loaded.signatures[SIGNATURE]
    inputs = tf.constant(sample, tf.float32)
    exported = serve(**{INPUT_NAME: inputs})[OUTPUT_NAME].numpy()
    expected = keras.ops.convert_to_numpy(model(inputs, training=False))
    difference = float(np.max(np.abs(exported - expected)))
    if not difference <= atol:
        raise ExportError(
            f"The SavedModel at {path} does not reproduce the trained model: "
            f"max |difference| = {difference:.3g} > {atol}."
        )
    return difference


def export_savedmodel(
    model: keras.Model,
    directory: str,
    name: str,
    sample: np.ndarray,
    class_names: Sequence[str],
    check: bool = True,
) -> tuple[Path, Optional[float]]:
    """Writes, verifies, then moves a SavedModel into place.

    The model is written to a hidden temporary folder beside its final place
    and renamed only once complete and verified, so a crash never leaves a
    half-written version that TF Serving would pick up.

    Returns:
        The version folder and the verification's max difference (None
        when ``check`` is off).
    """
    parent = Path(directory) / name
    parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=".tmp-export-", dir=parent))
    try:
        _write(model, temporary / "model")
        extra = temporary / "model" / "assets.extra"
        extra.mkdir(exist_ok=True)
        (extra / "class_names.txt").write_text("\n".join(class_names) + "\n")
        difference = verify(temporary / "model", model, sample) if check else None
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
