"""How each top-level key of a recipe resolves: ``name``, the sections of
``schema.SECTIONS`` (``data`` and ``model`` with their loader's and
builder's arguments, ``optimizer`` with Keras's), ``loss`` and ``metrics``.
``RESOLVERS`` lists them in the order they are checked and written.
"""

from __future__ import annotations

import copy
import inspect
import re
from pathlib import Path
from typing import Any, Callable, Optional

from kerasdl import schema
from kerasdl.errors import KerasdlError
from kerasdl.recipe.checker import Checker
from kerasdl.recipe.yaml_text import plain
from kerasdl.registry import BUILDERS, DATASETS


def resolve_fields(check: Checker, section: str, given: dict, fields: Optional[dict] = None) -> dict:
    """Checks a section's fixed keys and fills their defaults.

    ``fields`` defaults to the section's entry in ``schema.SECTIONS``.
    """
    resolved = {}
    for key, field in (fields or schema.SECTIONS[section]).items():
        dotted = f"{section}.{key}"
        if key in given:
            check.field(dotted, given[key], field)
            resolved[key] = given[key]
        elif field.default is schema.REQUIRED:
            check.fail(dotted, f"is required: {field.help}")
        else:
            resolved[key] = copy.deepcopy(field.default)
    return resolved


def resolve_arguments(
    check: Checker, section: str, given: dict, function: Any, fixed: dict, what: str,
    supplied: tuple = (),
) -> dict:
    """Checks ``given`` against a function's signature; returns all its arguments.

    ``supplied`` names parameters kerasdl fills in itself (from the data or
    the run), which a recipe may not set.
    """
    annotations = schema.parameter_annotations(function)
    parameters = {key: value for key, value in annotations.items() if key not in supplied}
    known = list(fixed) + [key for key in parameters if key not in fixed]
    check.unknown_keys(section, given, known, what)
    defaults = inspect.signature(function).parameters
    resolved = {}
    for key, annotation in parameters.items():
        dotted = f"{section}.{key}"
        if key in given:
            check.value(dotted, given[key], annotation)
            resolved[key] = given[key]
        elif defaults[key].default is inspect.Parameter.empty:
            check.fail(dotted, f"is required by {what.split(' of ')[-1]}: set it in the recipe.")
        else:
            resolved[key] = plain(defaults[key].default)
    return resolved


def _resolve_registered(
    check: Checker, section: str, given: dict, selector: str, registry: Any, what: str
) -> dict:
    """Resolves a section whose ``selector`` key names a registry entry and
    whose other keys (beyond the fixed ones) are that entry's arguments."""
    fixed = resolve_fields(check, section, given)
    try:
        function = registry.get(fixed[selector])
    except KerasdlError as error:
        check.fail(f"{section}.{selector}", f"is invalid: {error}")
    extra = {key: value for key, value in given.items() if key not in fixed}
    arguments = resolve_arguments(
        check, section, extra, function, schema.SECTIONS[section], f"{what} '{fixed[selector]}'",
        supplied=registry.data_arguments,
    )
    return {**fixed, **arguments}


def resolve_optimizer(check: Checker, values: dict) -> dict:
    """``optimizer``: its name, learning rate (a number or a schedule) and the
    Keras optimizer's own arguments, of which only those set are kept."""
    given = values.get("optimizer") or {}
    resolved = resolve_fields(check, "optimizer", given)
    from kerasdl.runtime.optimizers import optimizer_class as find_optimizer

    optimizer_class = find_optimizer(resolved["name"])
    extra = {key: value for key, value in given.items() if key not in resolved}
    arguments = resolve_arguments(
        check, "optimizer", extra, optimizer_class.__init__,
        schema.SECTIONS["optimizer"],
        f"an argument of keras.optimizers.{optimizer_class.__name__}",
    )
    # Keep only what the user set: Keras's own defaults stay Keras's.
    resolved.update({key: value for key, value in arguments.items() if key in extra})
    rate = resolved["learning_rate"]
    if isinstance(rate, dict):
        _check_schedule(check, rate)
    elif rate <= 0:
        check.fail("optimizer.learning_rate", f"must be > 0. Received: learning_rate={rate}")
    return plain(resolved)


