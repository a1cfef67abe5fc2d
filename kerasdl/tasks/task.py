"""The task protocol: what ``kerasdl run`` and ``kerasdl tune`` do for one
model family, and its default, a Keras model trained with ``fit``.

The run loop (``loop.py``) drives any task through the same steps and
never asks which family it has::

    task = TaskClass(recipe, data, placement)   # checks the recipe
    task.prepare()                              # split, pipelines, build, compile
    task.train(folder, verbose)                 # its phases of fit (or the family's own loop)
    task.evaluate(folder)                       # test scores and baselines
    task.save(folder); task.export()            # the chief's files
    task.report(folder)                         # the task's metrics.json section

A family with other needs overrides a step: the GAN compiles two
optimizers and is judged on its samples, Word2Vec trains with its own
sparse loop, transfer learning adds a second phase. Each task is
registered (``@register_task``) in ``catalogue.py``, which picks the task
for a recipe's builder and data.
"""

from __future__ import annotations

import math
import shutil
import time
import warnings
from pathlib import Path
from typing import Any, Callable, ClassVar, Optional

import keras
import numpy as np
import tensorflow as tf

from kerasdl.artifacts import savedmodel, trained
from kerasdl.data import pipeline
from kerasdl.errors import BuilderArgumentError, RecipeError, TrainingError
from kerasdl.evaluation.scores import table
from kerasdl.models import losses
from kerasdl import schema
from kerasdl.recipe.resolve import Recipe
from kerasdl.registry import BUILDERS, create_model
from kerasdl.runtime import devices, faults, memory, provenance, runs, summaries
from kerasdl.runtime.checkpoint import BestWeights, Checkpoint
from kerasdl.runtime.optimizers import build_optimizer


class Throughput(keras.callbacks.Callback):
    """Times each epoch's training part (validation excluded) and adds it
    to the epoch's logs as ``seconds``: a column of history.csv, so the
    epochs of a run resumed across processes are all counted."""

    def __init__(self):
        super().__init__()
        self._start = 0.0
        self._seconds = 0.0

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        self._start = time.perf_counter()

    def on_test_begin(self, logs: Optional[dict] = None) -> None:
        if self._start:
            self._seconds = time.perf_counter() - self._start
            self._start = 0.0

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        self.on_test_begin()
        if logs is not None:  # The same dict goes on to the CSV logger.
            logs[runs.SECONDS] = round(self._seconds, 4)


def samples_per_second(history: dict, examples_per_epoch: int) -> Optional[float]:
    """Training examples per second over the epochs of ``history``; the
    first epoch includes tracing and cache filling: left out when there
    are others."""
    seconds = history.get(runs.SECONDS, [])
    timed = seconds[1:] or seconds
    return examples_per_epoch * len(timed) / sum(timed) if timed and sum(timed) > 0 else None


def check_builder(recipe: Recipe, data: Any, fit_inputs: Any = None) -> tuple[dict, dict]:
    """What the data gives the builder, ``(required, optional)``, once the
    builder is known to take it.

    Raises:
        RecipeError: naming ``model.builder`` when it does not fit the data.
    """
    builder = recipe["model"]["builder"]
    required, optional = data.builder_inputs(fit_inputs)
    accepted = BUILDERS.data_arguments_of(builder)
    needed = {name for name, parameter in BUILDERS.signature(builder).items()
              if name in accepted and parameter.default is parameter.empty}
    if not set(required) <= accepted or not needed <= set(required):
        raise mismatch(recipe, data)
    return required, optional


def mismatch(recipe: Recipe, data: Any) -> RecipeError:
    """The error for a builder that does not train on the recipe's data."""
    return RecipeError(
        f"{recipe.path}: model.builder: '{recipe['model']['builder']}' does not train on {data.description} "
        f"(data.dataset: {recipe['data']['dataset']}). Pick a builder and dataset that fit: "
        "word2vec with a text corpus (news_articles, text); lstm with labelled texts or a time "
        "series; cnn, dense or lstm with image or table datasets; gan with image datasets."
    )


