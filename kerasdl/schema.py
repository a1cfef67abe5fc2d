"""The recipe schema: every fixed key, its type, default, range and meaning.

The ``model`` section and the loader options of the ``data`` section are not
listed here: their keys are the keyword arguments of the chosen builder or
dataset loader, checked against the function's signature (see ``recipe/sections.py``).
"""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import typing
from typing import Any, Optional

# A sentinel for "no default: the key is required".
REQUIRED = object()

# The enumerations a recipe chooses from, spelled here once: the code that
# acts on them (runtime.devices, runtime.optimizers, tune.tuners, the CLI)
# takes them from here.
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad", "adamax", "nadam", "lion")
SCHEDULES = ("constant", "exponential", "cosine", "piecewise", "linear")
STRATEGIES = ("auto", "default", "one_device", "mirrored", "multi_worker")
BATCH_SCOPES = ("global", "per_replica")
PRECISIONS = ("float32", "mixed", "mixed_float16", "mixed_bfloat16")
ALGORITHMS = ("random", "bayesian", "hyperband", "grid")
ATTACKS = ("fgsm", "pgd")
# kerasdl explain --method (evaluation/gradcam.py: how each weighs the feature map).
EXPLANATIONS = ("gradcam", "hirescam")


@dataclasses.dataclass(frozen=True)
class Field:
    """One recipe key.

    Attributes:
        type: The annotation values must match (``float`` also takes ints).
        default: The value used when the key is absent, or ``REQUIRED``.
        help: One line for the recipe reference (docs/recipes.md).
        choices: Allowed values, if the key is an enumeration.
        minimum: Smallest allowed value (inclusive) for numbers.
        maximum: Largest allowed value for numbers.
        exclusive_maximum: Whether ``maximum`` itself is out of range.
    """

    type: Any
    default: Any
    help: str
    choices: Optional[tuple] = None
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    exclusive_maximum: bool = False


EarlyStopping = typing.Union[bool, typing.Mapping[str, Any]]
LearningRate = typing.Union[float, typing.Mapping[str, Any]]

# A recipe's name names folders kerasdl writes (runs/<name>/, saved_models/<name>/):
# letters, digits, '_', '-', '.', at most 100, not starting with '.' (no '.', '..').
NAME_PATTERN = r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}"

# Upper bounds that catch a typo (epochs: 10**12 would train until killed)
# and leave any real run room.
MAX_EPOCHS = 100_000
MAX_BATCH = 2**20
# Examples, buffers and word counts: more than any disk holds.
MAX_COUNT = 2**40
# Seeds: NumPy's and TensorFlow's take 32 bits.
MAX_SEED = 2**32 - 1
# Any integer in a recipe (a builder's or a loader's argument too): what
# TensorFlow's int64 holds.
MAX_INTEGER = 2**63 - 1

# data.cache: where decoded examples are kept for later epochs (true and
# false, from older recipes, mean memory and none).
CACHES = ("auto", "memory", "disk", "none", True, False)

