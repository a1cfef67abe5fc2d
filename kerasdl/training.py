"""Training: data, model, compile, fit, evaluate and export for one recipe.

This is what ``kerasdl run`` does; the CLI only parses and prints.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Optional, Union

import keras
import numpy as np

from kerasdl import datasets, devices, evaluation, export, gan, pipeline, runs, schema, trained, word2vec
from kerasdl.builders.gan import GAN
from kerasdl.builders.lstm import start_embedding
from kerasdl.corpus import Corpus
from kerasdl.series import Series
from kerasdl.errors import BuilderArgumentError, RecipeError
from kerasdl.optimizers import build_optimizer
from kerasdl.recipe import Recipe
from kerasdl.registry import BUILDERS, create_model

# The second phase of transfer learning checkpoints here, inside the run's backup folder.
FINE_TUNE_BACKUP = "fine_tune"
# The run folder's copy of the word vectors a text model's embedding started from.
PRETRAINED_VECTORS = "pretrained_vectors.txt"


class _Throughput(keras.callbacks.Callback):
    """Times each epoch's training part (validation excluded) for samples/s."""

    def __init__(self, samples_per_epoch: int):
        super().__init__()
        self.samples_per_epoch = samples_per_epoch
        self.epoch_seconds: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        self._start = time.perf_counter()

    def on_test_begin(self, logs: Optional[dict] = None) -> None:
        if self._start:
            self.epoch_seconds.append(time.perf_counter() - self._start)
            self._start = 0.0

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        self.on_test_begin()

    def samples_per_second(self) -> Optional[float]:
        # The first epoch includes tracing and cache filling: leave it out
        # when there are others.
        timed = self.epoch_seconds[1:] or self.epoch_seconds
        return self.samples_per_epoch * len(timed) / sum(timed) if timed else None


def place(recipe: Recipe) -> devices.Placement:
    """The recipe's strategy and precision (``devices.place``), its errors
    naming the recipe."""
    try:
        return devices.place(recipe["training"])
    except RecipeError as error:
        raise RecipeError(f"{recipe.path}: {error}") from None


def load_data(recipe: Recipe) -> Union[datasets.Dataset, Series, Corpus]:
    """The recipe's data, cut to ``max_train_examples``/``max_test_examples``
    (for a text corpus, ``max_train_examples`` counts documents)."""
    section = recipe["data"]
    data = datasets.load(section["dataset"], recipe.dataset_arguments(), recipe["training"]["seed"])
    if isinstance(data, Corpus):
        return data.limited(section["max_train_examples"])
    if section["classes"] is not None:
        if not isinstance(data, datasets.Dataset):
            raise RecipeError(f"{recipe.path}: data.classes: {data.source} has no classes to choose from. Remove the key.")
        try:
            data = data.only(list(section["classes"]))
        except ValueError as error:
            raise RecipeError(f"{recipe.path}: data.classes: {error}") from None
    return data.limited(section["max_train_examples"], section["max_test_examples"])


def _kind(data: Any) -> str:
    if isinstance(data, Corpus):
        return "a text corpus"
    if isinstance(data, Series):
        return "a time series"
    return "labelled texts" if data.is_text else "examples with labels"


def build_model(
    recipe: Recipe, data: Union[datasets.Dataset, Series, Corpus], fit_inputs: Optional[np.ndarray] = None,
) -> keras.Model:
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
    if fit_inputs is None and not isinstance(data, Corpus):
        fit_inputs = data.x_train
    required, optional = _data_arguments(recipe, data, fit_inputs)
    accepted = BUILDERS.data_arguments_of(recipe["model"]["builder"])
    provided = {**required, **{key: value for key, value in optional.items() if key in accepted}}
    try:
        return create_model(recipe["model"]["builder"], **provided, **recipe.builder_arguments())
    except BuilderArgumentError as error:
        raise RecipeError(f"{recipe.path}: model.{error.argument}: {error}") from None


