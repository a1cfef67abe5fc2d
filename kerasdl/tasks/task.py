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
import warnings
from pathlib import Path
from typing import Any, Callable, ClassVar, Optional

import keras
import numpy as np
import tensorflow as tf

from kerasdl import schema
from kerasdl.artifacts import savedmodel, trained
from kerasdl.data import pipeline
from kerasdl.data.kinds import Data
from kerasdl.errors import RecipeError, keras_said
from kerasdl.evaluation import figures
from kerasdl.evaluation.scores import table
from kerasdl.models import adversarial, distillation, losses, mixing, pruning
from kerasdl.recipe.resolve import Recipe
from kerasdl.runtime import devices, faults, provenance, runs
from kerasdl.runtime.checkpoint import BestWeights
from kerasdl.runtime.optimizers import build_optimizer
from kerasdl.tasks import callbacks as run_callbacks
from kerasdl.tasks.building import build_model, check_builder


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
            ``training.oversample`` (and ``training.adversarial``) apply: it classifies.
        streams: Whether it trains on data streamed from files; if not,
            such data is decoded into arrays first (``data.in_memory``).
        not_tunable: Why ``kerasdl tune`` cannot search it, or None.
        prunes: Whether ``training.pruning`` applies (its model trains
            with ``fit`` and one optimizer).
        logs: What ``fit`` logs beyond the loss and the recipe's metrics
            (a model's own trackers: ``kerasdl tune`` may search by them).

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
    prunes: ClassVar[bool] = True
    logs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, recipe: Recipe, data: Data, placement: devices.Placement, log: Callable[[str], None] = print):
        self.recipe, self.data, self.placement, self.log = recipe, data, placement, log
        self.model: Optional[keras.Model] = None
        self.best: Optional[BestWeights] = None  # The last phase's, when training.checkpoint: best.
        # Set by `prepare` (`use_pipelines`): the batches and what the split left for training.
        self.batch_size = 0
        self.steps_per_epoch = 0
        self.train_examples = 0
        self.inputs: Optional[pipeline.Pipelines] = None
        # Set by `evaluate`: the model's outputs on the test split, for the figures a task draws of them.
        self.test_predictions: Optional[np.ndarray] = None
        self._pruner: Optional[pruning.Pruner] = None  # Made by the first `fit` of a recipe that prunes.
        self._teacher: Optional[keras.Model] = None  # Loaded by the first `compile` of a recipe that distils.
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
        if "anomaly" not in self.sections and not _at_defaults(recipe, "anomaly"):
            raise RecipeError(
                f"{recipe.path}: anomaly: says what an autoencoder must flag, but this recipe trains '{builder}'. "
                "Use model.builder: autoencoder, or remove the section."
            )
        if "fine_tune" not in self.sections and recipe["fine_tune"]["epochs"]:
            raise RecipeError(
                f"{recipe.path}: fine_tune.epochs: a second phase unfreezes a backbone, and this recipe's "
                f"builder '{builder}' has none. Use model.builder: transfer, or set fine_tune.epochs: 0."
            )
        if not self.weighs_classes and recipe["training"]["adversarial"]:
            raise RecipeError(
                f"{recipe.path}: training.adversarial: attacks the images of a classifier, but this recipe trains "
                f"'{builder}' on {self.data.description}. Remove training.adversarial."
            )
        if not self.weighs_classes and recipe["training"]["label_mixing"]:
            raise RecipeError(
                f"{recipe.path}: training.label_mixing: mixes the images and labels of a classifier, but this recipe "
                f"trains '{builder}' on {self.data.description}. Remove training.label_mixing."
            )
        if recipe["training"]["distillation"] and (not self.weighs_classes or recipe["training"]["label_mixing"]):
            raise RecipeError(
                f"{recipe.path}: training.distillation: a classifier learns from a teacher's probabilities for its "
                f"labelled training examples, " + ("and training.label_mixing mixes them; keep one." if
                                                    self.weighs_classes else f"and this recipe trains '{builder}' on "
                                                    f"{self.data.description}. Remove training.distillation.")
            )
        if not self.prunes and recipe["training"]["pruning"]:
            raise RecipeError(
                f"{recipe.path}: training.pruning: prunes a model that Keras's fit trains with one optimizer, and "
                f"'{builder}' trains otherwise. Remove training.pruning."
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
        self.check_metrics()

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
        self.inputs = self.data.pipelines(self.feed(cache_dir), self.recipe["training"]["validation_split"])
        self.train_examples = self.inputs.train_examples

    # The parts of `inputs` the steps use.
    train_data = property(lambda self: self.inputs.train)
    validation_data = property(lambda self: self.inputs.validation)
    test_data = property(lambda self: self.inputs.test)
    fit_inputs = property(lambda self: self.inputs.fit_inputs)
    fit_labels = property(lambda self: self.inputs.fit_labels)

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
        mixed = bool(self.recipe["training"]["label_mixing"])
        self.model.compile(optimizer=self.optimizer(optimizer, epochs), **self.loss_and_metrics(mixed),
                           **self.execution())
        self._change_steps()

    def _change_steps(self) -> None:
        """Keras's training step, on attacked copies of each batch
        (``training.adversarial``), mixed batches (``training.label_mixing``:
        mixed first, then attacked), or both; with label mixing, validation
        batches get one-hot labels. Set after each ``compile``."""
        training = self.recipe["training"]
        if training["distillation"]:
            spec = training["distillation"]
            distillation.distil(self.model, self.teacher(), spec["temperature"], spec["hard_label_weight"])
        if not (training["adversarial"] or training["label_mixing"]):
            return
        step = type(self.model).train_step.__get__(self.model)
        if training["adversarial"]:
            attack = adversarial.Attack.for_training(training["adversarial"])
            step = adversarial.attacking_step(self.model, attack, step)
        if training["label_mixing"]:
            layer = mixing.mixer(training["label_mixing"], training["seed"])
            step = mixing.mixing_step(layer, self.data.num_classes, step)
            self.model.test_step = mixing.one_hot_test_step(self.model, self.data.num_classes)
        self.model.train_step = step

    def teacher(self) -> keras.Model:
        """``training.distillation.teacher``, loaded once in Keras's safe mode
        (``artifacts.trained``), checked against the data.

        Raises:
            RecipeError: naming the key, for a path that holds no Keras
                model, or one of other inputs or classes.
        """
        if self._teacher is None:
            from kerasdl.errors import InputError

            where = f"{self.recipe.path}: training.distillation.teacher"
            path = self.recipe["training"]["distillation"]["teacher"]
            try:
                found = trained.locate(path)
                teacher = found.keras_model()
            except InputError as error:
                raise RecipeError(f"{where}: {error}") from None
            shape = tuple(getattr(teacher, "input_shape", ())[1:]) if getattr(teacher, "inputs", None) else None
            width = teacher.output_shape[-1] if shape is not None and len(teacher.outputs) == 1 else None
            if shape != tuple(self.data.input_shape) or width != self.data.num_classes:
                raise RecipeError(
                    f"{where}: {path} takes inputs of shape {shape} and answers {width} probabilities; the student "
                    f"learns {self.data.num_classes} classes of {self.data.source} (inputs "
                    f"{tuple(self.data.input_shape)}). Give a classifier trained on the same data.")
            if found.class_names is not None and list(found.class_names) != list(self.data.class_names):
                raise RecipeError(f"{where}: {path} names its classes {found.class_names}, and {self.data.source} "
                                  f"{self.data.class_names}. Give a classifier of the same classes, in the same order.")
            self._teacher = teacher
        return self._teacher

    def loss_and_metrics(self, mixed: bool = False) -> dict:
        """``compile``'s loss (``training.label_smoothing`` applied) and
        metrics from the recipe: what the model trains on and is scored by;
        ``mixed``: the loss on the one-hot labels of label mixing."""
        name = mixing.dense_loss(self.recipe["loss"]) if mixed else self.recipe["loss"]
        return dict(loss=losses.loss(name, self.recipe["training"]["label_smoothing"]),
                    metrics=list(self.recipe["metrics"]))

    def check_metrics(self) -> None:
        """Refuses, before anything trains, a metric of the recipe that cannot
        score this model's outputs against the data's labels (Keras's AUC on
        sparse labels and a softmax fails in the first step): the model
        answers a few test inputs and each metric scores them, as
        ``compiled_scores`` will score the test split.

        Raises:
            RecipeError: naming ``metrics[i]``, what Keras said and the fix.
        """
        inputs = self.data.sample(METRIC_PROBE)
        # Under a multi-worker strategy each replica answers the whole batch: the first answers are the inputs'.
        outputs = np.asarray(self.model.predict_on_batch(inputs), np.float32)[:len(inputs)]
        labels = self.data.y_test[:len(inputs)]
        for index, metric in enumerate(self.recipe["metrics"]):
            scorer = _scorer(outputs.shape[1:], loss=self.loss_and_metrics()["loss"], metrics=[metric])
            try:
                scorer.evaluate(outputs, labels, verbose=0)
            except Exception as error:  # Keras's own, of any type: it names the shapes.
                raise RecipeError(
                    f"{self.recipe.path}: metrics[{index}]: {metric} cannot score this model's outputs "
                    f"({outputs.shape[1]} per example) against the labels of {self.data.source} (shape "
                    f"{labels.shape[1:] or '()'} per example): {keras_said(error)}. {_metric_fix(metric)}"
                ) from None

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
                callbacks=run_callbacks.with_rules(self.recipe, [*self.pruners(), *callbacks]),
                class_weight=self.class_weight(),
                verbose=verbose,
            )

    def pruners(self) -> list:
        """``training.pruning``'s callback, first: the sparsity it logs
        reaches history.csv. One per task: a second ``fit`` (a second
        phase) keeps the masks."""
        spec = self.recipe["training"]["pruning"]
        if spec and self._pruner is None:
            self._pruner = pruning.Pruner(spec, self.steps_per_epoch, self.recipe["training"]["epochs"])
        return [self._pruner] if spec else []

    def class_weight(self) -> Optional[dict]:
        """``fit``'s class weights (a classifier's ``training.class_weight``); none by default."""
        return None

    def run_callbacks(self, folder: Path, outputs: list, backup: str = runs.BACKUP) -> list:
        """The run folder's callbacks (``callbacks.for_run``) for this task;
        keeps its ``BestWeights`` (the last phase's) as ``self.best``."""
        callbacks = run_callbacks.for_run(self.recipe, folder, outputs, backup, best=self.keeps_best)
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
        self.phases(folder, [run_callbacks.Throughput(), *self.epoch_outputs(folder)], verbose)
        if disk:  # Decoded examples are only for later epochs: the run does not keep them.
            shutil.rmtree(folder / runs.CACHE, ignore_errors=True)
        figures.learning_curves([runs.read_history(folder)], [""], folder / runs.CURVE)

    def phases(self, folder: Path, outputs: list, verbose: Any) -> None:
        """The training itself: one ``fit`` by default (transfer learning adds
        a second phase). ``outputs`` are callbacks for ``run_callbacks``."""
        self.fit(self.run_callbacks(folder, outputs), verbose=verbose)

    def samples_per_second(self, folder: Path) -> Optional[float]:
        """Training examples per second, from the run's history."""
        return run_callbacks.samples_per_second(runs.read_history(folder), self.train_examples)

    # -- After training --------------------------------------------------------

    @classmethod
    def scores(cls, data: Data, predictions: np.ndarray) -> dict:
        """The model's scores from its test-split predictions; a task says
        which (``kerasdl evaluate`` and ``export`` score through it too)."""
        return {}

    @classmethod
    def deployed_test_inputs(cls, recipe: Recipe, data: Data) -> Optional[np.ndarray]:
        """What the task's export takes for the test split when that is not
        the test examples themselves (``kerasdl evaluate``); None: they are."""
        return None

    @classmethod
    def details(cls, data: Data, predictions: np.ndarray) -> dict:
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
        predictions = self.test_predictions = self.model.predict(self.test_data, verbose=0)
        test = self.compiled_scores(predictions)
        scores = self.scores(self.data, predictions)
        test.update({key: value for key, value in scores.items() if key not in test})
        if self.recipe["training"]["pruning"]:
            test["sparsity"] = pruning.sparsity(self.model)
            self.log(f"Sparsity of the dense and convolution kernels: {test['sparsity']:.2%}")
        faults.point("evaluate")
        scored = self.baselines() if self.placement.is_chief and self.recipe["training"]["baselines"] else {}
        if self._teacher is not None and self.placement.is_chief:  # The student against its teacher.
            scored["teacher"] = self.scores(self.data, self._teacher.predict(self.test_data, verbose=0))
            student, teacher = self.model.count_params(), self._teacher.count_params()
            self.log(f"Student {student:,} parameters, teacher {teacher:,} ({teacher / student:.1f}x the student's)")
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
        scorer = _scorer(predictions.shape[1:], **self.loss_and_metrics())
        scored = scorer.evaluate(predictions, self.data.y_test, batch_size=65536, verbose=0, return_dict=True)
        penalty = sum(float(keras.ops.convert_to_numpy(loss)) for loss in self.model.losses)
        return {key: float(value) + (penalty if key == "loss" else 0.0) for key, value in scored.items()}

    def save(self, folder: Path) -> None:
        """Writes the trained model to the run folder (the chief's work)."""
        runs.save_model(folder, self.model, self.data.export_assets())

    def export(self, folder: Path) -> tuple[Path, Optional[float]]:
        """Exports a verified SavedModel; returns its folder and the
        verification's largest difference."""
        return self.export_model(folder, self.model, self.data.output_name)

    def export_model(self, folder: Path, model: keras.Model, output_name: str) -> tuple[Path, Optional[float]]:
        """Exports ``model`` (the trained one, or one built around it) as a
        verified SavedModel answering ``output_name``, with the run folder's
        ``model.keras`` beside it."""
        recipe = self.recipe
        return savedmodel.export_savedmodel(
            model,
            recipe["export"]["directory"],
            recipe.name,
            trained.as_inputs(self.data.sample(64)),
            {**self.export_assets(folder), runs.RECIPE: recipe.to_yaml(), **provenance.asset(folder)},
            output_name=output_name,
            check=recipe["export"]["verify"],
            precision=self.placement.precision,
            keras_file=folder / runs.MODEL,  # Saved by `save`.
            origin=folder,
        )

    def export_assets(self, folder: Path) -> dict[str, str]:
        """Files for the export's ``assets.extra/`` beyond the recipe and the
        provenance: the data's (class names, a series' description)."""
        return self.data.export_assets()

    def report(self, folder: Path) -> dict:
        """The task's own section of metrics.json (empty by default)."""
        return {}


# Test inputs the model answers for ``Task.check_metrics``.
METRIC_PROBE = 8


def _scorer(shape: tuple, **compiled: Any) -> keras.Model:
    """An identity model compiled with ``compiled`` (loss, metrics), run
    eagerly in float32: it scores predictions already made."""
    scorer = keras.Sequential([keras.Input(shape), keras.layers.Identity(dtype="float32")])
    scorer.compile(**compiled, run_eagerly=True)
    return scorer


def _metric_fix(metric: str) -> str:
    """What to do about a metric that cannot score the model."""
    if "auc" in metric.lower():
        return ("Keras's AUC takes one probability per example or one-hot labels, and kerasdl's classifiers answer "
                "a softmax over sparse labels. Remove it from metrics: every classifier of two classes reports "
                "roc_auc and pr_auc in metrics.json, from the test probabilities.")
    return "Remove it from metrics, or use a metric of the same kind of labels (see keras.metrics)."
