"""Export: a verified SavedModel in the TF Serving layout, written atomically.

``<directory>/<name>/<version>/`` holds ``saved_model.pb``, ``variables/``
and ``assets.extra/``. The ``serving_default`` signature takes ``inputs``
as in the data: float32 raw values (0-255 pixels, ppm, ...) shaped
``[batch, *input_shape]``, or for a text model strings shaped ``[batch]``.
A classifier returns ``probabilities`` (float32, ``[batch, num_classes]``;
``assets.extra/class_names.txt`` names the classes), a forecaster
``forecast`` (float32, ``[batch, horizon]``; ``assets.extra/series.json``
says how to feed it). Word vectors: see ``export_word_vectors``; a GAN's
generator: ``export_generator``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from kerasdl import runs
from kerasdl.errors import ExportError

SIGNATURE = "serving_default"
# Beside the SavedModel, ignored by TF Serving: the Keras model (as in a run folder), recipe, class names.
ASSETS = "assets.extra"
KERAS_FILE = runs.MODEL
INPUT_NAME = "inputs"
OUTPUT_NAME = "probabilities"
# Word-vector exports: strings in; a second signature for neighbours.
WORDS_INPUT = "words"
NEIGHBOURS = "neighbours"


def next_version(folder: Path) -> int:
    """TF Serving versions are integers; the next is one past the highest."""
    versions = [int(p.name) for p in folder.iterdir() if p.name.isdigit()] if folder.is_dir() else []
    return max(versions, default=0) + 1


def _input_dtype(model: keras.Model) -> tf.DType:
    return tf.string if model.inputs[0].dtype == "string" else tf.float32


def write_savedmodel(model: keras.Model, path: Path, output_name: str) -> None:
    """Writes the model's serving_default signature (inputs -> output_name) to ``path``, unverified."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    spec = tf.TensorSpec((None,) + tuple(model.input_shape[1:]), _input_dtype(model), name=INPUT_NAME)

    def serve(inputs: tf.Tensor) -> dict:
        return {output_name: model(inputs, training=False)}

    archive.add_endpoint(name=SIGNATURE, fn=serve, input_signature=[spec])
    archive.write_out(str(path), verbose=False)


# How closely a reloaded export must reproduce the model, by the precision
# it computes in: (absolute, relative) tolerance. A mixed-precision model's
# SavedModel may pick other kernels, each rounding to 8 (bfloat16) or 11
# (float16) significant bits.
TOLERANCES = {"float32": (1e-4, 0.0), "mixed_float16": (2e-3, 2e-3), "mixed_bfloat16": (2e-2, 2e-2)}


def verify(path: Path, model: keras.Model, sample: np.ndarray, output_name: str = OUTPUT_NAME, precision: str = "float32") -> float:
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
    expected = keras.ops.convert_to_numpy(model(inputs, training=False))
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
    output_name: str = OUTPUT_NAME,
    check: bool = True,
    precision: str = "float32",
    keras_file: Optional[Path] = None,
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

    return publish(directory, name, write)


def write_assets(path: Path, assets: dict[str, str]) -> Path:
    """Writes ``assets`` (file name -> text) to the export's ``assets.extra/``
    (TF Serving ignores that folder) and returns the folder."""
    extra = path / ASSETS
    extra.mkdir(exist_ok=True)
    for file_name, text in assets.items():
        (extra / file_name).write_text(text)
    return extra


def publish(directory: str, name: str, write: Callable[[Path], Optional[float]]) -> tuple[Path, Optional[float]]:
    """Runs ``write(path)`` into a hidden temporary folder beside the final
    place, then renames it to the next version: a crash never leaves a
    half-written version that TF Serving would pick up.

    Returns:
        The version folder and what ``write`` returned (its verification's
        max difference).
    """
    parent = Path(directory) / name
    parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=".tmp-export-", dir=parent))
    try:
        difference = write(temporary / "model")
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