def _data_arguments(recipe: Recipe, data: Any, fit_inputs: Any) -> tuple[dict, dict]:
    """What the data gives the builder, ``(required, optional)``, once the
    builder is known to fit the data.

    Raises:
        RecipeError: naming ``model.builder`` when it does not fit.
    """
    builder = recipe["model"]["builder"]
    if isinstance(data, Corpus):
        required, optional = {"vocabulary_size": len(data.vocabulary)}, {}
    else:
        required, optional = data.builder_inputs(fit_inputs)
    accepted = BUILDERS.data_arguments_of(builder)
    needed = {name for name, parameter in BUILDERS.signature(builder).items()
              if name in accepted and parameter.default is parameter.empty}
    if not set(required) <= accepted or not needed <= set(required):
        raise RecipeError(
            f"{recipe.path}: model.builder: '{builder}' does not train on {_kind(data)} "
            f"(data.dataset: {recipe['data']['dataset']}). Pick a builder and dataset that fit: "
            "word2vec with a text corpus (news_articles, text); lstm with labelled texts or a time "
            "series; cnn, dense or lstm with image or table datasets; gan with image datasets."
        )
    return required, optional


def _check_task(recipe: Recipe, data: Any) -> None:
    """A forecast needs a regression loss and metrics, a classifier not."""
    if not isinstance(data, Series):
        return
    if "crossentropy" in recipe["loss"]:
        raise RecipeError(
            f"{recipe.path}: loss: {recipe['loss']} is a classification loss, but {data.source} is "
            "forecast: set loss: mse (or mae, huber)."
        )
    for index, metric in enumerate(recipe["metrics"]):
        if metric in ("accuracy", "acc") or "accuracy" in metric or "crossentropy" in metric:
            raise RecipeError(
                f"{recipe.path}: metrics[{index}]: {metric} scores classes, but {data.source} is forecast: "
                "use mae, root_mean_squared_error or mean_absolute_percentage_error."
            )


def _check_quality(recipe: Recipe) -> None:
    """The ``quality`` section scores GANs only; a GAN has its own limits."""
    if recipe["model"]["builder"] == "gan":
        gan.check(recipe)
    elif recipe["quality"] != {key: field.default for key, field in schema.SECTIONS["quality"].items()}:
        # Defaults pass: a resolved recipe (a run folder's copy) lists them.
        raise RecipeError(
            f"{recipe.path}: quality: scores the samples of a GAN, but this recipe trains "
            f"'{recipe['model']['builder']}'. Remove the section (or leave it at its defaults)."
        )


def _pretrained_vectors(recipe: Recipe, data: Any, texts: np.ndarray, log: Callable) -> Optional[Any]:
    """Word vectors trained on the training texts when ``pretrain.enabled``
    (a ``WordVectors``), else None."""
    settings = recipe["pretrain"]
    if not settings["enabled"]:
        return None
    arguments = BUILDERS.parameters(recipe["model"]["builder"])
    if not isinstance(data, datasets.Dataset) or not data.is_text or "embedding_path" not in arguments:
        raise RecipeError(
            f"{recipe.path}: pretrain.enabled: Word2Vec pretraining starts the embedding of a text "
            f"model, but this recipe trains '{recipe['model']['builder']}' on {_kind(data)}. "
            "Set pretrain.enabled: false."
        )
    model = recipe.builder_arguments()  # Resolved: every argument, defaults filled.
    if model["embedding_path"]:
        raise RecipeError(
            f"{recipe.path}: pretrain.enabled: the embedding would start from pretrained vectors and "
            f"from model.embedding_path ({model['embedding_path']}). Keep one: set pretrain.enabled: false "
            "or model.embedding_path: null."
        )
    return word2vec.pretrain(
        texts, standardize=model["standardize"], embedding_dim=model["embedding_dim"], settings=settings,
        seed=recipe["training"]["seed"], log=log,
    )


