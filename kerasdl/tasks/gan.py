"""The GAN task: trained with ``fit`` like any other model (run folder,
history, resume), with two optimizers, a sample grid after every epoch,
the judge's scores instead of a test loss, and the generator's export.

The adversarial training step itself is the ``GAN`` model's
(``kerasdl/models/gan.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional

import keras
import numpy as np

from kerasdl.artifacts.generator import export_generator, to_uint8
from kerasdl.data.dataset import CLASS_NAMES_FILE, class_names_text
from kerasdl.data.kinds import Examples
from kerasdl.errors import RecipeError
from kerasdl.evaluation import judge
from kerasdl.evaluation.grids import GRID_COLUMNS, grid, write_png
from kerasdl.models.gan import CLASS_ID, GAN, LATENT
from kerasdl.recipe.resolve import Recipe
from kerasdl.registry import register_task
from kerasdl.runtime import atomic, faults, provenance, runs, summaries
from kerasdl.tasks.task import Task

SAMPLES = "samples.png"
SAMPLES_DIR = "samples"
QUALITY = "quality.json"
# The judges live beside the runs, shared by every GAN recipe of a dataset.
JUDGES_DIR = "judges"


def fixed_inputs(gan: GAN, count: int, seed: int, num_classes: int) -> dict[str, np.ndarray]:
    """The same latent vectors (and class ids: one class per grid row) every time."""
    latent = np.random.default_rng(seed).standard_normal((count, gan.latent_dim)).astype(np.float32)
    inputs = {LATENT: latent}
    if gan.conditional:
        inputs[CLASS_ID] = (np.arange(count) // GRID_COLUMNS % num_classes).astype(np.int32)
    return inputs


def generate(gan: GAN, inputs: dict[str, np.ndarray], batch_size: int = 500) -> np.ndarray:
    """uint8 images from named inputs, as the export returns them."""
    images = []
    for start in range(0, len(inputs[LATENT]), batch_size):
        batch = {key: value[start:start + batch_size] for key, value in inputs.items()}
        generated = gan.generator(batch if gan.conditional else batch[LATENT], training=False)
        images.append(to_uint8(generated, gan.value_range).numpy())
    return np.concatenate(images)


class SampleGrid(keras.callbacks.Callback):
    """After each epoch, a grid of samples from fixed latent vectors
    (``samples/epoch_NNN.png``; a conditional GAN's rows are the classes in
    order), so the epochs can be compared image by image; the latest is
    also ``samples.png``. TensorBoard's Images dashboard gets each grid too
    (``logs/samples``, a slider over the epochs).

    Args:
        folder: The run folder.
        inputs: From ``fixed_inputs``.
    """

    def __init__(self, folder: Path, inputs: dict[str, np.ndarray]):
        super().__init__()
        self.folder = folder
        self.inputs = inputs
        self.images = summaries.Images(folder / runs.LOGS / summaries.SAMPLES)  # TensorBoard's Images dashboard.

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        picture = grid(generate(self.model, self.inputs))
        (self.folder / SAMPLES_DIR).mkdir(exist_ok=True)
        write_png(self.folder / SAMPLES_DIR / f"epoch_{epoch + 1:03d}.png", picture)
        write_png(self.folder / SAMPLES, picture)
        self.images.add("samples", picture, epoch, "The same latent vectors after every epoch"
                        + (" (rows: the classes)." if CLASS_ID in self.inputs else "."))

    def on_train_end(self, logs: Optional[dict] = None) -> None:
        self.images.close()


class TwoNetworks:
    """``compile`` for a task whose model trains two networks, each with an
    optimizer (``models.gan.TwoOptimizers``); put it before ``Task`` among
    the bases."""

    def compile(self, optimizer: Optional[dict] = None, epochs: Optional[int] = None) -> None:
        """One optimizer per network, both from the recipe's ``optimizer`` section."""
        self.model.compile(
            discriminator_optimizer=self.optimizer(optimizer, epochs),
            generator_optimizer=self.optimizer(optimizer, epochs),
            **self.execution(),
        )