# Section name -> key -> Field. `data` lists only the pipeline keys shared
# by every dataset; `model` has only the builder's name.
SECTIONS: dict[str, dict[str, Field]] = {
    "data": {
        "dataset": Field(
            str, "fashion_mnist",
            "Dataset name from the catalogue (`kerasdl list`); the other keys of this section not listed here are "
            "that loader's arguments.",
        ),
        "max_train_examples": Field(
            Optional[int], None,
            "Use only the first N training examples (quick runs, tests); null for all.",
            minimum=1, maximum=MAX_COUNT,
        ),
        "max_test_examples": Field(
            Optional[int], None,
            "Use only the first N test examples; null for all.",
            minimum=1, maximum=MAX_COUNT,
        ),
        "classes": Field(
            Optional[typing.Sequence[int]], None,
            "Keep only these classes (indices into the dataset's classes), relabelled 0, 1, ... in this order; null "
            "for all.",
        ),
        "shuffle_buffer": Field(
            Optional[int], None,
            "Shuffle buffer size in examples; null for the whole training set in memory, and for data streamed from "
            "files a fresh file order every epoch (plus a 2,048-example buffer behind a cache).",
            minimum=1, maximum=MAX_COUNT,
        ),
        "cache": Field(
            typing.Union[bool, str], "auto",
            "Keep decoded examples for later epochs: memory, disk (a file in the run folder, removed when the run "
            "ends), none, or auto (memory for data loaded into memory, none for data streamed from files). true and "
            "false mean memory and none.",
            choices=CACHES,
        ),
        "service": Field(
            Optional[str], None,
            "A tf.data service dispatcher (grpc://host:port) whose workers do the training pipeline's reading and "
            "preprocessing; null to do it in this process.",
        ),
    },
    "model": {
        "builder": Field(
            str, REQUIRED,
            "Registered builder name (`kerasdl list`); every other key of this section is that builder's keyword "
            "argument.",
        ),
    },
    "optimizer": {
        "name": Field(str, "adam", "Keras optimizer.", choices=OPTIMIZERS),
        "learning_rate": Field(
            LearningRate, 1e-3,
            f"A constant, or a schedule mapping: `schedule` ({', '.join(SCHEDULES)}), `warmup_steps`, and the Keras "
            "schedule's arguments.",
        ),
    },
    "training": {
        "epochs": Field(int, 10, "Passes over the training data.", minimum=1, maximum=MAX_EPOCHS),
        "batch_size": Field(
            int, 128,
            "Global batch size: split across replicas when several devices train.",
            minimum=1, maximum=MAX_BATCH,
        ),
        "validation_split": Field(
            float, 0.1,
            "Fraction of the training data held out for validation (0 for none); the test split is never used for "
            "validation.",
            minimum=0.0, maximum=1.0, exclusive_maximum=True,
        ),
        "early_stopping": Field(
            EarlyStopping, False,
            "false, true (patience 3 on val_loss, best weights restored), or a mapping of "
            "keras.callbacks.EarlyStopping arguments.",
        ),
        "label_smoothing": Field(
            float, 0.0,
            "Soften a crossentropy's targets: 1 - label_smoothing on the true class plus label_smoothing / classes on "
            "every class (0: off). Regularizes a classifier that grows overconfident; the loss logged, validation's "
            "too, is the smoothed one.",
            minimum=0.0, maximum=1.0, exclusive_maximum=True,
        ),
        "checkpoint": Field(
            str, "best",
            "The weights a run keeps, evaluates and exports: best (the epoch with the best val_loss, or loss without "
            "validation, or early_stopping's monitor; kept across a resume) or last. A GAN and Word2Vec keep the last "
            "(their losses do not measure quality).",
            choices=("best", "last"),
        ),
        "reduce_on_plateau": Field(
            EarlyStopping, False,
            "Lower a constant learning rate when the monitored value stops improving: false, true (x0.5 after 2 "
            "epochs without improvement of val_loss, or loss without validation; min_lr 1e-6), or a mapping of "
            "keras.callbacks.ReduceLROnPlateau arguments. Not with a learning-rate schedule.",
        ),
        "class_weight": Field(
            typing.Union[None, str, typing.Mapping[str, Any]], None,
            "Weigh a classifier's training loss by class: null (every example alike), balanced (each class's examples "
            "weigh examples / (classes x the class's examples), so every class counts the same in all), or a mapping "
            "of class name to weight (classes not named weigh 1). Validation and test scores stay unweighted.",
        ),
        "oversample": Field(
            bool, False,
            "Repeat the training examples of a classifier's smaller classes, drawn at random, until every class has "
            "as many as the largest (longer epochs; validation and test untouched). Not with class_weight, nor for "
            "TFRecord and TFDS data (read in their own order).",
        ),
        "adversarial": Field(
            typing.Union[None, typing.Mapping[str, Any]], None,
            "Train an image classifier on attacked copies of its batches: null (off) or a mapping of attack (fgsm "
            "from a random start, or pgd), epsilon on the 0-to-1 pixel scale, steps and step_size (the table "
            "training.adversarial below).",
        ),
        "distillation": Field(
            typing.Union[None, typing.Mapping[str, Any]], None,
            "Train a classifier on a teacher's softened answers as well as the labels (models/distillation.py): null "
            "(off) or a mapping of teacher (a kerasdl run folder, export or .keras file, loaded in safe mode), "
            "temperature and hard_label_weight (the table training.distillation below).",
        ),
        "pruning": Field(
            typing.Union[None, float, typing.Mapping[str, Any]], None,
            "Magnitude pruning (models/pruning.py): null (off), a final sparsity (0.8: 80% of each dense and "
            "convolution kernel's weights zero), or a mapping of sparsity, begin_epoch, end_epoch and frequency (the "
            "table training.pruning below). The zeros are kept through training and into the export.",
        ),
        "label_mixing": Field(
            typing.Union[None, str, typing.Mapping[str, Any]], None,
            "Mix pairs of training images and their labels (models/mixing.py): null (off), mix_up or cut_mix "
            "(Keras's MixUp and CutMix layers), or a mapping of that name and the layer's own arguments: {name: "
            "mix_up, alpha: 0.2}, {name: cut_mix, factor: 1.0}. The labels become class probabilities and the "
            "loss categorical_crossentropy; validation and test images are not mixed.",
        ),
        "seed": Field(int, 42, "Seed for weights, shuffling and the validation split.", minimum=0, maximum=MAX_SEED),
        "strategy": Field(
            str, "auto",
            "Distribution strategy: auto (TF_CONFIG set -> multi_worker; several GPUs, or several training.devices -> "
            "mirrored; else the default), default, one_device, mirrored, multi_worker.",
            choices=STRATEGIES,
        ),
        "devices": Field(
            Optional[typing.Sequence[str]], None,
            "Devices for one_device or mirrored, e.g. [/gpu:0, /gpu:1]; null for all GPUs. CPUs past /cpu:0 are "
            "logical devices split from the CPU.",
        ),
        "batch_scope": Field(
            str, "global",
            "What batch_size counts: global (the batch of one step, split across replicas) or per_replica (each "
            "replica's; the global batch is batch_size x replicas).",
            choices=BATCH_SCOPES,
        ),
        "precision": Field(
            str, "float32",
            "float32, mixed (mixed_float16 on GPUs, mixed_bfloat16 on TPUs and CPUs with bfloat16 arithmetic), "
            "mixed_float16 or mixed_bfloat16. Outputs stay float32; mixed_float16 scales the loss.",
            choices=PRECISIONS,
        ),
        "jit_compile": Field(
            typing.Union[bool, str], "auto",
            "XLA compilation of the training step: true, false, or auto (Keras's choice: on with a GPU and no "
            "distribution strategy, off on CPUs, where it made convolutions 6.5x slower).",
            choices=("auto", True, False),
        ),
        "steps_per_execution": Field(
            int, 1,
            "Training steps per call into the compiled function (fewer Python round trips on fast devices).",
            minimum=1, maximum=MAX_EPOCHS,
        ),
        "resume": Field(bool, True, "Resume an interrupted run of the same recipe from its last finished epoch."),
        "runs_dir": Field(str, "runs", "Folder that receives run folders: <runs_dir>/<name>/<timestamp>/."),
        "baselines": Field(
            bool, True,
            "After the test, score simple baselines on the same test split: majority class and TF-IDF + logistic "
            "regression for texts (needs scikit-learn), last value and seasonal naive with drift for a series.",
        ),
    },
    # The second phase of transfer learning (builder `transfer`).
    "fine_tune": {
        "epochs": Field(
            int, 0,
            "After training.epochs, train this many more with the top of the backbone unfrozen; 0 for none.",
            minimum=0, maximum=MAX_EPOCHS,
        ),
        "unfreeze": Field(
            Any, True,
            "Backbone layers to unfreeze: true (all), a fraction of the layers from the top (0.3), a count from the "
            "top (20), or a list of layer names or patterns (block3_*). Batch-norm layers stay frozen, in inference "
            "mode.",
        ),
        "learning_rate": Field(
            float, 1e-5,
            "The constant learning rate of the second phase (the optimizer of the first, rebuilt).",
            minimum=0.0, maximum=10.0,
        ),
    },
    # Unsupervised pretraining of a text model's embedding.
    "pretrain": {
        "enabled": Field(
            bool, False,
            "Before training a text model, train Word2Vec (kerasdl's own) on its training texts (never the validation "
            "or test texts) and start the embedding from those vectors.",
        ),
        "epochs": Field(int, 10, "Word2Vec passes over the training texts.", minimum=1, maximum=MAX_EPOCHS),
        "window": Field(int, 5, "Largest distance between a word and a context word.", minimum=1, maximum=100),
        "min_count": Field(int, 2, "Words seen fewer times keep a random vector.", minimum=1, maximum=MAX_COUNT),
        "sample": Field(float, 1e-3, "Subsampling of frequent words (gensim's rule); 0 for none.", minimum=0.0),
        "num_negative_samples": Field(int, 5, "Noise words scored per pair.", minimum=1, maximum=100),
        "learning_rate": Field(float, 0.1, "Row-wise Adagrad's learning rate.", minimum=0.0, maximum=10.0),
        "batch_size": Field(int, 4096, "Centre words per step, a multiple of 16.", minimum=16, maximum=MAX_BATCH),
    },
    # How a GAN's samples are scored after training.
    "quality": {
        "enabled": Field(
            bool, True,
            "After a GAN trains, score its samples with a classifier of the same data (the judge): FID against its "
            "real-vs-real floor, class coverage, and for a conditional GAN the requested-class agreement.",
        ),
        "samples": Field(
            int, 10000,
            "Images generated for the scores; the real sets are cut to the same size (at most the test split's).",
            minimum=2, maximum=1_000_000,
        ),
        "judge_epochs": Field(
            int, 4,
            "Training epochs of the judge, trained once per dataset and cached in <runs_dir>/judges/.",
            minimum=1, maximum=1000,
        ),
    },
    # What an autoencoder (model.builder: autoencoder) learns as normal, and what it must flag.
    "anomaly": {
        "abnormal_dataset": Field(
            Optional[str], None,
            "A shipped dataset of the same input shape whose test split joins the test split as the abnormal inputs "
            "(fashion_mnist normal, mnist abnormal). Set this or held_out_class.",
        ),
        "held_out_class": Field(
            Optional[typing.Union[int, str]], None,
            "A class (index or name) left out of training: its test examples are the abnormal ones, the other "
            "classes' the normal ones (one-class-out). Set this or abnormal_dataset.",
        ),
        "false_alarm_rate": Field(
            float, 0.05,
            "The threshold flags an input whose score exceeds this share of the validation split's (normal) scores: "
            "the share of normal inputs expected to be flagged.",
            minimum=0.0, maximum=1.0, exclusive_maximum=True,
        ),
    },
    "export": {
        "enabled": Field(bool, True, "Export a SavedModel after training."),
        "directory": Field(str, "saved_models", "Exports go to <directory>/<name>/<version>/ (TF Serving layout)."),
        "verify": Field(
            bool, True,
            "Reload the export with tf.saved_model.load and compare its predictions with the trained model's.",
        ),
    },
}

