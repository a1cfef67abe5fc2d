"""``kerasdl predict``: a trained model's answers for inputs given on the
command line: image files, a ``.npy`` batch, or strings for a text model.

Images are read as the data was (raw 0-255 pixels), converted to the
model's channels (grey or RGB) and resized to its input size when they
differ. A classifier's answer is its top classes with probabilities
(named from ``class_names.txt`` when the model came with it); a
forecaster's is its forecast; an anomaly detector's is each input's score
and, against the threshold its run chose, its verdict. A model that takes
images of any size and answers images (a super-resolution generator)
takes each image as it is, and its answers are PNG files in a new folder
(``--output``, by default ``predictions/<name>/<timestamp>/``), written
whole or not at all.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from kerasdl.artifacts import trained
from kerasdl.data.files import IMAGE_SUFFIXES
from kerasdl.data.readers import ImageReader
from kerasdl.errors import InputError
from kerasdl.runtime import atomic, preflight


def read_image(path: Path, shape: tuple) -> np.ndarray:
    """An image file as pixels 0-255 of ``shape`` (height, width, channels),
    decoded and resized as image-folder datasets stream theirs
    (``data.readers.ImageReader``)."""
    import tensorflow as tf

    height, width, channels = shape
    if channels not in (1, 3):
        raise InputError(f"{path}: the model takes images with {channels} channels; kerasdl reads grey or RGB "
                         "images only.")
    try:
        return ImageReader((height, width), channels)(tf.constant(str(path))).numpy()
    except tf.errors.InvalidArgumentError as error:
        reason = str(error).split("}}")[-1].split("[Op:")[0].strip()
        raise InputError(f"{path}: cannot be read as an image ({reason}).") from None


def read_inputs(values: Sequence[str], shape: tuple, is_text: bool) -> tuple[np.ndarray, list[str]]:
    """The model's inputs from the command line, and a label for each.

    Raises:
        InputError: naming the input that cannot be used.
    """
    if is_text:
        return np.array(list(values), dtype=object), list(values)
    batches, labels = [], []
    for value in values:
        path = Path(value)
        if not path.is_file():
            raise InputError(f"{value}: no such file. The model takes images or a .npy batch of shape {shape}.")
        if path.suffix.lower() == ".npy":
            array = _read_npy(path, shape)
            batches.append(array)
            labels += [f"{value}[{index}]" for index in range(len(array))] if len(array) > 1 else [value]
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            if len(shape) != 3:
                raise InputError(f"{value}: the model takes examples of shape {shape}, not images; give a .npy batch.")
            batches.append(read_image(path, shape)[None])
            labels.append(value)
        else:
            raise InputError(
                f"{value}: unknown input type; expected an image ({', '.join(IMAGE_SUFFIXES)}) or a .npy batch."
            )
    return np.concatenate(batches).astype(np.float32), labels


def _read_npy(path: Path, shape: tuple) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise InputError(f"{path}: cannot be read as a .npy array ({error}).") from None
    if not isinstance(array, np.ndarray):  # np.load opens an .npz archive whatever the name.
        array.close()
        raise InputError(f"{path}: is an .npz archive, not one .npy array. Save the batch with np.save.")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise InputError(f"{path}: holds {array.dtype} values; the model takes numbers. Save a numeric array.")
    if _fits(array.shape, shape):
        array = array[None]
    if not _fits(array.shape[1:], shape):
        raise InputError(
            f"{path}: holds an array of shape {array.shape}; the model takes a batch of shape (n, "
            f"{', '.join(map(str, shape))})."
        )
    if not len(array):
        raise InputError(f"{path}: holds no examples (shape {array.shape}). Save at least one.")
    return array


def _fits(given: tuple, shape: tuple) -> bool:
    """Whether an example of shape ``given`` fits ``shape`` (``None``: any size)."""
    return len(given) == len(shape) and all(want is None or want == have for have, want in zip(given, shape))


def predict(model_path: str, values: Sequence[str], top: int = 3, trust_savedmodel: bool = False,
            output: Optional[str] = None) -> dict:
    """The model's answers for ``values`` (see the module).

    Returns:
        ``{"model", "format", "predictions": [...]}``, one entry per input:
        ``{"input", "top": [{"class", "index", "probability"}]}`` for a
        classifier, ``{"input", "forecast": [...]}`` for a forecaster,
        ``{"input", "score", "anomalous", "threshold"}`` for an anomaly detector,
        ``{"input", "image", "shape"}`` for a model that answers images
        (and the result's ``output``, their folder).
    """
    if not values:
        raise InputError("Give at least one input: image files, a .npy batch, or strings for a text model.")
    model = trained.locate(model_path, trust_savedmodel)
    shape, is_text = model.input_shape()
    if len(shape) == 3 and None in shape[:2]:
        return _images(model, values, shape, output)
    inputs, labels = read_inputs(values, shape, is_text)
    outputs = model.predictor()(inputs)
    if model.class_names is not None and outputs.ndim == 2 and len(model.class_names) != outputs.shape[1]:
        raise InputError(
            f"{model.path}: its class_names.txt names {len(model.class_names)} classes, but the model answers with "
            f"{outputs.shape[1]} probabilities. The file does not belong to this model: restore it from the run folder."
        )
    if model.anomaly is not None or outputs.ndim == 1:  # An anomaly detector: one score an input.
        return {"model": str(model.path), "format": model.kind, "predictions": _verdicts(model, labels, outputs)}
    classifier = model.class_names is not None or _looks_like_probabilities(outputs)
    decision = _decision(model, outputs) if classifier else None
    predictions: list[dict[str, Any]] = []
    for label, row in zip(labels, outputs):
        if not classifier:
            predictions.append({"input": label, "forecast": [float(value) for value in row]})
            continue
        best = np.argsort(-row)[:top]
        names = model.class_names or [str(index) for index in range(len(row))]
        predictions.append({
            "input": label,
            "top": [{"class": names[index], "index": int(index), "probability": float(row[index])} for index in best],
        })
        if decision is not None:  # Two classes: the threshold chosen on validation data decides.
            predictions[-1]["decision"] = {
                "class": names[1] if row[1] >= decision["threshold"] else names[0],
                "probability": float(row[1]), **decision,
            }
    return {"model": str(model.path), "format": model.kind, "predictions": predictions}


def _images(model: trained.Trained, values: Sequence[str], shape: tuple, output: Optional[str]) -> dict:
    """The answers of a model of images of any size (see the module), each
    input answered at its own size."""
    folder = Path(output) if output else atomic.unused_stamp(Path("predictions") / model.name)
    if folder.exists() and any(folder.iterdir()):
        raise InputError(f"{folder}: already holds files; give --output a new folder.")
    preflight.writable_folder(str(folder), "--output", "kerasdl predict")
    answer, answered = model.predictor(), []
    for value in values:  # One at a time: an image, or a .npy batch of images of one size.
        inputs, labels = read_inputs([value], shape, False)
        outputs = np.asarray(answer(inputs))
        if outputs.ndim != 4 or outputs.shape[-1] not in (1, 3):
            raise InputError(f"{model.path}: takes images of any size but answers {outputs.shape[1:]} an input, "
                             "not images: kerasdl writes the answers of an image-to-image model only.")
        answered += zip(labels, outputs)
    names = _file_names([label for label, _ in answered])

    def write(staging: Path) -> None:
        import tensorflow as tf

        for name, (_, image) in zip(names, answered):
            pixels = np.clip(np.round(image), 0, 255).astype(np.uint8)
            (staging / name).write_bytes(tf.io.encode_png(pixels).numpy())

    atomic.write_folder(folder, write)
    predictions = [{"input": label, "image": str(folder / name), "shape": list(image.shape)}
                   for name, (label, image) in zip(names, answered)]
    return {"model": str(model.path), "format": model.kind, "output": str(folder), "predictions": predictions}


def _file_names(labels: list[str]) -> list[str]:
    """A PNG name for each input (``photo.png``, ``batch.npy[3]``), unique."""
    names: list[str] = []
    for label in labels:
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(label).name.replace(".npy[", "_").rstrip("]"))
        stem = Path(stem).stem or "image"
        name, count = f"{stem}.png", 1
        while name in names:
            name, count = f"{stem}_{count}.png", count + 1
        names.append(name)
    return names


def _verdicts(model: trained.Trained, labels: list[str], scores: np.ndarray) -> list[dict]:
    """Each input's anomaly score and, with the model's threshold, its verdict."""
    if scores.ndim != 1:
        raise InputError(f"{model.path}: has an anomaly threshold, but the model answers {scores.shape[1:]} values "
                         "an input, not one score. The file does not belong to this model: restore it from the run "
                         "folder.")
    found = []
    for label, score in zip(labels, scores):
        found.append({"input": label, "score": float(score)})
        if model.anomaly is not None:
            found[-1].update(anomalous=bool(score > model.anomaly["threshold"]), threshold=model.anomaly["threshold"])
    return found


def _decision(model: trained.Trained, outputs: np.ndarray) -> Optional[dict]:
    """The model's decision threshold, when it has one and it fits its two classes."""
    if model.decision is None:
        return None
    names = model.class_names or []
    if outputs.ndim != 2 or outputs.shape[1] != 2 or names[1:2] != [model.decision["positive_class"]]:
        raise InputError(
            f"{model.path}: its decision threshold is for the positive class {model.decision['positive_class']!r} "
            f"of a two-class model, but the model answers {outputs.shape[1:]} with classes {names}. The file does "
            "not belong to this model: restore it from the run folder.")
    return model.decision


def _looks_like_probabilities(outputs: np.ndarray) -> bool:
    return bool(outputs.ndim == 2 and np.all(outputs >= 0) and np.allclose(outputs.sum(axis=1), 1.0, atol=1e-3))


def lines(result: dict) -> list[str]:
    """The answers as text, one input after another."""
    text = []
    for entry in result["predictions"]:
        if "image" in entry:
            height, width = entry["shape"][:2]
            answers = f"{width}x{height} image, {entry['image']}"
        elif "score" in entry:
            answers = f"anomaly score {entry['score']:.4g}"
            if "anomalous" in entry:
                answers += (f": {'anomalous' if entry['anomalous'] else 'normal'} (threshold "
                            f"{entry['threshold']:.4g})")
        elif "top" in entry:
            answers = ", ".join(f"{choice['class']} {choice['probability']:.1%}" for choice in entry["top"])
            if "decision" in entry:
                decided = entry["decision"]
                answers += (f"; decision: {decided['class']} (P({decided['positive_class']}) "
                            f"{decided['probability']:.1%}, threshold {decided['threshold']:.1%})")
        else:
            answers = "forecast " + ", ".join(f"{value:.4g}" for value in entry["forecast"])
        text.append(f"{entry['input']}: {answers}")
    return text
