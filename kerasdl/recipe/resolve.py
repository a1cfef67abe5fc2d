"""Recipes: load a YAML file, apply ``--set`` overrides, validate, resolve.

A resolved recipe has every key with its value or default, so the copy
saved in a run folder reproduces the run on its own.

Example:

>>> recipe = load_recipe("recipes/cnn.yaml", overrides=["training.epochs=3"])
>>> recipe["training"]["epochs"]
3
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import inspect
import math
import re
from pathlib import Path
from typing import Any, Iterable, NoReturn, Optional

import yaml

from kerasdl.errors import KerasdlError, RecipeError
from kerasdl.recipe import schema
from kerasdl.registry import BUILDERS, DATASETS


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads ``1e-3`` as a float and refuses a key given
    twice in one mapping (PyYAML keeps the last without a word).

    YAML 1.1 (PyYAML) requires a dot in floats, so ``1e-3`` would be the
    string "1e-3"; YAML 1.2 and every user reading a recipe say float.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None, None, "a key is a name, not a list or a mapping (a '?' key in YAML); write the key as a string",
                    key_node.start_mark,
                )
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None,
                    f"the key {key!r} is given twice in one mapping (first on line {seen[key].line + 1}); "
                    "keep one",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        # Python reads at most 4,300 digits (and a recipe's counts have a few).
        digits = sum(character.isdigit() for character in node.value)
        if digits > MAX_DIGITS:
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {digits:,} digits; a recipe's numbers have at most {MAX_DIGITS}",
                node.start_mark,
            )
        return super().construct_yaml_int(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)

# Values a recipe may hold, counting each use of a YAML alias anew: a
# recipe is a few hundred; an "alias bomb" of a few lines is billions.
MAX_VALUES = 100_000
# How deep mappings and lists may nest (the shipped recipes: 4), how long
# a recipe file may be (theirs: 2 KB) and how many digits an integer has.
MAX_DEPTH = 20
MAX_BYTES = 1_000_000
MAX_DIGITS = 30


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def parse_yaml(text: str, source: str) -> Any:
    """Parses YAML text with kerasdl's float rule; errors name ``source``.

    Raises:
        RecipeError: for invalid YAML, a key given twice, or aliases that
            expand beyond ``MAX_VALUES`` values.
    """
    if len(text) > MAX_BYTES:
        raise RecipeError(
            f"{source}: {len(text):,} characters; a recipe has at most {MAX_BYTES:,}. Is this file a recipe?"
        )
    try:
        _check_depth(text, source)
        parsed = yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = " ".join(part for part in (error.context, error.problem) if part)
        raise RecipeError(f"{source}: not valid YAML: {where}{what}") from None
    except yaml.YAMLError as error:
        raise RecipeError(f"{source}: not valid YAML: {error}") from None
    _count_values(parsed, source)
    return parsed


def _check_depth(text: str, source: str) -> None:
    """Refuses mappings and lists nested deeper than ``MAX_DEPTH``, from the
    parser's events (iterative), before the recursive composer meets them."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                raise RecipeError(
                    f"{source}: line {mark.line + 1}, column {mark.column + 1}: mappings and lists nest more than "
                    f"{MAX_DEPTH} deep; a recipe's sections nest a few levels. Remove the extra brackets."
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _count_values(parsed: Any, source: str) -> None:
    """Refuses a document whose aliases expand beyond ``MAX_VALUES`` values
    (counted without expanding them)."""
    stack, count = [parsed], 0
    while stack:
        value = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise RecipeError(
                f"{source}: the recipe expands to more than {MAX_VALUES:,} values (YAML aliases reused over and "
                "over?). Write the values out, or use fewer aliases."
            )
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


class _Dumper(yaml.SafeDumper):
    """Block-style sections with lists on one line, as recipes are written."""


_Dumper.add_representer(
    list, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)
)