class _WordVectorModule(tf.Module):
    """Strings in, vectors out; and the nearest neighbours of strings."""

    def __init__(self, words: Sequence[str], vectors: np.ndarray, lowercase: bool):
        super().__init__()
        self.lowercase = lowercase
        self.words = tf.constant(list(words))
        self.vectors = tf.Variable(vectors, trainable=False, name="vectors")
        norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        self.unit = tf.Variable(vectors / norms, trainable=False, name="unit_vectors")
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(self.words, tf.range(len(words), dtype=tf.int64)), default_value=-1
        )

    def _rows(self, words: tf.Tensor) -> tf.Tensor:
        return self.table.lookup(tf.strings.lower(words, encoding="utf-8") if self.lowercase else words)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=WORDS_INPUT)])
    def lookup(self, words: tf.Tensor) -> dict:
        rows = self._rows(words)
        known = rows >= 0
        vectors = tf.gather(self.vectors, tf.maximum(rows, 0))
        return {"vectors": tf.where(known[:, None], vectors, tf.zeros_like(vectors)), "known": known}

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.string, name=WORDS_INPUT), tf.TensorSpec([], tf.int32, name="count"),
    ])
    def neighbours(self, words: tf.Tensor, count: tf.Tensor) -> dict:
        rows = self._rows(words)
        known = rows >= 0
        similarities = tf.matmul(tf.gather(self.unit, tf.maximum(rows, 0)), self.unit, transpose_b=True)
        itself = tf.one_hot(tf.maximum(rows, 0), tf.shape(self.unit)[0], on_value=-3.0, off_value=0.0)
        best = tf.math.top_k(similarities + itself, k=count)
        return {
            "neighbours": tf.where(known[:, None], tf.gather(self.words, best.indices), ""),
            "similarities": tf.where(known[:, None], best.values, 0.0),
            "known": known,
        }


def export_word_vectors(vectors: Any, directory: str, name: str, lowercase: bool, check: bool = True) -> tuple[Path, Optional[float]]:
    """Exports word vectors as a SavedModel (TF Serving layout, atomic).

    Signatures: ``serving_default`` takes ``words`` (string ``[batch]``)
    and returns ``vectors`` ``[batch, dim]`` (zeros for an unknown word)
    and ``known`` (bool); ``neighbours`` also takes ``count`` and returns
    the ``count`` nearest ``neighbours`` and their cosine ``similarities``
    (empty and 0 for an unknown word). Queries are lowercased when the
    corpus was. ``assets.extra/`` holds the vectors in word2vec text format
    and as TSV for the Embedding Projector.

    Args:
        vectors: A ``wordvectors.WordVectors``.
    """

    def write(path: Path) -> Optional[float]:
        module = _WordVectorModule(vectors.words, vectors.vectors, lowercase)
        tf.saved_model.save(module, str(path), signatures={SIGNATURE: module.lookup, NEIGHBOURS: module.neighbours})
        extra = write_assets(path, {})
        vectors.write_word2vec(extra / "vectors.txt")
        vectors.write_projector(extra)
        return verify_word_vectors(path, vectors) if check else None

    return publish(directory, name, write)


def verify_word_vectors(path: Path, vectors: Any, sample: int = 64, atol: float = 1e-6) -> float:
    """Reloads the export and checks known words' vectors and an unknown word.

    Raises:
        ExportError: if a vector differs or the unknown word is not flagged.
    """
    serve = tf.saved_model.load(str(path)).signatures[SIGNATURE]
    words = list(vectors.words[:sample]) + ["\u2400not-a-word\u2400"]
    result = serve(**{WORDS_INPUT: tf.constant(words)})
    exported, known = result["vectors"].numpy(), result["known"].numpy()
    difference = float(np.max(np.abs(exported[:-1] - vectors.vectors[:sample])))
    if not (difference <= atol and known[:-1].all() and not known[-1] and not exported[-1].any()):
        raise ExportError(
            f"The SavedModel at {path} does not reproduce the word vectors "
            f"(max |difference| {difference:.3g}, unknown word flagged: {not known[-1]})."
        )
    return difference


# Generator exports: latent vectors (and class ids) in, uint8 images out.
LATENT_INPUT = "latent"
CLASS_INPUT = "class_id"
IMAGES_OUTPUT = "images"


