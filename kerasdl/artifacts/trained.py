"""Trained models on disk: what ``kerasdl evaluate``, ``predict`` and
``export`` (and a transfer-learning backbone) take as MODEL.

MODEL may be:

- a run folder (``runs/<name>/<timestamp>/``): its ``model.keras``,
  ``recipe.yaml`` and ``class_names.txt``;
- an export version folder (``saved_models/<name>/<version>/``) holding a
  SavedModel, a ``model.tflite`` or a ``model.keras``, with
  ``assets.extra/`` (``recipe.yaml``, ``class_names.txt`` and, beside a
  SavedModel, the ``model.keras`` it was written from);
- the folder of the versions (``saved_models/<name>/``): the newest one;
- a ``.keras`` or ``.tflite`` file.

Trust (docs/using.md, "Loading models you did not train"): a model file may come
from anyone, so nothing in it runs code or chooses where kerasdl writes.

- A ``.keras`` file is loaded in Keras's safe mode (a ``Lambda`` layer's
  code is refused).
- A SavedModel is a TensorFlow graph that runs its own ops (it can write
  files). It answers through its ``serving_default`` signature only when
  the user says it is trusted (``--trust-savedmodel``); otherwise the
  ``model.keras`` that kerasdl writes beside it answers (verified equal
  at export), and a SavedModel without one is refused.
- A ``.tflite`` file is opened by the TFLite interpreter, whose C++ code
  crashes on a truncated file: it is opened first in a child process
  (``tflite.probe``), and refused if the child dies.
- The name in a model's ``recipe.yaml`` must be a valid recipe name (no
  ``..``, no separators) before it names an output folder.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np

from kerasdl.artifacts import tflite
from kerasdl.artifacts.layout import (
    ANOMALY_FILE,
    ASSETS,
    DECISION_FILE,
    KERAS_FILE,
    RECIPE_FILE,
    SAVED_MODEL,
    SIGNATURE,
    TFLITE_FILE,
)
from kerasdl.data.dataset import CLASS_NAMES_FILE
from kerasdl.data.kinds import Examples
from kerasdl.errors import InputError
from kerasdl.schema import NAME_PATTERN

# Inputs go through a model in slices of this many examples.
CHUNK = 256


@dataclasses.dataclass
class Trained:
    """A trained model found on disk, and what came with it."""

    path: Path
    kind: str  # "run", "savedmodel", "tflite" or "keras"
    keras_file: Optional[Path]
    recipe_file: Optional[Path]
    class_names: Optional[list[str]]
    # Whether a SavedModel's own graph may run (the user trusts it).
    trusted: bool = False
    # A two-class classifier's decision threshold (layout.DECISION_FILE), checked.
    decision: Optional[dict] = None
    # An anomaly detector's threshold on its score (layout.ANOMALY_FILE), checked.
    anomaly: Optional[dict] = None
    # What was loaded from disk, kept: the shape and the answers need the same model.
    _loaded: dict = dataclasses.field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        """The recipe's name where one came with the model, else the file's
        (folder names: checked, since the file may come from anyone).

        Raises:
            InputError: naming the file, for a name that is not a recipe name.
        """
        name, source = (self.path.stem if self.path.is_file() else self.path.name), self.path
        if self.recipe_file is not None:
            from kerasdl.recipe.yaml_text import load_recipe_text, parse_yaml

            recipe = parse_yaml(load_recipe_text(self.recipe_file), str(self.recipe_file))
            given = recipe.get("name") if isinstance(recipe, dict) else None
            name, source = (given, self.recipe_file) if given else (name, source)
        if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
            raise InputError(
                f"{source}: its name {name!r} cannot name a folder kerasdl writes (letters, digits, '_', '-' "
                "and '.', not starting with '.'). Fix the name in the model's recipe.yaml, or rename the file."
            )
        return name

    @property
    def runs_graph(self) -> bool:
        """Whether answers come from a SavedModel's own graph."""
        return self.kind == "savedmodel" and (self.trusted or self.keras_file is None)

    def keras_model(self) -> Any:
        """The Keras model itself (for conversion and fine-tuning).

        Raises:
            InputError: when only a SavedModel or TFLite file is there.
        """
        if self.keras_file is None:
            raise InputError(
                f"{self.path}: holds no Keras model ({KERAS_FILE}); kerasdl needs one to convert or "
                "fine-tune a model. Use the run folder or an export that kerasdl wrote."
            )
        import keras

        # kerasdl's serializable classes (the GAN, layers, schedules, losses) register on import.
        from kerasdl.models import (  # noqa: F401
            anomaly,
            fused,
            gan,
            heads,
            losses,
            preprocessing,
            restoration,
            schedules,
            test_time,
        )

        if "keras" not in self._loaded:
            _refuse_graph_layers(self.keras_file)
            try:
                self._loaded["keras"] = keras.saving.load_model(self.keras_file, safe_mode=True)
            except Exception as error:  # Keras raises many kinds for a bad file.
                raise InputError(f"{self.keras_file}: is not a Keras model file Keras can load ({error}).") from None
        return self._loaded["keras"]

    def deployed_model(self) -> Any:
        """The Keras model that answers inputs: ``keras_model``, or the part
        of it that a model names as its ``served`` network (a
        super-resolution ``Restorer``'s generator: the whole takes full-size
        images only to downscale them for it)."""
        model = self.keras_model()
        return getattr(model, "served", model)

    def predictor(self) -> Callable[[np.ndarray], np.ndarray]:
        """A function from a batch of inputs (as in the data: raw pixels,
        strings, windows) to the model's outputs, as a NumPy array."""
        if self.runs_graph:
            return _saved_model_predictor(self._signature())
        if self.kind == "tflite":
            return tflite.predictor(self._interpreter(), CHUNK)
        model = self.deployed_model()
        return lambda inputs: np.asarray(model.predict(inputs, batch_size=CHUNK, verbose=0))

    def _signature(self) -> Any:
        if not self.trusted:
            raise InputError(
                f"{self.path}: a SavedModel without the {KERAS_FILE} kerasdl writes beside it "
                f"({ASSETS}/{KERAS_FILE}). A SavedModel runs its own TensorFlow operations, which can read and "
                "write files: kerasdl runs one only when you trust it. Pass --trust-savedmodel if you made it "
                "or trust who did."
            )
        if "signature" not in self._loaded:
            self._loaded["signature"] = _signature(self.path)
        return self._loaded["signature"]

    def _interpreter(self) -> Any:
        if "interpreter" not in self._loaded:
            self._loaded["interpreter"] = tflite.interpreter(self.path)
        return self._loaded["interpreter"]

    def input_shape(self) -> tuple:
        """One example's shape (``()`` for a string) and whether inputs are
        strings: ``(shape, is_text)``."""
        if self.runs_graph:
            import tensorflow as tf

            spec = self._signature().structured_input_signature[1]
            (tensor,) = spec.values()
            return tuple(tensor.shape[1:]), tensor.dtype == tf.string
        if self.kind == "tflite":
            details = self._interpreter().get_input_details()[0]
            return tuple(int(size) for size in details["shape"][1:]), False
        model = self.deployed_model()
        if not getattr(model, "inputs", None) or len(model.inputs) != 1:
            raise InputError(
                f"{self.keras_file}: is a {type(model).__name__} without one input tensor (a GAN's whole model, or a "
                "subclassed one): kerasdl answers with classifiers and forecasters. For a GAN, use the generator "
                "its run exported (docs/gan.md)."
            )
        return tuple(model.inputs[0].shape[1:]), model.inputs[0].dtype == "string"