def build_model(recipe: Recipe, data: Any, fit_inputs: Any = None) -> keras.Model:
    """The recipe's uncompiled model for the data: what the builder learns
    from the data (input shape, classes or horizon, vocabulary size,
    ``adapt_data``) plus the recipe's ``model`` section.

    Args:
        fit_inputs: The inputs the model trains on, which preprocessing
            layers adapt to; the whole training split by default.

    Raises:
        RecipeError: naming ``model.<argument>`` when the builder rejects a
            value, or ``model.builder`` when it does not fit the data.
    """
    if fit_inputs is None:
        fit_inputs = getattr(data, "x_train", None)
    required, optional = check_builder(recipe, data, fit_inputs)
    accepted = BUILDERS.data_arguments_of(recipe["model"]["builder"])
    provided = {**required, **{key: value for key, value in optional.items() if key in accepted}}
    builder, arguments = recipe["model"]["builder"], recipe.builder_arguments()
    try:
        # Counted before anything is allocated, adapted on a few examples (where a vocabulary grows with the
        # data, a lower bound: the guard is against sizes no machine holds, not a forecast).
        sample = {**provided, **({"adapt_data": _sample(provided["adapt_data"])} if "adapt_data" in provided else {})}
        count = memory.parameters(lambda: create_model(builder, **sample, **arguments))
        memory.check_fits(count, recipe["optimizer"]["name"], f"{recipe.path}: model")
        return create_model(builder, **provided, **arguments)
    except BuilderArgumentError as error:
        raise RecipeError(f"{recipe.path}: model.{error.argument}: {error}") from None


def _sample(inputs: Any) -> Any:
    """A few of the training inputs, for the abstract build's adapting layers."""
    if inputs is None:
        return None
    if hasattr(inputs, "take"):  # A tf.data.Dataset of batches.
        return inputs.take(1)
    return inputs[:64]


def monitored(recipe: Recipe) -> str:
    """What a plateau is judged on: val_loss with validation data, else loss."""
    return "val_loss" if recipe["training"]["validation_split"] > 0 else "loss"


def best_monitor(recipe: Recipe) -> str:
    """What the best epoch is judged on: early stopping's monitor when the
    recipe names one, else ``monitored``."""
    stopping = recipe["training"]["early_stopping"]
    return stopping.get("monitor", monitored(recipe)) if isinstance(stopping, dict) else monitored(recipe)


def reduce_on_plateau(recipe: Recipe) -> list:
    """The recipe's ``training.reduce_on_plateau`` as callbacks (none or one)."""
    plateau = recipe["training"]["reduce_on_plateau"]
    if not plateau:
        return []
    options = {"monitor": monitored(recipe), "factor": 0.5, "patience": 2, "min_lr": 1e-6}
    if isinstance(plateau, dict):
        options.update(plateau)
    return [keras.callbacks.ReduceLROnPlateau(**options)]


def early_stopping(recipe: Recipe) -> list:
    """The recipe's ``training.early_stopping`` as callbacks (none or one)."""
    stopping = recipe["training"]["early_stopping"]
    if not stopping:
        return []
    # With training.checkpoint: best the best weights come from BestWeights,
    # which (unlike early stopping's copy in memory) survives a resume.
    options = {"patience": 3, "restore_best_weights": recipe["training"]["checkpoint"] != "best"}
    if isinstance(stopping, dict):
        options.update(stopping)
    return [keras.callbacks.EarlyStopping(**options)]


def run_callbacks(
    recipe: Recipe, folder: Path, outputs: list, backup: str = runs.BACKUP, best: bool = True,
) -> list:
    """The run's callbacks, in the order that keeps a kill consistent: the
    epoch's own outputs (``outputs``: throughput, a GAN's sample grid), the
    best epoch's weights (``best`` and ``training.checkpoint: best``), then
    its history row, then the checkpoint. A kill before the checkpoint
    redoes the epoch, which rewrites the outputs and the row
    (``runs.read_history`` keeps the last row of an epoch)."""
    callbacks: list = [*outputs]
    if best and recipe["training"]["checkpoint"] == "best":
        callbacks.append(BestWeights(str(folder / backup), best_monitor(recipe)))
    callbacks.append(keras.callbacks.CSVLogger(str(folder / runs.HISTORY), append=True))
    callbacks.append(summaries.EpochCurves(str(folder / runs.LOGS)))
    if recipe["training"]["resume"]:
        callbacks.append(Checkpoint(str(folder / backup)))
    return [*callbacks, *faults.epoch_killer()]