class Prepared:
    """Everything a run needs before ``fit``: data, pipelines and compiled model.

    Args:
        recipe: The resolved recipe.
        data: Its dataset from ``load_data``, when the caller already has it
            (tuning trials share one copy); loaded here otherwise.
        pretrain: Run the recipe's ``pretrain`` step (a dry run does not);
            the vectors are kept in ``pretrained`` (a ``WordVectors``).
        log: Progress messages.
    """

    def __init__(
        self, recipe: Recipe, data: Optional[Union[datasets.Dataset, Series]] = None, *,
        pretrain: bool = True, placement: Optional[devices.Placement] = None, log: Callable[[str], None] = print,
    ):
        data_section, training = recipe["data"], recipe["training"]
        self.recipe = recipe
        self.placement = placement = placement or place(recipe)
        self.data = data = data if data is not None else load_data(recipe)
        _check_task(recipe, data)
        _data_arguments(recipe, data, None)  # Fails early, before any pretraining.
        keras.utils.set_random_seed(training["seed"])
        # A random share for examples, the latest steps for a series.
        x, y, x_val, y_val = data.split(training["validation_split"], training["seed"])
        self.fit_inputs, self.fit_labels = x, y
        batch_size = placement.global_batch_size(training["batch_size"], training["batch_scope"])
        self.batch_size = batch_size
        self.train_examples = len(x)
        self.steps_per_epoch = math.ceil(len(x) / batch_size)
        options = dict(cache=data_section["cache"])
        self.train = pipeline.make_dataset(
            x, y, batch_size, shuffle=True, seed=training["seed"],
            shuffle_buffer=data_section["shuffle_buffer"], **options,
        )
        self.validation = (
            pipeline.make_dataset(x_val, y_val, batch_size, **options) if x_val is not None else None
        )
        self.test = pipeline.make_dataset(data.x_test, data.y_test, batch_size, **options)

        _check_quality(recipe)
        if recipe["fine_tune"]["epochs"] and recipe["model"]["builder"] != "transfer":
            raise RecipeError(
                f"{recipe.path}: fine_tune.epochs: a second phase unfreezes a backbone, and this recipe's "
                f"builder '{recipe['model']['builder']}' has none. Use model.builder: transfer, or set fine_tune.epochs: 0."
            )
        self.strategy = placement.strategy
        self.pretrained = _pretrained_vectors(recipe, data, x, log) if pretrain else None
        with devices.building(placement):
            self.model = build_model(recipe, data, x)
            if self.pretrained is not None:
                try:
                    start_embedding(self.model, self.pretrained)
                except BuilderArgumentError as error:
                    raise RecipeError(f"{recipe.path}: pretrain: {error}") from None
            if isinstance(self.model, GAN):
                gan.compile_gan(self.model, recipe, self.steps_per_epoch, **self._execution())
            else:
                self._compile(recipe["optimizer"], training["epochs"])
        # Checked now, not after the first phase has trained.
        self.unfreeze = self._unfreeze() if recipe["fine_tune"]["epochs"] else []

    def _execution(self) -> dict:
        training = self.recipe["training"]
        return dict(jit_compile=training["jit_compile"], steps_per_execution=training["steps_per_execution"])

    def _compile(self, optimizer: dict, epochs: int) -> None:
        """Compiles the model with an optimizer built from an ``optimizer``
        section (its schedule spanning ``epochs``)."""
        self.model.compile(
            optimizer=build_optimizer(optimizer, self.steps_per_epoch, epochs),
            loss=self.recipe["loss"],
            metrics=list(self.recipe["metrics"]),
            **self._execution(),
        )

    def _unfreeze(self) -> list:
        """The backbone layers the second phase trains (``fine_tune.unfreeze``)."""
        from kerasdl.builders.transfer import BACKBONE, select_layers

        try:
            return select_layers(
                self.model.get_layer(BACKBONE).layers[1:], self.recipe["fine_tune"]["unfreeze"], from_top=True
            )
        except ValueError as error:
            raise RecipeError(f"{self.recipe.path}: fine_tune.unfreeze: {error}") from None

    def fine_tune(self, callbacks: list, *, verbose: Any = "auto") -> keras.callbacks.History:
        """The second phase of transfer learning: unfreezes the top of the
        backbone (``fine_tune.unfreeze``; batch norm stays frozen), rebuilds
        the optimizer at ``fine_tune.learning_rate`` and trains
        ``fine_tune.epochs`` more epochs."""
        recipe, section = self.recipe, self.recipe["fine_tune"]
        for layer in self.unfreeze:
            layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)
        training = recipe["training"]
        with devices.building(self.placement):
            # The recipe's optimizer and its settings, at the phase's constant rate.
            self._compile({**recipe["optimizer"], "learning_rate": section["learning_rate"]}, section["epochs"])
        first = training["epochs"]
        return self.fit(callbacks, verbose=verbose, epochs=first + section["epochs"], initial_epoch=first)

    def fit(
        self, callbacks: list, *, verbose: Any = "auto", epochs: Optional[int] = None, initial_epoch: int = 0
    ) -> keras.callbacks.History:
        """Trains on the recipe's pipelines: the one ``fit`` of ``run`` and ``tune``.

        Args:
            callbacks: Added to the recipe's own (early stopping).
            epochs: The epoch to stop after; the recipe's by default.
            initial_epoch: The epoch to start from (Hyperband continues trials).
        """
        return self.model.fit(
            self.train,
            validation_data=self.validation,
            epochs=epochs or self.recipe["training"]["epochs"],
            initial_epoch=initial_epoch,
            shuffle=False,  # The pipeline reshuffles every epoch itself.
            callbacks=[*callbacks, *_early_stopping(self.recipe)],
            verbose=verbose,
        )



