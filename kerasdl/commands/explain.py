"""``kerasdl explain``: which pixels drove a convolutional classifier's
answer, as Grad-CAM maps laid over the images (``evaluation/gradcam.py``).

Images are read as ``kerasdl predict`` reads them. ``--test N`` explains
the first N test images of the model's recipe too and checks the maps:
covering the 20 % of pixels Grad-CAM ranks highest against covering a
random 20 %, and the maps of the same architecture with random weights.
The gradients come from the model's Keras file, loaded in safe mode.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from kerasdl.artifacts import trained
from kerasdl.commands import evaluate as evaluating
from kerasdl.commands.predict import read_inputs
from kerasdl.data import catalogue as data_catalogue
from kerasdl.errors import InputError
from kerasdl.evaluation import figures, gradcam
from kerasdl.runtime import atomic, preflight

SUMMARY = "explanations.json"
NAMES = {"gradcam": "Grad-CAM", "hirescam": "HiResCAM"}
# Test images drawn in the test figure (the checks use all --test images).
SHOWN = 8


def explain(
    model_path: str, images: Sequence[str] = (), explained: Optional[str] = None, layer: Optional[str] = None,
    test: int = 0, recipe_or_data: Optional[str] = None, overrides: Sequence[str] = (),
    output: Optional[str] = None, log: Callable[[str], None] = print, trust_savedmodel: bool = False,
    method: str = "gradcam",
) -> dict:
    """Writes a Grad-CAM overlay per image (``<name>_gradcam.png``) and, with
    ``test``, ``grad_cam.png`` of test images and the two checks, with
    ``explanations.json``, to ``output`` (default
    ``explanations/<name>/<timestamp>/``), whole or not at all.

    Args:
        explained: The class to explain (a name or an index); by default
            each image's predicted class.
        layer: The feature map to explain (``gradcam.Explainer``).
        method: ``gradcam`` or ``hirescam`` (``gradcam.METHODS``).
        test: How many test images of the recipe's data to explain and check.

    Raises:
        InputError: a model without gradients or a convolutional map, an
            unreadable image, an unknown class or layer.
    """
    if not images and not test:
        raise InputError("Give images to explain, or --test N to explain N test images of the model's data.")
    found = trained.locate(model_path, trust_savedmodel)
    if found.keras_file is None:
        raise InputError(
            f"{found.path}: Grad-CAM needs the model's gradients, which kerasdl takes from the Keras model "
            f"({trained.KERAS_FILE}) it exports beside a SavedModel; this {found.kind} has none. Explain the run "
            "folder or an export kerasdl wrote."
        )
    shape, is_text = found.input_shape()
    if is_text or len(shape) != 3:
        raise InputError(f"{found.path}: takes {'strings' if is_text else f'examples of shape {shape}'}; Grad-CAM "
                         "explains models of images.")
    model = found.keras_model()
    explainer = gradcam.Explainer(model, layer, method)
    names = found.class_names or [str(index) for index in range(int(model.outputs[0].shape[-1]))]
    chosen = _class_index(explained, names, found) if explained is not None else None
    folder = Path(output) if output else atomic.unused_stamp(Path("explanations") / found.name)
    if folder.exists() and any(folder.iterdir()):
        raise InputError(f"{folder}: already holds files; give --output a new folder.")
    preflight.writable_folder(str(folder), "--output", "kerasdl explain")
    summary: dict[str, Any] = {"model": str(found.path), "method": method, "layer": explainer.layer,
                               "explanations": []}
    title = f"{found.name}: {NAMES[method]} at {explainer.layer}"
    pictures: list[tuple[str, np.ndarray, np.ndarray, list[str], str]] = []
    if images:
        pixels, labels = read_inputs(images, shape, False)
        result = explainer.explain(pixels, None if chosen is None else [chosen] * len(pixels))
        for index, label in enumerate(labels):
            entry = {"input": label, **gradcam.answers(result, names)[index], "png": _file_name(label, summary)}
            summary["explanations"].append(entry)
            pictures.append((entry["png"], pixels[index:index + 1], result["maps"][index:index + 1],
                             [gradcam.caption(entry)], title))
    if test:
        test_images, truth, source = _test_images(found, test, recipe_or_data, overrides)
        log(f"Explaining {len(test_images)} test images of {source} and checking the maps")
        result = explainer.explain(test_images[:SHOWN])
        captions = [f"{names[label]}\n{gradcam.caption(entry)}"
                    for label, entry in zip(truth, gradcam.answers(result, names))]
        pictures.append((figures.EXPLAINED, test_images[:SHOWN], result["maps"], captions,
                         f"{title} (captions: the true class, then the explained one)"))
        summary["checks"] = {
            "dataset": source,
            "masking": gradcam.masking_check(explainer, test_images),
            "randomized_weights": gradcam.randomization_check(
                explainer, gradcam.Explainer(gradcam.randomized(model), explainer.layer, method), test_images),
        }
    summary["output"] = str(folder)

    def write(staging: Path) -> None:
        for name, shown, maps, captions, heading in pictures:
            figures.explanations(staging / name, shown, maps, captions, heading)
        (staging / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")

    atomic.write_folder(folder, write)
    return summary


def lines(summary: dict) -> list[str]:
    """Each explanation, the checks, and where they went."""
    text = [f"{entry['input']}: {gradcam.caption(entry)} -> {entry['png']}" for entry in summary["explanations"]]
    if "checks" in summary:
        masking, random = summary["checks"]["masking"], summary["checks"]["randomized_weights"]
        share, name = f"{masking['fraction_masked']:.0%}", NAMES[summary["method"]]
        text.append(f"Masking the top {share} of {name}'s pixels against a random {share}, {masking['images']} test "
                    f"images (mean probability {masking['probability']:.4f}), the fall of the predicted class's:")
        for fill, found in masking["fills"].items():
            interval = found["interval_95"]
            text.append(
                f"  covered with {fill.replace('_', ' ')}: {found['drop_map']:.4f} against {found['drop_random']:.4f}, "
                f"difference {found['difference']:+.4f}"
                + (f" (95 % interval [{interval[0]:+.4f}, {interval[1]:+.4f}])" if interval else ""))
        text.append(f"Maps of the same architecture with random weights: mean rank correlation "
                    f"{random['mean_rank_correlation']:+.3f} with the trained model's")
    return text + [f"Written: {summary['output']}"]


def _file_name(label: str, summary: dict) -> str:
    """``<stem>_gradcam.png``, numbered when two inputs share a stem; a
    name kerasdl makes (the input's path never chooses the folder)."""
    stem = "".join(char if char.isalnum() or char in "-_." else "_" for char in Path(label).stem.replace("[", "_"))
    taken = {entry["png"] for entry in summary["explanations"]}
    name, number = f"{stem.strip('._') or 'input'}_gradcam.png", 2
    while name in taken or name == figures.EXPLAINED:
        name, number = f"{stem}_{number}_gradcam.png", number + 1
    return name


def _class_index(explained: str, names: Sequence[str], found: trained.Trained) -> int:
    if explained in names:
        return list(names).index(explained)
    if explained.isdigit() and int(explained) < len(names):
        return int(explained)
    raise InputError(f"--class {explained}: {found.path} has no such class. Its classes: {', '.join(names)} (or "
                     f"an index from 0 to {len(names) - 1}).")


def _test_images(found: trained.Trained, count: int, recipe_or_data: Optional[str],
                 overrides: Sequence[str]) -> tuple[np.ndarray, np.ndarray, str]:
    """The first ``count`` test images of the recipe's data and their labels."""
    recipe = evaluating.recipe_for(found, recipe_or_data, overrides)
    data = data_catalogue.from_recipe(recipe)
    if not hasattr(data, "y_test") or getattr(data, "class_names", None) is None:
        raise InputError(f"{recipe.path}: data.dataset: {data.source} has no labelled test images to explain.")
    evaluating.check_fits(found, data, recipe)
    batches, taken = [], 0
    for batch in trained.test_batches(data):
        batches.append(batch[:count - taken])
        taken += len(batches[-1])
        if taken >= count:
            break
    return np.concatenate(batches), np.asarray(data.y_test)[:taken], data.source