# The `tune` section, read by `kerasdl tune` only; `space` is described in
# kerasdl/tune/space.py and docs/tuning.md.
TUNE: dict[str, Field] = {
    "space": Field(
        typing.Mapping[str, Any], REQUIRED,
        "What to search: dotted recipe key -> search space (see below).",
    ),
    "objective": Field(
        str, "val_loss",
        "The metric to optimize, as `fit` logs it: loss, a metric of `metrics`, or either with `val_` (needs "
        "training.validation_split > 0).",
    ),
    "direction": Field(
        Optional[str], None,
        "min or max; inferred for losses and Keras metrics, required for others.",
        choices=("min", "max", None),
    ),
    "algorithm": Field(str, "bayesian", "random, bayesian (Gaussian process), hyperband, or grid.", choices=ALGORITHMS),
    "options": Field(
        typing.Mapping[str, Any], {},
        "The algorithm's own arguments: bayesian num_initial_points, alpha, beta; hyperband max_epochs (default "
        "training.epochs), factor, hyperband_iterations; any: max_retries_per_trial, max_consecutive_failed_trials.",
    ),
    "max_trials": Field(
        int, 10,
        "Trials to run in all (a resumed search counts those done); for hyperband a cap on top of its own budget.",
        minimum=1, maximum=100_000,
    ),
    "executions_per_trial": Field(
        int, 1,
        "Trainings per trial, with seeds training.seed, +1, ...; the objective is their mean.",
        minimum=1, maximum=1000,
    ),
    "directory": Field(
        str, "tuning",
        "The search lives in <directory>/<name>/: Keras Tuner's project, trials.csv, best_recipe.yaml.",
    ),
}