def _callbacks(recipe: Recipe, folder: Any, throughput: _Throughput, outputs: list, backup: str = runs.BACKUP) -> list:
    """The run's callbacks, in the order that keeps a kill consistent: the
    epoch's own outputs (``outputs``, e.g. a GAN's sample grid), then its
    history row, then the checkpoint. A kill before the checkpoint redoes the
    epoch, which rewrites the outputs and the row (``runs.read_history``
    keeps the last row of an epoch)."""
    training = recipe["training"]
    callbacks: list = [throughput, *outputs]
    callbacks.append(keras.callbacks.CSVLogger(str(folder / runs.HISTORY), append=True))
    callbacks.append(keras.callbacks.TensorBoard(str(folder / runs.LOGS)))
    if training["resume"]:
        # Two checkpoints, so a kill during a write still leaves a good one.
        callbacks.append(keras.callbacks.BackupAndRestore(
            str(folder / backup), double_checkpoint=True
        ))
    return callbacks


def _early_stopping(recipe: Recipe) -> list:
    stopping = recipe["training"]["early_stopping"]
    if not stopping:
        return []
    options = {"patience": 3, "restore_best_weights": True}
    if isinstance(stopping, dict):
        options.update(stopping)
    return [keras.callbacks.EarlyStopping(**options)]


def run(
    recipe: Recipe,
    *,
    verbose: Any = "auto",
    log: Callable[[str], None] = print,
) -> dict:
    """Trains, evaluates and exports the model of a resolved recipe.

    An unfinished run of the same resolved recipe (killed part-way) is
    resumed from its last finished epoch when ``training.resume`` is on.

    A text corpus trains word vectors instead (``word2vec.run``).

    Returns:
        A summary: test metrics, run folder, export path, throughput.
    """
    placement = place(recipe)  # First: a multi-worker strategy must start before TensorFlow does.
    log(placement.describe())
    data = load_data(recipe)
    if isinstance(data, Corpus):
        keras.utils.set_random_seed(recipe["training"]["seed"])
        with placement.strategy.scope():
            model = build_model(recipe, data)
        return word2vec.run(recipe, data, model, placement=placement, verbose=verbose, log=log)
    prepared = Prepared(recipe, data, placement=placement, log=log)
    with runs.workspace(recipe, placement.is_chief, log) as (folder, resumed_from):
        return _train_evaluate_export(recipe, prepared, folder, resumed_from, verbose, log)