def _check_schedule(check: Checker, schedule: dict) -> None:
    key = "optimizer.learning_rate"
    name = schedule.get("schedule")
    if name not in schema.SCHEDULES:
        check.fail(
            f"{key}.schedule",
            f"must be one of: {', '.join(schema.SCHEDULES)}. Received: schedule={name!r}",
        )
    from kerasdl.runtime import optimizers

    function = optimizers.schedule_class(name)
    extra = {k: v for k, v in schedule.items() if k not in ("schedule", "warmup_steps")}
    # decay_steps may be left out: it then defaults to the run's length.
    if "decay_steps" in inspect.signature(function.__init__).parameters:
        extra.setdefault("decay_steps", 1)
    resolve_arguments(
        check, key, extra, function.__init__, {"schedule": None, "warmup_steps": None},
        f"an argument of the '{name}' schedule",
    )
    # Keras's schedules do not annotate their arguments: every one is a
    # number (or a list of numbers) but their flags and name.
    for argument, value in extra.items():
        if argument in ("staircase", "cycle", "name"):
            continue
        numbers = value if isinstance(value, list) else [value]
        if not numbers or not all(schema.matches(number, float) for number in numbers):
            lists = " or a list of numbers" if argument in ("boundaries", "values") else ""
            check.fail(f"{key}.{argument}", f"must be a number{lists}. Received: {argument}={value!r}")
    if "initial_learning_rate" in extra and not extra["initial_learning_rate"] > 0:
        check.fail(f"{key}.initial_learning_rate",
            f"must be > 0. Received: initial_learning_rate={extra['initial_learning_rate']}")
    warmup = schedule.get("warmup_steps", 0)
    if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
        check.fail(f"{key}.warmup_steps", f"must be an integer >= 0. Received: warmup_steps={warmup!r}")


def _check_class_weight(check: Checker, setting: Any) -> None:
    """``training.class_weight`` is null, ``balanced`` or class name -> weight > 0
    (the names are checked against the data by the classifier)."""
    key = "training.class_weight"
    if isinstance(setting, str) and setting != "balanced":
        check.fail(key, "must be balanced, or a mapping of class name to "
                        f"weight{check.did_you_mean(setting, ['balanced'])}. "
                   f"Received: class_weight={setting!r}")
    for name, weight in (setting or {}).items() if isinstance(setting, dict) else ():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight <= 0:
            check.fail(f"{key}.{name}", f"must be a number above 0. Received: {name}={weight!r}")


def _resolve_named(check: Checker, key: str, name: str, getter: Any) -> None:
    """Checks that a Keras loss/metric name resolves."""
    try:
        getter(name)
    except (ValueError, TypeError):
        check.fail(key, f"is not a Keras name. Received: {key.rsplit('.', 1)[-1]}={name!r}")


def resolve_name(check: Checker, values: dict) -> str:
    """``name``: as given, else the recipe file's name; it names folders."""
    name = values.get("name") or Path(check.path).stem
    check.value("name", name, str)
    if not re.fullmatch(schema.NAME_PATTERN, name):
        check.fail(
            "name",
            "names the run's and the export's folders: up to 100 letters, digits, '_', '-' and '.', not starting "
            f"with '.'. Received: name={name!r}",
        )
    return name


def resolve_data(check: Checker, values: dict) -> dict:
    """``data``: the pipeline's keys and the chosen loader's arguments."""
    return plain(_resolve_registered(check, "data", values.get("data") or {}, "dataset", DATASETS,
                                     "an option of dataset"))


def resolve_model(check: Checker, values: dict) -> dict:
    """``model``: the builder's name and its keyword arguments."""
    return plain(_resolve_registered(check, "model", values.get("model") or {}, "builder", BUILDERS,
                                     "an argument of builder"))


def resolve_loss(check: Checker, values: dict) -> str:
    """``loss``: a Keras loss name."""
    import keras

    loss = _top_level(check, values, "loss")
    _resolve_named(check, "loss", loss, keras.losses.get)
    return loss