# Sections that `resolve` keeps as written, validated by the one command
# that reads them: `kerasdl run` ignores them.
READ_ELSEWHERE: dict[str, dict[str, Field]] = {"tune": TUNE}

# A recipe file's `base`: other recipe files it extends, merged before the
# recipe is resolved (kerasdl.recipe.bases.read_layered).
BASE = "base"
BASE_HELP = (
    "`base: FILE` or `base: [FILE, ...]` at the top of a recipe file extends other recipe files, named relative "
    "to the recipe's own folder. The bases merge in order, then the recipe on top: mappings key by key at every "
    "depth, the later value winning; a list, a number or `null` replaces the base's value whole. A base's `name` "
    "is not inherited (the recipe is named by its own `name` or its file name). A base may have bases; a cycle "
    "or a missing file is an error naming both files. What a run stores (`recipe.yaml` in the run folder and the "
    "export) is the merged recipe, flat: it runs without its bases. A recipe that comes with a model or a run "
    "folder must be flat; kerasdl never follows a `base` in it. The shipped recipes share "
    "`recipes/bases/*.yaml`; `kerasdl run RECIPE --dry-run` prints the merged result."
)

# training.adversarial's keys, when it is a mapping (models/adversarial.py).
ADVERSARIAL: dict[str, Field] = {
    "attack": Field(str, "fgsm", "fgsm (one step from a random start) or pgd (steps projected steps).",
                    choices=ATTACKS),
    "epsilon": Field(float, 0.1, "How far an attack may move each pixel, on the 0-to-1 scale (0.1: 25.5 levels).",
                     minimum=0.001, maximum=1.0),
    "steps": Field(int, 7, "PGD's steps (each a forward and backward pass; FGSM takes one).", minimum=1, maximum=100),
    "step_size": Field(Optional[float], None,
                       "Each step on the 0-to-1 scale; null: 1.25 epsilon for fgsm, 2.5 epsilon / steps for pgd.",
                       minimum=0.0, maximum=1.0),
}