def _train_evaluate_export(
    recipe: Recipe, prepared: Prepared, folder: Any, resumed_from: Optional[int], verbose: Any, log: Callable,
) -> dict:
    data, placement = prepared.data, prepared.placement
    chief = placement.is_chief
    if prepared.pretrained is not None:
        prepared.pretrained.write_word2vec(folder / PRETRAINED_VECTORS)

    model, adversarial = prepared.model, isinstance(prepared.model, GAN)
    throughput = _Throughput(prepared.train_examples)
    outputs = gan.callbacks(model, recipe, folder, data.num_classes) if adversarial else []
    callbacks = _callbacks(recipe, folder, throughput, outputs)
    start = time.perf_counter()
    # The second phase keeps its checkpoint inside the first's folder (the
    # first deletes its own when it ends): a run killed in the second phase
    # resumes there, not from the start.
    second = f"{runs.BACKUP}/{FINE_TUNE_BACKUP}"
    if not (folder / second).is_dir():
        prepared.fit(callbacks, verbose=verbose)
    if recipe["fine_tune"]["epochs"]:
        prepared.fine_tune(_callbacks(recipe, folder, throughput, outputs, backup=second), verbose=verbose)
    train_seconds = time.perf_counter() - start
    runs.plot_learning_curves(folder)
    if adversarial:
        # The judge is local work: the chief's alone.
        test, baselines, quality = {}, {}, gan.evaluate(recipe, model, data, folder, log) if chief else {}
    else:
        test, baselines = _test(prepared, log, baselines=chief)  # The model's test is collective work.
        quality = {}

    if chief and not adversarial:
        runs.save_model(folder, model, data.export_assets())
    export_path, difference = None, None
    if recipe["export"]["enabled"] and chief and adversarial:
        export_path, difference = gan.save_generator(recipe, model, data)
    elif recipe["export"]["enabled"] and chief:
        export_path, difference = export.export_savedmodel(
            model,
            recipe["export"]["directory"],
            recipe.name,
            _export_sample(data),
            {**data.export_assets(), runs.RECIPE: recipe.to_yaml()},
            output_name=data.output_name,
            check=recipe["export"]["verify"],
            precision=placement.precision,
            keras_file=folder / runs.MODEL,  # Saved just above.
        )
    history = runs.read_history(folder)
    summary = {
        "name": recipe.name,
        "dataset": prepared.data.source,
        "role": "chief" if chief else "worker",
        "strategy": placement.name,
        "replicas": placement.replicas,
        "workers": placement.workers,
        "precision": placement.precision,
        "global_batch_size": prepared.batch_size,
        "test": test,
        "baselines": baselines,
        "quality": quality,
        "samples": str(folder / gan.SAMPLES) if adversarial and chief else None,
        "validation": {
            key: float(values[-1]) for key, values in history.items() if key.startswith("val_") and values
        },
        "epochs": len(history.get("epoch", [])),
        "resumed_from_epoch": resumed_from,
        "train_seconds": round(train_seconds, 2),
        "train_samples_per_second": throughput.samples_per_second(),
        "run_dir": str(folder) if chief else None,
        "export_path": str(export_path) if export_path else None,
        "export_max_difference": difference,
    }
    runs.write_json_atomically(folder / runs.METRICS, summary)
    return summary


def _test(prepared: Prepared, log: Callable[[str], None], baselines: bool = True) -> tuple[dict, dict]:
    """The model's scores on the test split, and the baselines' (when
    ``baselines`` and ``training.baselines`` are on and the data has any)."""
    model, data = prepared.model, prepared.data
    test = {key: float(value) for key, value in model.evaluate(prepared.test, verbose=0, return_dict=True).items()}
    scores = evaluation.test_scores(data, model.predict(prepared.test, verbose=0))
    test.update({key: value for key, value in scores.items() if key not in test})
    scored = {}
    if baselines and prepared.recipe["training"]["baselines"]:
        scored = evaluation.baselines(data, prepared.fit_inputs, prepared.fit_labels, log=log)
    if scored:
        log("Test split, model and baselines:")
        for line in evaluation.table(scores, scored, tuple(scores)):
            log("  " + line)
    return test, scored


def _export_sample(data: Union[datasets.Dataset, Series]) -> np.ndarray:
    """Test inputs the export is verified on, in the model's input dtype."""
    return trained.as_inputs(data.x_test[:64])


def dry_run(recipe: Recipe) -> Any:
    """Loads the data and builds the model without training: a ``Prepared``,
    or for a text corpus a ``word2vec.Plan`` (same attributes)."""
    data = load_data(recipe)
    if isinstance(data, Corpus):
        return word2vec.plan(recipe, data, build_model(recipe, data))
    return Prepared(recipe, data, pretrain=False)