# Keras layers that load a TensorFlow graph from a path their config names:
# that graph runs its own operations (it can write files), as a SavedModel does.
GRAPH_LAYERS = ("TFSMLayer",)


def _refuse_graph_layers(keras_file: Path) -> None:
    """Refuses a ``.keras`` file whose config names a layer that loads a
    SavedModel (Keras's safe mode refuses it too, from 3.14 on: this says
    why in kerasdl's words, and does not depend on the Keras version).

    Raises:
        InputError: naming the file and the layer.
    """
    import zipfile

    try:
        with zipfile.ZipFile(keras_file) as archive:
            config = archive.read("config.json") if "config.json" in archive.namelist() else b""
    except (OSError, zipfile.BadZipFile, RuntimeError):
        return  # Not an archive: Keras's loader names the problem.
    for layer in GRAPH_LAYERS:
        if layer.encode() in config:
            raise InputError(
                f"{keras_file}: holds a {layer}, which loads a TensorFlow SavedModel from a path its config names "
                "and runs that graph's operations (they can read and write files). kerasdl loads .keras files "
                "in safe mode only: export the model without it, or run the SavedModel itself with "
                "--trust-savedmodel if you trust who made it."
            )


def locate(path: str | Path, trust_savedmodel: bool = False) -> Trained:
    """Finds the model at ``path`` (see the module's list).

    Args:
        trust_savedmodel: Let a SavedModel's own graph answer (see the
            module: only for a SavedModel the user trusts).

    Raises:
        InputError: naming the path, when it does not exist or holds no
            model kerasdl knows.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(
            f"{path}: no such file or folder. Give a run folder (runs/<name>/<timestamp>), an export "
            "(saved_models/<name>[/<version>]), or a .keras or .tflite file."
        )
    if path.is_file():
        if path.suffix == ".keras":
            return Trained(path, "keras", path, None, None)
        if path.suffix == ".tflite":
            return _with_assets(Trained(path, "tflite", None, None, None), path.parent / ASSETS)
        raise InputError(f"{path}: is not a model file kerasdl reads: expected a .keras or .tflite file.")
    versions = sorted((int(child.name) for child in path.iterdir() if child.name.isdigit() and child.is_dir()))
    if versions and not (path / SAVED_MODEL).exists():
        return locate(path / str(versions[-1]), trust_savedmodel)
    if (path / RECIPE_FILE).is_file() and (path / KERAS_FILE).is_file():
        return _with_assets(Trained(path, "run", path / KERAS_FILE, None, None), path)
    for kind, marker in (("savedmodel", SAVED_MODEL), ("tflite", TFLITE_FILE), ("keras", KERAS_FILE)):
        if (path / marker).is_file():
            found = Trained(path if kind == "savedmodel" else path / marker, kind, None, None, None)
            found = _with_assets(found, path / ASSETS)
            if kind == "keras":
                found.keras_file = path / marker
            elif kind == "savedmodel" and (path / ASSETS / KERAS_FILE).is_file():
                found.keras_file = path / ASSETS / KERAS_FILE
            found.trusted = trust_savedmodel
            return found
    hint = " (an unfinished run: it has no model yet)" if (path / RECIPE_FILE).is_file() else ""
    raise InputError(
        f"{path}: holds no model kerasdl knows{hint}: expected a run folder with {KERAS_FILE}, a SavedModel "
        f"({SAVED_MODEL}), {TFLITE_FILE} or {KERAS_FILE}."
    )


def as_inputs(examples: np.ndarray) -> np.ndarray:
    """A data split's examples as a model takes them: strings as they are,
    numbers as float32."""
    return examples if examples.dtype == object else examples.astype(np.float32)


def predict_test(predict: Callable[[np.ndarray], np.ndarray], data: Examples) -> np.ndarray:
    """``predict`` (a ``Trained.predictor``) over the test split of ``data``:
    whole for arrays, batch by batch for data streamed from files."""
    if not data.streamed:
        return predict(as_inputs(data.x_test))
    return np.concatenate([predict(batch) for batch in test_batches(data)])


def test_batches(data: Examples) -> Iterator[np.ndarray]:
    """The test split's inputs as a model takes them, ``CHUNK`` at a time
    (read from files for streamed data, a read error naming the file)."""
    if not data.streamed:
        for start in range(0, data.test_examples, CHUNK):
            yield as_inputs(data.x_test[start:start + CHUNK])
        return
    from kerasdl.data.streaming import as_numpy  # TensorFlow: only for streamed data.

    with data.reading():
        for batch in data.test_inputs(CHUNK):
            yield as_inputs(as_numpy(batch))


def _with_assets(found: Trained, folder: Path) -> Trained:
    if (folder / RECIPE_FILE).is_file():
        found.recipe_file = folder / RECIPE_FILE
    if (folder / CLASS_NAMES_FILE).is_file():
        found.class_names = (folder / CLASS_NAMES_FILE).read_text(errors="replace").splitlines()
    if (folder / DECISION_FILE).is_file():
        found.decision = _decision(folder / DECISION_FILE)
    if (folder / ANOMALY_FILE).is_file():
        found.anomaly = _anomaly_threshold(folder / ANOMALY_FILE)
    return found


def _decision(path: Path) -> dict:
    """A decision threshold file, which may come from anyone: a number in
    [0, 1] and a class name, or an error naming the file."""
    try:
        decision = json.loads(path.read_text())
        threshold, positive = decision["threshold"], decision["positive_class"]
        valid = isinstance(threshold, (int, float)) and not isinstance(threshold, bool) and 0 <= threshold <= 1
    except (ValueError, KeyError, TypeError):
        valid = False
    if not valid or not isinstance(positive, str):
        raise InputError(f"{path}: is not a decision threshold kerasdl wrote (a JSON object with a threshold in "
                         "[0, 1] and a positive_class name). Restore it from the run folder, or delete it to decide "
                         "by the larger probability.")
    return {"threshold": float(threshold), "positive_class": positive, "rule": str(decision.get("rule", ""))}


def _anomaly_threshold(path: Path) -> dict:
    """An anomaly threshold file, which may come from anyone: a finite
    number, or an error naming the file."""
    try:
        threshold = json.loads(path.read_text())["threshold"]
        valid = isinstance(threshold, (int, float)) and not isinstance(threshold, bool) and np.isfinite(threshold)
    except (ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        raise InputError(f"{path}: is not an anomaly threshold kerasdl wrote (a JSON object with a finite threshold). "
                         "Restore it from the run folder, or delete it to see the scores alone.")
    return {"threshold": float(threshold)}


def _signature(path: Path) -> Any:
    import tensorflow as tf

    try:
        return tf.saved_model.load(str(path)).signatures[SIGNATURE]
    except (OSError, KeyError, ValueError) as error:
        raise InputError(f"{path}: is not a SavedModel with a {SIGNATURE} signature ({error}).") from None


def _saved_model_predictor(serve: Any) -> Callable[[np.ndarray], np.ndarray]:
    import tensorflow as tf

    from kerasdl.models.anomaly import SCORE

    (name, spec), = serve.structured_input_signature[1].items()

    def predict(inputs: np.ndarray) -> np.ndarray:
        outputs = []
        for start in range(0, len(inputs), CHUNK):
            part = inputs[start:start + CHUNK]
            tensor = tf.constant(part.tolist() if spec.dtype == tf.string else part, spec.dtype)
            answered = serve(**{name: tensor})
            # An anomaly detector answers its verdict beside the score; the score is what a threshold reads.
            result = answered[SCORE] if SCORE in answered else next(iter(answered.values()))
            outputs.append(result.numpy())
        return np.concatenate(outputs) if outputs else np.zeros((0,))

    return predict
