"""The super-resolution task: a generator learns to undo downscaling
(``scale`` times smaller), against a discriminator, on a dataset's
full-size images (their labels unused).

Trained with ``fit`` like any other model (run folder, history, resume)
with two optimizers; the ``Restorer``'s step is in
``kerasdl/models/restoration.py``. Scored by PSNR and SSIM on the test
split against bicubic and nearest-neighbour upscaling of the same
downscaled images, with a grid of restorations after every epoch (run
folder and TensorBoard). The export is the generator alone: low-resolution
images of any size in, ``scale`` times larger out, which ``kerasdl
predict`` writes as PNG files.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Optional

import keras
import numpy as np

from kerasdl.artifacts import savedmodel
from kerasdl.builders.super_resolution import build_super_resolution
from kerasdl.data.kinds import Examples
from kerasdl.errors import RecipeError
from kerasdl.evaluation import restoration
from kerasdl.evaluation.grids import GRID_COLUMNS, grid, write_png
from kerasdl.models.restoration import RESTORED, Restorer, degrade
from kerasdl.recipe.resolve import Recipe
from kerasdl.registry import register_task
from kerasdl.runtime import provenance, runs, summaries
from kerasdl.schema import TOP_LEVEL
from kerasdl.tasks.gan import TwoNetworks
from kerasdl.tasks.task import Task

RESTORATIONS = "restorations.png"
RESTORATIONS_DIR = "restorations"
# What the export says about itself, in assets.extra/.
DESCRIPTION_FILE = "super_resolution.json"
# The grid's rows, top to bottom: one test image per column.
ROWS = ("nearest", "bicubic", "restored", "original")


def rows(restorer: Restorer, images: np.ndarray) -> np.ndarray:
    """``images`` (uint8-able, full size) as the grid's rows: nearest and
    bicubic upscaling of their downscaled copies, the restorer's
    restoration, and the originals."""
    shown = [restoration.upscaled(images, restorer.scale, method) for method in ROWS[:2]]
    shown += [np.asarray(restorer(images, training=False)), images]
    return np.concatenate([np.clip(np.round(row), 0, 255).astype(np.uint8) for row in shown])


def scale_of(recipe: Recipe) -> int:
    """The recipe's ``model.scale`` (the builder's default if unset)."""
    default = inspect.signature(build_super_resolution).parameters["scale"].default
    return int(recipe["model"].get("scale", default))


class RestorationGrid(keras.callbacks.Callback):
    """After each epoch, ``GRID_COLUMNS`` test images restored (rows:
    ``ROWS``): ``restorations/epoch_NNN.png``, the latest also
    ``restorations.png``, and TensorBoard's Images dashboard
    (``logs/samples``).

    Args:
        folder: The run folder.
        images: The test images shown, full size.
    """

    def __init__(self, folder: Path, images: np.ndarray):
        super().__init__()
        self.folder, self.images = folder, images
        self.board = summaries.Images(folder / runs.LOGS / summaries.SAMPLES)

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        picture = grid(rows(self.model, self.images), columns=len(self.images))
        (self.folder / RESTORATIONS_DIR).mkdir(exist_ok=True)
        write_png(self.folder / RESTORATIONS_DIR / f"epoch_{epoch + 1:03d}.png", picture)
        write_png(self.folder / RESTORATIONS, picture)
        self.board.add("restorations", picture, epoch, "Rows: " + ", ".join(ROWS) + " (the same test images).")

    def on_train_end(self, logs: Optional[dict] = None) -> None:
        self.board.close()


@register_task("super_resolution")
class SuperResolution(TwoNetworks, Task):
    """The ``super_resolution`` builder on images."""

    builders = ("super_resolution",)
    data_kinds = ("examples",)
    streams = False  # The baselines and the grids read arrays of images.
    keeps_best = False  # With the adversarial term its losses do not rank its images: the last epoch is kept.
    prunes = False  # Its own step (two optimizers).
    logs = ("content", "psnr")

    def check(self) -> None:
        super().check()
        recipe = self.recipe
        if len(tuple(self.data.input_shape)) != 3:
            raise RecipeError(f"{recipe.path}: data.dataset: super-resolution restores images, and {self.data.source} "
                              f"has {self.data.description}. Use a dataset of images.")
        for key in ("loss", "metrics"):
            if recipe[key] != TOP_LEVEL[key].default:
                raise RecipeError(
                    f"{recipe.path}: {key}: a super-resolution model trains on model.content_loss (and the "
                    f"discriminator's verdict, model.adversarial_weight) and is scored by PSNR and SSIM. Remove "
                    f"{key}. Received: {key}={recipe[key]!r}")

    def check_metrics(self) -> None:
        """Nothing to check: restorations are scored by PSNR and SSIM, not by ``metrics``."""

    def epoch_outputs(self, folder: Path) -> list:
        return [RestorationGrid(folder, np.asarray(self.data.x_test[:GRID_COLUMNS], np.float32))]

    # -- After training --------------------------------------------------------

    def compiled_scores(self, predictions: np.ndarray) -> dict:
        """None: the model has no compiled loss; ``scores`` are its test scores."""
        return {}

    @classmethod
    def scores(cls, data: Examples, predictions: np.ndarray) -> dict:
        """PSNR and SSIM of the restored test images against the originals."""
        return restoration.scores(np.asarray(data.x_test, np.float32), predictions)

    @classmethod
    def deployed_test_inputs(cls, recipe: Recipe, data: Examples) -> np.ndarray:
        """The test images downscaled: what the exported generator restores."""
        return np.asarray(degrade(np.asarray(data.x_test, np.float32), scale_of(recipe)))

    def baselines(self) -> dict:
        """Bicubic and nearest-neighbour upscaling of the same downscaled test images."""
        return restoration.baselines(np.asarray(self.data.x_test, np.float32), self.model.scale)

    def save(self, folder: Path) -> None:
        """The whole ``Restorer`` (``model.keras``: what a killed run resumes
        from and ``kerasdl evaluate`` of the run folder scores); no class
        names, which would make the export look like a classifier."""
        runs.save_model(folder, self.model, {})

    def export(self, folder: Path) -> tuple[Path, Optional[float]]:
        """The generator alone: ``low_resolution`` images in, ``restored``
        out (``assets.extra/model.keras`` is the generator too, and
        ``super_resolution.json`` says what it takes)."""
        recipe, restorer = self.recipe, self.model
        sample = np.asarray(degrade(np.asarray(self.data.x_test[:16], np.float32), restorer.scale))
        description = {
            "scale": restorer.scale,
            "input": "low_resolution: float32 [batch, height, width, channels], pixels 0-255, any height and width",
            "output": f"{RESTORED}: float32 [batch, {restorer.scale}*height, {restorer.scale}*width, channels], "
                      "pixels 0-255",
            "trained_on": f"{self.data.source}, downscaled by the mean of each {restorer.scale}x{restorer.scale} "
                          "square",
        }
        assets = {DESCRIPTION_FILE: json.dumps(description, indent=2) + "\n", runs.RECIPE: recipe.to_yaml(),
                  **provenance.asset(folder)}
        return savedmodel.export_savedmodel(
            restorer.served, recipe["export"]["directory"], recipe.name, sample, assets, output_name=RESTORED,
            check=recipe["export"]["verify"], precision=self.placement.precision, origin=folder,
        )

    def report(self, folder: Path) -> dict:
        """The latest grid of restorations (on the chief) and the scale."""
        chief = self.placement.is_chief
        return {"scale": self.model.scale, "restorations": str(folder / RESTORATIONS) if chief else None}