# training.pruning's keys, when it is a mapping (models/pruning.py).
PRUNING: dict[str, Field] = {
    "sparsity": Field(float, 0.8, "The share of each kernel's weights that end at zero.", minimum=0.0, maximum=1.0,
                      exclusive_maximum=True),
    "begin_epoch": Field(int, 0, "Epochs trained whole before pruning starts.", minimum=0, maximum=MAX_EPOCHS),
    "end_epoch": Field(Optional[int], None,
                       "The epoch by whose start the final sparsity is reached (a cubic ramp from begin_epoch); the "
                       "rest train at it. null: two thirds into training.epochs.", minimum=1, maximum=MAX_EPOCHS),
    "frequency": Field(int, 50, "Steps between two updates of the masks while the sparsity ramps up.", minimum=1,
                       maximum=MAX_COUNT),
}

# training.distillation's keys (models/distillation.py).
DISTILLATION: dict[str, Field] = {
    "teacher": Field(Optional[str], None,
                     "The teacher: a kerasdl run folder, an export (saved_models/<name>[/<version>]) or a .keras file, "
                     "of the same inputs and classes; loaded in Keras's safe mode. Required."),
    "temperature": Field(float, 4.0, "Divides both models' logits before the softmax: higher shows more of the "
                         "teacher's ranking of the wrong classes.", minimum=1.0, maximum=100.0),
    "hard_label_weight": Field(float, 0.1, "The labels' share of the loss; the teacher's answers weigh the rest.",
                               minimum=0.0, maximum=1.0),
}