@register_task("gan")
class GANTask(TwoNetworks, Task):
    """The ``gan`` builder on images (with their class ids)."""

    builders = ("gan",)
    data_kinds = ("examples",)
    streams = False  # The judge and the sample grids read arrays of real images.
    keeps_best = False  # Its losses do not measure its samples: the last epoch is kept.
    sections = ("quality",)
    prunes = False  # Its own step (two optimizers; a sparse loop).
    not_tunable = ("a GAN's losses do not measure its samples, so `kerasdl tune` has no objective to "
                   "search it by. Compare GAN settings with `kerasdl run --set ...` and the FID each run prints.")

    def check(self) -> None:
        super().check()
        recipe = self.recipe
        for key in ("early_stopping", "reduce_on_plateau"):
            if recipe["training"][key]:
                raise RecipeError(
                    f"{recipe.path}: training.{key}: a GAN's losses do not fall as it improves, so there is "
                    f"no plateau to act on. Set training.{key}: false and choose training.epochs."
                )

    def check_metrics(self) -> None:
        """Nothing to check: a GAN is scored by its judge, not by ``metrics``."""

    def epoch_outputs(self, folder: Path) -> list:
        gan, num_classes = self.model, self.data.num_classes
        rows = num_classes if gan.conditional else GRID_COLUMNS
        seed = self.recipe["training"]["seed"]
        return [SampleGrid(folder, fixed_inputs(gan, rows * GRID_COLUMNS, seed, num_classes))]

    def evaluate(self, folder: Path) -> dict:
        """No test loss: the judge scores the samples (``quality``), on the
        chief alone (local work)."""
        self.quality: dict = judge_samples(self.recipe, self.model, self.data, folder,
                                           self.log) if self.placement.is_chief else {}
        if self.quality:
            summaries.scores(folder / runs.LOGS / summaries.EVALUATION, self.quality, self.epochs_trained(folder),
                             prefix="quality/")
        return {"test": {}, "baselines": {}}

    def save(self, folder: Path) -> None:
        """The samples and quality.json are the run's record; the generator
        is exported."""

    def export(self, folder: Path) -> tuple[Path, Optional[float]]:
        return save_generator(self.recipe, self.model, self.data, origin=folder, assets=provenance.asset(folder))

    def report(self, folder: Path) -> dict:
        """The judge's scores and, on the chief, the latest sample grid."""
        chief = self.placement.is_chief
        return {"quality": self.quality, "samples": str(folder / SAMPLES) if chief else None}


def judge_samples(recipe: Recipe, gan: GAN, data: Examples, folder: Path, log: Callable[[str], None]) -> dict:
    """The judge's scores of the trained generator (``quality.json`` in the
    run folder), or {} when ``quality.enabled`` is off."""
    settings = recipe["quality"]
    if not settings["enabled"]:
        return {}
    seed = recipe["training"]["seed"]
    referee = judge.load_or_train(
        data, str(Path(recipe["training"]["runs_dir"]) / JUDGES_DIR), settings["judge_epochs"], seed, log=log
    )

    def sample(latent: np.ndarray, class_id: Optional[np.ndarray]) -> np.ndarray:
        inputs = {LATENT: latent} if class_id is None else {LATENT: latent, CLASS_ID: class_id.astype(np.int32)}
        return generate(gan, inputs)

    faults.point("judge")
    result = judge.score(
        sample, referee, data, latent_dim=gan.latent_dim, conditional=gan.conditional,
        samples=settings["samples"], seed=seed,
    )
    result["judge"] = str(referee.path)
    for line in judge.report(result):
        log(line)
    atomic.write_json(folder / QUALITY, result)
    return result


def save_generator(
    recipe: Recipe, gan: GAN, data: Examples, origin: Optional[Path] = None, assets: Optional[dict] = None,
) -> tuple[Path, Optional[float]]:
    """The generator's verified SavedModel; ``assets.extra`` says what it
    takes, with ``assets`` (file name -> text, the run's environment.json)."""
    description = {
        "latent_dim": gan.latent_dim,
        "conditional": gan.conditional,
        "image_shape": list(gan.generator.output_shape[1:]),
        "latent_distribution": "standard normal",
    }
    assets = {**(assets or {}), "generator.json": json.dumps(description, indent=2) + "\n"}
    if gan.conditional:
        assets[CLASS_NAMES_FILE] = class_names_text(data.class_names)
    sample = fixed_inputs(gan, 16, recipe["training"]["seed"] + 1, data.num_classes)
    return export_generator(
        gan.generator, recipe["export"]["directory"], recipe.name, sample, assets,
        value_range=gan.value_range, check=recipe["export"]["verify"], origin=origin,
    )