def resolve_metrics(check: Checker, values: dict) -> list:
    """``metrics``: Keras metric names."""
    import keras

    metrics = _top_level(check, values, "metrics")
    for index, metric in enumerate(metrics):
        if metric not in ("accuracy", "acc"):
            _resolve_named(check, f"metrics[{index}]", metric, keras.metrics.get)
    return metrics


def _top_level(check: Checker, values: dict, key: str) -> Any:
    field = schema.TOP_LEVEL[key]
    value = values.get(key, copy.deepcopy(field.default))
    check.field(key, value, field)
    return value


def resolve_training(check: Checker, values: dict) -> dict:
    """``training``: its fixed keys, the callbacks' own arguments where
    ``early_stopping`` or ``reduce_on_plateau`` is a mapping, and the class
    weights."""
    import keras

    resolved = resolve_section(check, values, "training")
    for key, callback in (("early_stopping", keras.callbacks.EarlyStopping),
                          ("reduce_on_plateau", keras.callbacks.ReduceLROnPlateau)):
        if isinstance(resolved[key], dict):
            resolve_arguments(
                check, f"training.{key}", resolved[key], callback.__init__, {},
                f"an argument of keras.callbacks.{callback.__name__}",
            )
    _check_class_weight(check, resolved["class_weight"])
    if isinstance(resolved["adversarial"], dict):
        given = resolved["adversarial"]
        check.unknown_keys("training.adversarial", given, schema.ADVERSARIAL, "a key of training.adversarial")
        resolved["adversarial"] = plain(resolve_fields(check, "training.adversarial", given, schema.ADVERSARIAL))
    if resolved["distillation"] is not None:
        given = resolved["distillation"]
        check.unknown_keys("training.distillation", given, schema.DISTILLATION, "a key of training.distillation")
        resolved["distillation"] = plain(resolve_fields(check, "training.distillation", given, schema.DISTILLATION))
        if not resolved["distillation"]["teacher"]:
            check.fail("training.distillation.teacher", "is required: the model the student learns from, a run "
                       "folder, an export or a .keras file, e.g. saved_models/cnn_best. Received: teacher=None")
    if resolved["pruning"] is not None:
        given = resolved["pruning"] if isinstance(resolved["pruning"], dict) else {"sparsity": resolved["pruning"]}
        check.unknown_keys("training.pruning", given, schema.PRUNING, "a key of training.pruning")
        resolved["pruning"] = plain(resolve_fields(check, "training.pruning", given, schema.PRUNING))
        _check_pruning_epochs(check, resolved)
    return resolved


def _check_pruning_epochs(check: Checker, training: dict) -> None:
    """``training.pruning``'s epochs: the ramp ends after it begins, within the run."""
    pruning, epochs = training["pruning"], training["epochs"]
    end = pruning["end_epoch"]
    if pruning["begin_epoch"] >= epochs or (end is not None and not pruning["begin_epoch"] < end <= epochs):
        check.fail("training.pruning", f"begin_epoch must come before end_epoch, and end_epoch at most "
                   f"training.epochs ({epochs}). Received: begin_epoch={pruning['begin_epoch']}, end_epoch={end}")


def resolve_section(check: Checker, values: dict, section: str) -> dict:
    """A section of fixed keys only: each checked, the others defaulted."""
    given = values.get(section) or {}
    check.unknown_keys(section, given, schema.SECTIONS[section], f"a key of section '{section}'")
    return plain(resolve_fields(check, section, given))


def _fixed(section: str) -> Callable[[Checker, dict], dict]:
    return lambda check, values: resolve_section(check, values, section)


# Every key of a resolved recipe, in the order it is checked and written.
RESOLVERS: dict[str, Callable[[Checker, dict], Any]] = {
    "name": resolve_name,
    "data": resolve_data,
    "model": resolve_model,
    "optimizer": resolve_optimizer,
    "loss": resolve_loss,
    "metrics": resolve_metrics,
    "training": resolve_training,
    **{section: _fixed(section) for section in schema.SECTIONS if section not in ("data", "model", "optimizer",
        "training")},
}