def to_uint8(images: Any, value_range: Sequence[float] = (0.0, 255.0)) -> Any:
    """Maps generated pixel values from ``value_range`` to 0-255, rounded
    and clipped, as uint8."""
    low, high = (float(value) for value in value_range)
    scaled = (tf.cast(images, tf.float32) - low) * (255.0 / (high - low))
    return tf.cast(tf.clip_by_value(tf.round(scaled), 0.0, 255.0), tf.uint8)


class _GeneratorModule(tf.Module):
    """The serving function of a generator, with the uint8 conversion."""

    def __init__(self, generator: keras.Model, conditional: bool, value_range: Sequence[float]):
        super().__init__()
        self.generator = generator
        latent_dim = int((generator.input[LATENT_INPUT] if conditional else generator.input).shape[-1])
        latent = tf.TensorSpec([None, latent_dim], tf.float32, name=LATENT_INPUT)
        if conditional:
            self.serve = tf.function(
                lambda latent, class_id: {IMAGES_OUTPUT: to_uint8(
                    generator({LATENT_INPUT: latent, CLASS_INPUT: class_id}, training=False), value_range
                )},
                input_signature=[latent, tf.TensorSpec([None], tf.int32, name=CLASS_INPUT)],
            )
        else:
            self.serve = tf.function(
                lambda latent: {IMAGES_OUTPUT: to_uint8(generator(latent, training=False), value_range)},
                input_signature=[latent],
            )


def export_generator(
    generator: keras.Model,
    directory: str,
    name: str,
    sample: dict[str, np.ndarray],
    assets: dict[str, str],
    value_range: Sequence[float] = (0.0, 255.0),
    check: bool = True,
) -> tuple[Path, Optional[float]]:
    """Exports a GAN's generator as a SavedModel (TF Serving layout, atomic).

    The ``serving_default`` signature takes ``latent`` (float32 ``[batch,
    latent_dim]``, standard normal) and, for a conditional generator,
    ``class_id`` (int32 ``[batch]``), and returns ``images`` (uint8
    ``[batch, height, width, channels]``, pixels 0-255).

    Args:
        sample: The inputs the reloaded export is verified on, by name.
        assets: File name -> text, written to ``assets.extra/``.
        value_range: The generator's pixel range, mapped to 0-255.

    Returns:
        The version folder and the verification's largest pixel difference
        (None when ``check`` is off).
    """
    conditional = CLASS_INPUT in sample

    def write(path: Path) -> Optional[float]:
        module = _GeneratorModule(generator, conditional, value_range)
        tf.saved_model.save(module, str(path), signatures={SIGNATURE: module.serve})
        write_assets(path, assets)
        return verify_generator(path, generator, sample, value_range) if check else None

    return publish(directory, name, write)


def verify_generator(
    path: Path, generator: keras.Model, sample: dict[str, np.ndarray],
    value_range: Sequence[float] = (0.0, 255.0), atol: int = 1,
) -> float:
    """Reloads a generator export and compares its images with the generator's.

    A pixel may differ by one where a value lies on a rounding boundary.

    Raises:
        ExportError: if the images differ by more than ``atol`` levels, or
            are not uint8 of the generator's shape.
    """
    serve = tf.saved_model.load(str(path)).signatures[SIGNATURE]
    inputs = {key: tf.constant(value) for key, value in sample.items()}
    exported = serve(**inputs)[IMAGES_OUTPUT]
    model_inputs = inputs if CLASS_INPUT in inputs else inputs[LATENT_INPUT]
    expected = to_uint8(generator(model_inputs, training=False), value_range).numpy()
    if exported.dtype != tf.uint8 or tuple(exported.shape) != expected.shape:
        raise ExportError(
            f"The SavedModel at {path} returns {exported.dtype.name} images of shape {tuple(exported.shape)}; "
            f"expected uint8 of shape {expected.shape}."
        )
    difference = float(np.max(np.abs(exported.numpy().astype(np.int16) - expected.astype(np.int16))))
    if not difference <= atol:
        raise ExportError(
            f"The SavedModel at {path} does not reproduce the generator: max |difference| = {difference:.0f} "
            f"pixel levels > {atol}."
        )
    return difference