# The keys of a section's key that may be a mapping of fixed keys, by dotted key
# (the reference gives each its own table).
MAPPINGS: dict[str, dict[str, Field]] = {
    "training.adversarial": ADVERSARIAL, "training.pruning": PRUNING, "training.distillation": DISTILLATION,
}


TOP_LEVEL: dict[str, Field] = {
    "name": Field(Optional[str], None, "Run and export name; defaults to the recipe file's name."),
    "loss": Field(str, "sparse_categorical_crossentropy", "Keras loss name."),
    "metrics": Field(
        typing.Sequence[str], ["accuracy"],
        "Keras metric names reported in training and on the test split.",
    ),
}


def type_name(annotation: Any) -> str:
    """A reader-friendly name for an annotation, for error messages."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return "any value"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union:
        return " or ".join(type_name(arg) for arg in args)
    if origin in (list, tuple, collections.abc.Sequence):
        return f"a list of {_plural(type_name(args[0]))}" if args else "a list"
    if origin in (dict, collections.abc.Mapping):
        return "a mapping"
    names = {int: "an integer", float: "a number", bool: "true or false",
             str: "a string", type(None): "null"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def matches(value: Any, annotation: Any) -> bool:
    """Whether a YAML value fits an annotation (ints count as floats)."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union:
        return any(matches(value, arg) for arg in args)
    if origin in (list, tuple, collections.abc.Sequence):
        if not isinstance(value, (list, tuple)):
            return False
        return all(matches(item, args[0]) for item in value) if args else True
    if origin in (dict, collections.abc.Mapping):
        return isinstance(value, dict)
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True


def annotation_from_default(default: Any) -> Any:
    """Guesses the type of an unannotated parameter from its default."""
    if default is None or default is inspect.Parameter.empty:
        return Any
    if isinstance(default, bool):
        return bool
    if isinstance(default, float):
        return float
    if isinstance(default, int):
        return int
    if isinstance(default, str):
        return str
    if isinstance(default, (list, tuple)):
        return typing.Sequence[Any]
    return Any


def parameter_annotations(function: Any) -> dict[str, Any]:
    """Resolved annotations of a function's parameters, falling back to defaults."""
    try:
        hints = typing.get_type_hints(function)
    except Exception:  # Unresolvable forward references: use the defaults.
        hints = {}
    result = {}
    for key, parameter in inspect.signature(function).parameters.items():
        if key == "self" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        result[key] = hints.get(key, annotation_from_default(parameter.default))
    return result


def _plural(name: str) -> str:
    plurals = {"an integer": "integers", "a number": "numbers", "a string": "strings",
               "true or false": "booleans", "any value": "values"}
    return plurals.get(name, name)