class StopOnNaN(keras.callbacks.Callback):
    """Stops training at the first batch whose loss is NaN or infinite,
    with a message that says what to change (Keras's ``TerminateOnNaN``
    stops without a word, and the run would export a broken model).

    Raises:
        TrainingError: naming the epoch, the batch and the recipe.
    """

    def __init__(self, recipe: Recipe):
        super().__init__()
        self.recipe, self.epoch = recipe, 0

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        for key, value in (logs or {}).items():
            if "loss" in key and not math.isfinite(float(value)):
                rate = self.recipe["optimizer"]["learning_rate"]
                raise TrainingError(
                    f"{self.recipe.path}: the training {key} became {float(value)} in epoch {self.epoch + 1}, "
                    f"batch {batch + 1}: the weights diverged. Lower optimizer.learning_rate (now {rate}), "
                    "set optimizer.clipnorm, or check the data for NaN or huge values. The checkpoint keeps "
                    "the last finished epoch; a changed recipe starts a new run."
                )


def _at_defaults(recipe: Recipe, section: str) -> bool:
    return recipe[section] == {key: field.default for key, field in schema.SECTIONS[section].items()}


class Task:
    """One model family's run, trained with Keras's ``fit`` by default.

    Class attributes (what the catalogue reads to pick a task):
        name: The task's registered name (set by ``@register_task``), the
            key of its section in metrics.json.
        builders: The builders it trains; None for any builder that no
            other task claims.
        data_kinds: The kinds of data (``data.kind``) it trains on.
        sections: The optional recipe sections it reads (``fine_tune``,
            ``pretrain``, ``quality``); a recipe that sets another task's
            section is refused.
        resumable: Whether a killed run resumes from its checkpoint.
        keeps_best: Whether ``training.checkpoint: best`` applies (its
            losses measure quality).
        weighs_classes: Whether ``training.class_weight`` and
            ``training.oversample`` apply (it classifies).
        streams: Whether it trains on data streamed from files; if not,
            such data is decoded into arrays first (``data.in_memory``).
        not_tunable: Why ``kerasdl tune`` cannot search it, or None.

    Args:
        recipe: The resolved recipe.
        data: Its data (``data.catalogue.from_recipe``).
        placement: Where it trains (``runtime.devices.place``).
        log: Progress messages.

    Raises:
        RecipeError: naming ``model.builder`` when the builder does not
            take what the data gives; naming the key of a recipe setting
            the task cannot use.
    """

    name: ClassVar[str] = "task"
    builders: ClassVar[Optional[tuple[str, ...]]] = None
    data_kinds: ClassVar[tuple[str, ...]] = ()
    sections: ClassVar[tuple[str, ...]] = ()
    resumable: ClassVar[bool] = True
    keeps_best: ClassVar[bool] = True
    weighs_classes: ClassVar[bool] = False
    streams: ClassVar[bool] = True
    not_tunable: ClassVar[Optional[str]] = None

    def __init__(self, recipe: Recipe, data: Any, placement: devices.Placement, log: Callable[[str], None] = print):
        self.recipe, self.data, self.placement, self.log = recipe, data, placement, log
        self.model: Optional[keras.Model] = None
        self.best: Optional[BestWeights] = None
        check_builder(recipe, data)  # The builder takes what the data gives, before any other check.
        self.check()

    # -- What the recipe may ask of this task --------------------------------

    def check(self) -> None:
        """Refuses recipe settings this task cannot use; a task that reads a
        section or key extends it.

        Raises:
            RecipeError: naming the key.
        """
        recipe, builder = self.recipe, self.recipe["model"]["builder"]
        if "quality" not in self.sections and not _at_defaults(recipe, "quality"):
            # Defaults pass: a resolved recipe (a run folder's copy) lists them.
            raise RecipeError(
                f"{recipe.path}: quality: scores the samples of a GAN, but this recipe trains "
                f"'{builder}'. Remove the section (or leave it at its defaults)."
            )
        if "fine_tune" not in self.sections and recipe["fine_tune"]["epochs"]:
            raise RecipeError(
                f"{recipe.path}: fine_tune.epochs: a second phase unfreezes a backbone, and this recipe's "
                f"builder '{builder}' has none. Use model.builder: transfer, or set fine_tune.epochs: 0."
            )
        for key in ("class_weight", "oversample"):
            if not self.weighs_classes and recipe["training"][key]:
                raise RecipeError(
                    f"{recipe.path}: training.{key}: corrects the class imbalance of a classifier's training "
                    f"data, but this recipe trains '{builder}' on {self.data.description}, which has no "
                    f"classes to balance. Remove training.{key}."
                )
        if "pretrain" not in self.sections and recipe["pretrain"]["enabled"]:
            raise RecipeError(
                f"{recipe.path}: pretrain.enabled: Word2Vec pretraining starts the embedding of a text "
                f"model, but this recipe trains '{builder}' on {self.data.description}. "
                "Set pretrain.enabled: false."
            )

    # -- Before training -----------------------------------------------------

    def prepare(self, pretrain: bool = True) -> None:
        """Splits the data, makes the pipelines, builds and compiles the model.

        Args:
            pretrain: Run work that trains before the model exists (a text
                model's Word2Vec pretraining); a dry run does not.
        """
        training, placement = self.recipe["training"], self.placement
        keras.utils.set_random_seed(training["seed"])
        self.batch_size = placement.global_batch_size(training["batch_size"], training["batch_scope"])
        self.use_pipelines()
        self.steps_per_epoch = math.ceil(self.train_examples / self.batch_size)
        self.before_build(pretrain)
        with devices.building(placement):
            self.model = self.build()
            self.compile()

    def feed(self, cache_dir: Optional[Path] = None) -> pipeline.Feed:
        """How the recipe wants its examples batched (``data`` section)."""
        section = self.recipe["data"]
        return pipeline.Feed(
            batch_size=self.batch_size,
            seed=self.recipe["training"]["seed"],
            cache={True: "memory", False: "none"}.get(section["cache"], section["cache"]),
            shuffle_buffer=section["shuffle_buffer"],
            cache_dir=cache_dir,
            shard=self.placement.input_shard(),
            service=section["service"],
            oversample=self.recipe["training"]["oversample"],
        )

    def use_pipelines(self, cache_dir: Optional[Path] = None) -> None:
        """Makes the training, validation and test pipelines (a random
        validation share for examples, the latest steps for a series);
        ``data.cache: disk`` caches in ``cache_dir`` once a run has one."""
        inputs = self.data.pipelines(self.feed(cache_dir), self.recipe["training"]["validation_split"])
        self.train_data, self.validation_data, self.test_data = inputs.train, inputs.validation, inputs.test
        self.train_examples = inputs.train_examples
        self.fit_inputs, self.fit_labels = inputs.fit_inputs, inputs.fit_labels

    def before_build(self, pretrain: bool) -> None:
        """Work between the split and the model (nothing by default)."""

    def build(self) -> keras.Model:
        """The uncompiled model, built in the strategy's scope."""
        return build_model(self.recipe, self.data, self.fit_inputs)

    def execution(self) -> dict:
        """``compile``'s execution options from the recipe."""
        training = self.recipe["training"]
        return dict(jit_compile=training["jit_compile"], steps_per_execution=training["steps_per_execution"])

    def optimizer(self, section: Optional[dict] = None, epochs: Optional[int] = None) -> keras.optimizers.Optimizer:
        """An optimizer built from an ``optimizer`` section (the recipe's by
        default), its schedule spanning ``epochs`` (the recipe's by default)."""
        return build_optimizer(
            section or self.recipe["optimizer"], self.steps_per_epoch, epochs or self.recipe["training"]["epochs"]
        )

    def compile(self, optimizer: Optional[dict] = None, epochs: Optional[int] = None) -> None:
        """Compiles the model with ``self.optimizer(optimizer, epochs)``."""
        self.model.compile(optimizer=self.optimizer(optimizer, epochs), **self.loss_and_metrics(), **self.execution())

    def loss_and_metrics(self) -> dict:
        """``compile``'s loss (``training.label_smoothing`` applied) and
        metrics from the recipe: what the model trains on and is scored by."""
        return dict(
            loss=losses.loss(self.recipe["loss"], self.recipe["training"]["label_smoothing"]),
            metrics=list(self.recipe["metrics"]),
        )

    # -- Training --------------------------------------------------------------

    def fit(
        self, callbacks: list, *, verbose: Any = "auto", epochs: Optional[int] = None, initial_epoch: int = 0
    ) -> keras.callbacks.History:
        """Trains on the recipe's pipelines: the one ``fit`` of ``run`` and ``tune``.

        Args:
            callbacks: Added to the recipe's own (early stopping).
            epochs: The epoch to stop after; the recipe's by default.
            initial_epoch: The epoch to start from (Hyperband continues trials).
        """
        with warnings.catch_warnings():
            if self.train_data.cardinality() == tf.data.UNKNOWN_CARDINALITY:  # The tf.data service's, say.
                # An epoch is all the data gives; Keras learns its steps in the first.
                warnings.filterwarnings("ignore", message="Your input ran out of data")
            return self.model.fit(
                self.train_data,
                validation_data=self.validation_data,
                epochs=epochs or self.recipe["training"]["epochs"],
                initial_epoch=initial_epoch,
                shuffle=False,  # The pipeline reshuffles every epoch itself.
                callbacks=self._with_rules(callbacks),
                class_weight=self.class_weight(),
                verbose=verbose,
            )

    def class_weight(self) -> Optional[dict]:
        """``fit``'s class weights (a classifier's ``training.class_weight``); none by default."""
        return None

    def _with_rules(self, callbacks: list) -> list:
        """``callbacks`` after the divergence guard (``StopOnNaN``: a run and
        a tuning trial alike) and the recipe's plateau and early-stopping rules:
        the rate the plateau rule logs reaches history.csv, and the
        checkpoint saves the rules' state after their epoch's update (and
        restores it after their ``on_train_begin`` resets it)."""
        rules = [*reduce_on_plateau(self.recipe), *early_stopping(self.recipe)]
        for callback in callbacks:
            if isinstance(callback, Checkpoint):
                callback.track(*rules, *(other for other in callbacks if isinstance(other, BestWeights)))
        return [StopOnNaN(self.recipe), *rules, *callbacks]

    def run_callbacks(self, folder: Path, outputs: list, backup: str = runs.BACKUP) -> list:
        """``run_callbacks`` for this task; keeps its ``BestWeights`` (the
        last phase's) as ``self.best``."""
        callbacks = run_callbacks(self.recipe, folder, outputs, backup, best=self.keeps_best)
        self.best = next((callback for callback in callbacks if isinstance(callback, BestWeights)), None)
        return callbacks

    def best_epoch(self) -> Optional[int]:
        """The epoch (1-based) whose weights the run kept, or None for the last."""
        return self.best.best_epoch if self.best is not None else None

    def epochs_trained(self, folder: Path) -> int:
        """Epochs in the run's history: the step at which the test's
        TensorBoard summaries sit, after the training curves."""
        return len(runs.read_history(folder).get("epoch", []))

    def epoch_outputs(self, folder: Path) -> list:
        """Callbacks that write the epoch's own outputs (none by default)."""
        return []

    def train(self, folder: Path, verbose: Any = "auto") -> None:
        """Trains for the run in ``folder`` (history, logs, checkpoints) in
        ``phases``, timing the epochs; then draws the learning curves. A
        disk cache lives in the run folder while it trains."""
        disk = self.feed().resolved(self.data.streamed).cache == "disk"
        if disk:
            self.use_pipelines(folder / runs.CACHE)
        self.phases(folder, [Throughput(), *self.epoch_outputs(folder)], verbose)
        if disk:  # Decoded examples are only for later epochs: the run does not keep them.
            shutil.rmtree(folder / runs.CACHE, ignore_errors=True)
        runs.plot_learning_curves(folder)

    def phases(self, folder: Path, outputs: list, verbose: Any) -> None:
        """The training itself: one ``fit`` by default (transfer learning adds
        a second phase). ``outputs`` are callbacks for ``run_callbacks``."""
        self.fit(self.run_callbacks(folder, outputs), verbose=verbose)

    def samples_per_second(self, folder: Path) -> Optional[float]:
        """Training examples per second, from the run's history."""
        return samples_per_second(runs.read_history(folder), self.train_examples)

    # -- After training --------------------------------------------------------

    @classmethod
    def scores(cls, data: Any, predictions: np.ndarray) -> dict:
        """The model's scores from its test-split predictions; a task says
        which (``kerasdl evaluate`` and ``export`` score through it too)."""
        return {}

    @classmethod
    def details(cls, data: Any, predictions: np.ndarray) -> dict:
        """What ``kerasdl evaluate`` reports beyond the scores (a
        classifier's confusion matrix); nothing by default."""
        return {}

    def baselines(self) -> dict:
        """Simple baselines scored on the test split (none by default)."""
        return {}

    def evaluate(self, folder: Path) -> dict:
        """The model's scores on the test split (``test``), its ``details``
        (a classifier's per-class accuracy and confusion matrix) and, on the
        chief with ``training.baselines`` on, the baselines' (``baselines``)."""
        predictions = self.model.predict(self.test_data, verbose=0)
        test = self.compiled_scores(predictions)
        scores = self.scores(self.data, predictions)
        test.update({key: value for key, value in scores.items() if key not in test})
        faults.point("evaluate")
        scored = self.baselines() if self.placement.is_chief and self.recipe["training"]["baselines"] else {}
        if scored:
            self.log("Test split, model and baselines:")
            for line in table(scores, scored, tuple(scores)):
                self.log("  " + line)
        return {"test": test, "baselines": scored, "details": self.details(self.data, predictions)}

    def compiled_scores(self, predictions: np.ndarray) -> dict:
        """What ``model.evaluate`` on the test split returns (the recipe's
        loss, the model's regularization penalties included, and metrics),
        from the test predictions already made: the split is read and
        predicted once, not once to score and once to predict (twice each
        with test-time flips). An identity model compiled with the task's
        ``loss_and_metrics()`` scores the predictions, eagerly (nothing to trace),
        in float32 whatever the training precision, in chunks that bound
        its memory (the loss is a mean, so chunks change nothing)."""
        scorer = keras.Sequential([keras.Input(predictions.shape[1:]), keras.layers.Identity(dtype="float32")])
        scorer.compile(**self.loss_and_metrics(), run_eagerly=True)
        scored = scorer.evaluate(predictions, self.data.y_test, batch_size=65536, verbose=0, return_dict=True)
        penalty = sum(float(keras.ops.convert_to_numpy(loss)) for loss in self.model.losses)
        return {key: float(value) + (penalty if key == "loss" else 0.0) for key, value in scored.items()}

    def save(self, folder: Path) -> None:
        """Writes the trained model to the run folder (the chief's work)."""
        runs.save_model(folder, self.model, self.data.export_assets())

    def export(self, folder: Path) -> tuple[Path, Optional[float]]:
        """Exports a verified SavedModel; returns its folder and the
        verification's largest difference."""
        recipe = self.recipe
        return savedmodel.export_savedmodel(
            self.model,
            recipe["export"]["directory"],
            recipe.name,
            trained.as_inputs(self.data.sample(64)),
            {**self.data.export_assets(), runs.RECIPE: recipe.to_yaml(), **provenance.asset(folder)},
            output_name=self.data.output_name,
            check=recipe["export"]["verify"],
            precision=self.placement.precision,
            keras_file=folder / runs.MODEL,  # Saved by `save`.
            origin=folder,
        )

    def report(self, folder: Path) -> dict:
        """The task's own section of metrics.json (empty by default)."""
        return {}