def dump_yaml(values: dict) -> str:
    """Writes a resolved recipe as YAML that ``load_recipe`` reads back."""
    return yaml.dump(_plain(values), Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


@dataclasses.dataclass
class Recipe:
    """A validated recipe with every default filled in.

    Attributes:
        path: The file it came from, for messages.
        values: The resolved sections (``data``, ``model``, ...), plus the
            ``tune`` section as written when there is one.
        raw: The recipe as parsed, ``--set`` overrides applied, before
            defaults: what ``with_values`` starts from.
        overridden: The dotted keys set with ``--set``, for messages.
    """

    path: str
    values: dict
    raw: Optional[dict] = None
    overridden: frozenset = frozenset()

    def __getitem__(self, section: str) -> Any:
        return self.values[section]

    @property
    def name(self) -> str:
        return self.values["name"]

    def builder_arguments(self) -> dict:
        """The ``model`` section less the builder's name: its keyword arguments."""
        return {key: value for key, value in self.values["model"].items() if key != "builder"}

    def dataset_arguments(self) -> dict:
        """The ``data`` section less the pipeline keys: the loader's arguments."""
        return {
            key: value for key, value in self.values["data"].items()
            if key not in schema.SECTIONS["data"]
        }

    def to_yaml(self) -> str:
        return dump_yaml(self.values)

    def with_values(self, assignments: dict[str, Any], prefix: str = "") -> "Recipe":
        """The recipe re-resolved with dotted keys set to new values.

        This is how a tuning trial's values become a recipe: through the
        same validation as the file itself.

        Args:
            assignments: ``{"model.dropout_rate": 0.3, ...}``.
            prefix: Put before the key in error messages.

        Raises:
            RecipeError: if a key or value does not fit the recipe.
        """
        values = copy.deepcopy(self.raw if self.raw is not None else self.values)
        for key, value in assignments.items():
            set_dotted(values, key, copy.deepcopy(value), f"{self.path}: {prefix}{key}")
        return resolve(values, self.path, prefix=prefix)


class Checker:
    """Collects the context (file, overrides) that every message names.

    Args:
        path: The recipe file.
        overridden: Dotted keys set with ``--set``, named as such.
        prefix: Put before every key, e.g. ``tune.space.`` when checking a
            search-space value.
    """

    def __init__(self, path: str, overridden: set[str] = frozenset(), prefix: str = ""):
        self.path = path
        self.overridden = overridden
        self.prefix = prefix

    def fail(self, key: str, message: str) -> NoReturn:
        full = f"{self.prefix}{key}"
        # `--set model={...}` overrode every key under it too.
        raise RecipeError(f"{self.path}: {'--set ' if set_by(full, self.overridden) else ''}{full} {message}")

    @staticmethod
    def did_you_mean(value: Any, known: Iterable[Any]) -> str:
        """`` (did you mean 'x'?)`` for the closest known name, or nothing."""
        close = difflib.get_close_matches(str(value), [str(name) for name in known], n=1)
        return f" (did you mean '{close[0]}'?)" if close else ""

    def unknown_keys(self, where: str, given: dict, known: Iterable[str], what: str) -> None:
        known = list(known)
        for key in given:
            if key not in known:
                hint = self.did_you_mean(key, known)
                dotted = f"{where}.{key}" if where else str(key)
                self.fail(
                    dotted,
                    f"is not {what}{hint}. Expected one of: {', '.join(known)}. "
                    f"Received: {key}={given[key]!r}",
                )

    def value(self, key: str, value: Any, annotation: Any) -> None:
        if not schema.matches(value, annotation):
            self.fail(
                key,
                f"must be {schema.type_name(annotation)}. Received: "
                f"{key.rsplit('.', 1)[-1]}={value!r} ({type(value).__name__})",
            )

    def field(self, key: str, value: Any, field: schema.Field) -> None:
        self.value(key, value, field.type)
        short = key.rsplit(".", 1)[-1]
        if field.choices is not None and value not in field.choices:
            hint = self.did_you_mean(value, [choice for choice in field.choices if choice is not None])
            shown = ", ".join(str(choice).lower() if isinstance(choice, bool) else str(choice) for choice in field.choices)
            self.fail(key, f"must be one of: {shown}{hint}. Received: {short}={value!r}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            low, high = field.minimum, field.maximum
            if low is not None and value < low or high is not None and (
                value > high or field.exclusive_maximum and value == high
            ):
                bound = ")" if field.exclusive_maximum else "]"
                span = f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'}{bound}"
                self.fail(key, f"is out of range: expected a value in {span}. Received: {short}={value!r}")


def set_by(key: str, overridden: Iterable[str]) -> bool:
    """Whether ``key`` was set with ``--set``, itself or through a section
    or list above it (``--set model={...}`` sets ``model.units[0]`` too)."""
    return any(key == given or key.startswith((f"{given}.", f"{given}[")) for given in overridden)


def set_dotted(values: dict, key: str, value: Any, where: str) -> None:
    """Sets ``values[a][b][c] = value`` for the key ``a.b.c``, creating sections.

    Raises:
        RecipeError: (prefixed with ``where``) if a part of the path is a
            value rather than a section.
    """
    node = values
    parts = key.split(".")
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise RecipeError(
                f"{where}: '{'.'.join(parts[:depth + 1])}' is a value ({child!r}), not a "
                f"section, so it has no key '{parts[depth + 1]}'."
            )
        node = child
    node[parts[-1]] = value


def flatten(values: Any, prefix: str = "", whole: tuple[str, ...] = ()) -> dict[str, Any]:
    """Dotted key -> value for every leaf of nested mappings (a list is one
    leaf; an empty mapping has none). Under a prefix in ``whole`` (e.g.
    ``"tune.space."``) each entry counts as one value, named by its key."""
    if not isinstance(values, dict):
        return {prefix.rstrip("."): values}
    if prefix in whole:
        return {f"{prefix}{key}": value for key, value in values.items()}
    flat: dict[str, Any] = {}
    for key, value in values.items():
        flat.update(flatten(value, f"{prefix}{key}.", whole))
    return flat


def _apply_override(values: dict, assignment: str, path: str) -> str:
    """Applies ``a.b.c=value`` (value parsed as YAML) and returns the key."""
    key, sep, text = assignment.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise RecipeError(
            f"--set expects KEY=VALUE with a dotted key, e.g. --set training.epochs=3. "
            f"Received: {assignment!r}"
        )
    value = parse_yaml(text, f"--set {key}") if text.strip() else None
    set_dotted(values, key, value, f"{path}: --set {key}")
    return key


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
            resolved[key] = _plain(defaults[key].default)
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


def _resolve_optimizer(check: Checker, given: dict) -> dict:
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
    return resolved


def _check_numbers(check: Checker, values: Any, key: str = "") -> None:
    """Refuses NaN, infinity and integers beyond int64 anywhere in a recipe:
    every number a recipe holds is meant to be finite (NaN passes every
    range check) and to fit TensorFlow's integers (a builder's or a
    loader's argument has no range of its own)."""
    short = key.rsplit(".", 1)[-1]
    if isinstance(values, float) and not math.isfinite(values):
        check.fail(key, f"must be a finite number. Received: {short}={values}")
    if isinstance(values, int) and not isinstance(values, bool) and abs(values) > schema.MAX_INTEGER:
        check.fail(key, f"is out of range: integers in a recipe fit in 64 bits (at most {schema.MAX_INTEGER:,}). "
                        f"Received: {short}={values}")
    items = values.items() if isinstance(values, dict) else enumerate(values) if isinstance(values, list) else ()
    for name, value in items:
        _check_numbers(check, value, f"{key}[{name}]" if isinstance(name, int) else f"{key}.{name}".lstrip("."))


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
            check.fail(f"{key}.{argument}", f"must be a number{' or a list of numbers' if argument in ('boundaries', 'values') else ''}. Received: {argument}={value!r}")
    if "initial_learning_rate" in extra and not extra["initial_learning_rate"] > 0:
        check.fail(f"{key}.initial_learning_rate", f"must be > 0. Received: initial_learning_rate={extra['initial_learning_rate']}")
    warmup = schedule.get("warmup_steps", 0)
    if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
        check.fail(f"{key}.warmup_steps", f"must be an integer >= 0. Received: warmup_steps={warmup!r}")


def _check_class_weight(check: Checker, setting: Any) -> None:
    """``training.class_weight`` is null, ``balanced`` or class name -> weight > 0
    (the names are checked against the data by the classifier)."""
    key = "training.class_weight"
    if isinstance(setting, str) and setting != "balanced":
        check.fail(key, f"must be balanced, or a mapping of class name to weight{check.did_you_mean(setting, ['balanced'])}. "
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


def resolve(raw: Any, path: str, overrides: Iterable[str] = (), prefix: str = "") -> Recipe:
    """Validates a parsed recipe (plus overrides) and fills every default.

    Sections in ``schema.READ_ELSEWHERE`` (``tune``) are kept as written:
    the command that reads them validates them (``kerasdl.tune.settings``).

    Raises:
        RecipeError: naming the file and the dotted key of the first problem.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: a recipe is a mapping of sections (data, model, ...). Received: {type(raw).__name__}")
    values = copy.deepcopy(raw)
    overridden = {_apply_override(values, assignment, path) for assignment in overrides}
    check = Checker(path, overridden, prefix)
    if schema.BASE in values:
        check.fail(
            schema.BASE,
            "extends a recipe file you wrote: kerasdl follows it in recipes it reads with `kerasdl run`, `tune` "
            "and `evaluate --recipe`, not in a recipe that came with a model or run folder (those are flat). "
            f"Merge the base into this recipe. Received: base={values[schema.BASE]!r}",
        )
    _check_numbers(check, values)
    sections = list(schema.TOP_LEVEL) + list(schema.SECTIONS) + list(schema.READ_ELSEWHERE)
    check.unknown_keys("", values, sections, "a recipe section")
    for section in [*schema.SECTIONS, *schema.READ_ELSEWHERE]:
        if values.get(section) is not None and not isinstance(values[section], dict):
            check.fail(section, f"must be a mapping of keys. Received: {section}={values[section]!r}")

    resolved: dict[str, Any] = {"name": values.get("name") or Path(path).stem}
    check.value("name", resolved["name"], str)
    if not re.fullmatch(schema.NAME_PATTERN, resolved["name"]):
        check.fail(
            "name",
            "names the run's and the export's folders: up to 100 letters, digits, '_', '-' and '.', not starting "
            f"with '.'. Received: name={resolved['name']!r}",
        )

    resolved["data"] = _resolve_registered(
        check, "data", values.get("data") or {}, "dataset", DATASETS, "an option of dataset"
    )
    resolved["model"] = _resolve_registered(
        check, "model", values.get("model") or {}, "builder", BUILDERS, "an argument of builder"
    )
    resolved["optimizer"] = _resolve_optimizer(check, values.get("optimizer") or {})

    import keras

    from kerasdl.models import losses

    for key in ("loss", "metrics"):
        field = schema.TOP_LEVEL[key]
        resolved[key] = values.get(key, copy.deepcopy(field.default))
        check.field(key, resolved[key], field)
    _resolve_named(check, "loss", resolved["loss"], keras.losses.get)
    for index, metric in enumerate(resolved["metrics"]):
        if metric not in ("accuracy", "acc"):
            _resolve_named(check, f"metrics[{index}]", metric, keras.metrics.get)

    for section in ("training", "fine_tune", "pretrain", "quality", "export"):
        given = values.get(section) or {}
        check.unknown_keys(section, given, schema.SECTIONS[section], f"a key of section '{section}'")
        resolved[section] = resolve_fields(check, section, given)
    for key, callback in (("early_stopping", keras.callbacks.EarlyStopping),
                          ("reduce_on_plateau", keras.callbacks.ReduceLROnPlateau)):
        options = resolved["training"][key]
        if isinstance(options, dict):
            resolve_arguments(
                check, f"training.{key}", options, callback.__init__, {},
                f"an argument of keras.callbacks.{callback.__name__}",
            )
    _check_class_weight(check, resolved["training"]["class_weight"])
    try:
        losses.loss(resolved["loss"], resolved["training"]["label_smoothing"])
    except ValueError as error:
        check.fail("training.label_smoothing", f"{error}. Set training.label_smoothing: 0, or a crossentropy loss.")
    rate = resolved["optimizer"]["learning_rate"]
    if resolved["training"]["reduce_on_plateau"] and isinstance(rate, dict):
        check.fail(
            "training.reduce_on_plateau",
            f"lowers a constant learning rate, but optimizer.learning_rate is a '{rate.get('schedule')}' schedule, "
            "which sets the rate itself at every step. Keep one: a constant optimizer.learning_rate, or "
            "training.reduce_on_plateau: false.",
        )
    for key in ("data", "model", "optimizer", "training", "fine_tune", "pretrain", "quality", "export"):
        resolved[key] = _plain(resolved[key])
    for section in schema.READ_ELSEWHERE:
        if values.get(section) is not None:
            resolved[section] = values[section]
    return Recipe(path=path, values=resolved, raw=values, overridden=frozenset(overridden))


def load_recipe(path: str | Path, overrides: Iterable[str] = (), *, bases: bool = True) -> Recipe:
    """Reads, overrides, validates and resolves the recipe at ``path``.

    Args:
        path: A YAML recipe file.
        overrides: ``"dotted.key=value"`` strings, values parsed as YAML.
        bases: Follow the recipe's ``base`` (``read_layered``); off for a
            recipe that came with a model, which must be flat: its paths
            never choose what kerasdl reads.

    Raises:
        RecipeError: if the file is missing or any key is invalid.
    """
    file = Path(path)
    if not file.is_file():
        raise RecipeError(f"{path}: no such recipe file. Recipes shipped with kerasdl are in recipes/.")
    if bases:
        values = read_layered(file, str(path))
    else:
        values = parse_yaml(load_recipe_text(file), str(path))
    return resolve(values, str(path), list(overrides))


def read_layered(file: Path, shown: str, chain: tuple[Path, ...] = ()) -> Any:
    """A recipe file's values with its ``base`` recipes merged in.

    ``base`` names a recipe file, or a list of them, relative to the folder
    of the recipe that names it (or absolute). Bases merge in order, then
    the recipe itself on top (``deep_merge``: mappings key by key, the later
    value wins; lists and other values whole). A base's own ``name`` is not
    inherited: a recipe is named by its ``name`` or its file.

    Raises:
        RecipeError: naming the recipe, for a missing base, a ``base`` that
            is not a file name or list of them, or recipes that extend each
            other in a cycle.
    """
    values = parse_yaml(load_recipe_text(file), shown)
    if not isinstance(values, dict) or schema.BASE not in values:
        return values
    given = values.pop(schema.BASE)
    names = [given] if isinstance(given, str) else given
    if not isinstance(names, list) or not names or not all(isinstance(name, str) and name.strip() for name in names):
        raise RecipeError(
            f"{shown}: base must be a recipe file, or a list of them, relative to this recipe's folder, "
            f"e.g. base: bases/fashion_mnist.yaml. Received: base={given!r}"
        )
    here = file.resolve()
    merged: dict = {}
    for name in names:
        base = file.parent / name
        if not base.is_file():
            raise RecipeError(
                f"{shown}: base: {name}: no such recipe file (looked for {base}). A base's path is relative "
                "to the folder of the recipe that names it."
            )
        if base.resolve() in (*chain, here):
            cycle = " -> ".join(str(step) for step in (*chain, here, base.resolve()))
            raise RecipeError(f"{shown}: base: {name}: recipes extend each other in a cycle ({cycle}). Remove one base.")
        inherited = read_layered(base, str(base), (*chain, here))
        if not isinstance(inherited, dict):
            raise RecipeError(f"{base}: a recipe is a mapping of sections (data, model, ...); {shown} names it as its base.")
        inherited.pop("name", None)
        merged = deep_merge(merged, inherited)
    return deep_merge(merged, values)


def deep_merge(base: dict, top: dict) -> dict:
    """``base`` with ``top`` on top: mappings merge key by key (recursively),
    any other value of ``top`` (a list, a number, null) replaces ``base``'s."""
    merged = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_recipe_text(path: Path) -> str:
    """A recipe file's text.

    Raises:
        RecipeError: naming the file, when it is not UTF-8 or cannot be read.
    """
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise RecipeError(
            f"{path}: not UTF-8 text (byte {error.start}: {error.object[error.start:error.start + 1]!r}). "
            "Save the recipe as UTF-8."
        ) from None
    except OSError as error:
        raise RecipeError(f"{path}: cannot be read: {error.strerror}. Check its permissions.") from None

