"""Search spaces: the ``tune.space`` section, checked, then declared to Keras Tuner.

Each entry maps a dotted recipe key (the same key ``--set`` takes) to the
values to try:

    tune:
      space:
        model.dropout_rate: {type: float, min: 0.1, max: 0.5, step: 0.1}
        optimizer.learning_rate.initial_learning_rate: {type: float, min: 1e-4, max: 1e-2, sampling: log}
        model.filters: [[16, 32], [32, 64, 128]]     # a list is a choice
        model.residual: {type: boolean}
        model.convs_per_block: {type: int, min: 1, max: 2, when: {model.residual: true}}

Every value a space can produce is checked against the recipe before the
first trial, through the same validation as the recipe file.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator, Optional

import yaml

from kerasdl import schema
from kerasdl.errors import RecipeError
from kerasdl.recipe.checker import Checker
from kerasdl.recipe.resolve import Recipe

TYPES = ("int", "float", "choice", "boolean")
SPEC_KEYS = {
    "int": ("type", "min", "max", "step", "sampling", "default", "when"),
    "float": ("type", "min", "max", "step", "sampling", "default", "when"),
    "choice": ("type", "values", "ordered", "default", "when"),
    "boolean": ("type", "default", "when"),
}
SAMPLINGS = ("linear", "log", "reverse_log")
# Keys that do not change what is trained, or that tuning sets itself.
UNSEARCHABLE = ("name", "tune", "export", "training.resume", "training.runs_dir")
# A mapping with one of these keys is a search space; otherwise a section
# of dotted keys written as nested mappings.
_SPEC_MARKERS = ("type", "min", "max", "values")


def label(value: Any) -> str:
    """A one-line YAML spelling of a value, e.g. ``[32, 64]`` or ``null``."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6)
    return text.replace("\n...\n", "").strip()


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One searched recipe key.

    Attributes:
        key: The dotted recipe key, also the Keras Tuner name.
        type: int, float, choice or boolean.
        minimum, maximum, step, sampling: For int and float.
        values: For choice: the recipe values to try.
        ordered: For numeric choices: whether neighbours are similar.
        default: The value tried first (Keras Tuner's default).
        when: Conditions: parent key -> values of the parent for which this
            key is searched; otherwise the recipe's own value holds.
    """

    key: str
    type: str
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    step: Optional[float] = None
    sampling: str = "linear"
    values: tuple = ()
    ordered: Optional[bool] = None
    default: Any = None
    when: tuple = ()  # ((parent key, (values...)), ...)

    @property
    def labelled(self) -> bool:
        """Whether the choice is declared as labels: Keras Tuner's Choice
        holds only one type of int, float, str or bool."""
        kinds = {type(value) for value in self.values}
        return self.type == "choice" and not (len(kinds) == 1 and kinds <= {int, float, str, bool})

    def encode(self, value: Any) -> Any:
        """The recipe value as Keras Tuner holds it."""
        return label(value) if self.labelled else value

    def decode(self, value: Any) -> Any:
        """The recipe value for a value Keras Tuner chose."""
        if self.labelled:
            return self.values[[label(v) for v in self.values].index(value)]
        if self.type == "float":
            return float(f"{value:.10g}")  # 0.30000000000000004 -> 0.3
        return value

    def candidates(self) -> list:
        """Values checked against the recipe before any trial."""
        if self.type == "choice":
            return list(self.values)
        if self.type == "boolean":
            return [False, True]
        return [self.minimum, self.maximum]

    def declare(self, hp: Any) -> Any:
        """Registers the parameter with a ``HyperParameters`` and returns its value."""
        if self.type == "int":
            return hp.Int(self.key, self.minimum, self.maximum, step=self.step,
                          sampling=self.sampling, default=self.default)
        if self.type == "float":
            return hp.Float(self.key, self.minimum, self.maximum, step=self.step,
                            sampling=self.sampling, default=self.default)
        if self.type == "boolean":
            return hp.Boolean(self.key, default=bool(self.default))
        values = [self.encode(value) for value in self.values]
        default = self.encode(self.default) if self.default is not None else None
        return hp.Choice(self.key, values, ordered=None if self.labelled else self.ordered, default=default)

    def describe(self) -> str:
        """One line for the search-space summary."""
        if self.type == "choice":
            text = f"one of {', '.join(label(value) for value in self.values)}"
        elif self.type == "boolean":
            text = "true or false"
        else:
            step = f", step {self.step}" if self.step else ""
            text = f"{self.type} in [{self.minimum}, {self.maximum}], {self.sampling}{step}"
        for parent, values in self.when:
            text += f" (when {parent} is {' or '.join(label(v) for v in values)})"
        return text


@dataclasses.dataclass(frozen=True)
class Space:
    """The parameters of a search, parents before the keys that depend on them.

    Attributes:
        parameters: One per searched key.
        spec: The section as written (flattened), to tell a changed search
            space from a resumed one.
    """

    parameters: tuple[Parameter, ...]
    spec: dict

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self.parameters)

    @property
    def keys(self) -> list[str]:
        return [parameter.key for parameter in self.parameters]

    def declare(self, hp: Any) -> dict[str, Any]:
        """Registers every parameter under its conditions with Keras Tuner.

        Returns:
            The trial's recipe assignments: dotted key -> value, for the
            parameters whose conditions hold.
        """
        assignments = {}
        for parameter in self.parameters:
            with _conditions(hp, self, parameter.when):
                value = parameter.declare(hp)
            if hp.is_active(parameter.key):
                assignments[parameter.key] = parameter.decode(value)
        return assignments

    def assignments(self, hp: Any) -> dict[str, Any]:
        """A finished trial's recipe assignments, from its ``HyperParameters``."""
        return {
            parameter.key: parameter.decode(hp.values[parameter.key])
            for parameter in self.parameters
            if parameter.key in hp.values and hp.is_active(parameter.key)
        }

    def get(self, key: str) -> Parameter:
        return self.parameters[self.keys.index(key)]


class _conditions:
    """Nested ``hp.conditional_scope`` for each (parent, values) condition."""

    def __init__(self, hp: Any, space: Space, when: tuple):
        self.scopes = [
            hp.conditional_scope(parent, [space.get(parent).encode(v) for v in values])
            for parent, values in when
        ]

    def __enter__(self) -> None:
        for scope in self.scopes:
            scope.__enter__()

    def __exit__(self, *exc: Any) -> None:
        for scope in reversed(self.scopes):
            scope.__exit__(*exc)


def _flatten(given: dict, prefix: str = "") -> dict[str, Any]:
    """Dotted keys from a mapping that may nest sections: ``{model: {x: ...}}``."""
    flat = {}
    for key, value in given.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and not any(marker in value for marker in _SPEC_MARKERS):
            flat.update(_flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def _parameter(check: Checker, key: str, given: Any, algorithm: str) -> Parameter:
    """Checks one entry's own form (not yet its values against the recipe)."""
    if isinstance(given, list):
        given = {"type": "choice", "values": given}
    if not isinstance(given, dict):
        check.fail(key, f"must be a list of choices or a mapping with a type ({', '.join(TYPES)}). Received: {given!r}")
    spec = dict(given)
    if "type" not in spec:  # min/max: a range; values: a choice.
        spec["type"] = "choice" if "values" in spec else (
            "int" if all(schema.matches(spec.get(bound, 1), int) for bound in ("min", "max", "step")) else "float"
        )
    kind = spec["type"]
    check.field(f"{key}.type", kind, schema.Field(str, None, "", choices=TYPES))
    check.unknown_keys(key, spec, SPEC_KEYS[kind], f"a key of a '{kind}' search space")

    if kind in ("int", "float"):
        parameter = _range(check, key, spec, kind, algorithm)
    elif kind == "choice":
        values = spec.get("values")
        if not isinstance(values, list) or not values:
            check.fail(f"{key}.values", f"must be a non-empty list of values to try. Received: values={values!r}")
        labels = [label(value) for value in values]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            check.fail(f"{key}.values", f"lists {', '.join(repeated)} more than once. Received: values={values!r}")
        ordered = spec.get("ordered")
        if ordered is not None and not isinstance(ordered, bool):
            check.fail(f"{key}.ordered", f"must be true or false. Received: ordered={ordered!r}")
        parameter = Parameter(key, kind, values=tuple(values), ordered=ordered)
        if "default" in spec and label(spec["default"]) not in labels:
            check.fail(f"{key}.default", f"must be one of the values. Received: default={spec['default']!r}")
    else:
        parameter = Parameter(key, kind)
        if "default" in spec and not isinstance(spec["default"], bool):
            check.fail(f"{key}.default", f"must be true or false. Received: default={spec['default']!r}")
    when = spec.get("when") or {}
    if not isinstance(when, dict):
        check.fail(f"{key}.when", "must map a searched key to the value (or list of values) it must have. "
                                  f"Received: when={when!r}")
    conditions = tuple(
        (str(parent), tuple(values) if isinstance(values, list) else (values,))
        for parent, values in when.items()
    )
    return dataclasses.replace(parameter, default=spec.get("default"), when=conditions)


def _range(check: Checker, key: str, spec: dict, kind: str, algorithm: str) -> Parameter:
    annotation = int if kind == "int" else float
    what = schema.type_name(annotation)

    def fits(value: Any) -> bool:
        return schema.matches(value, annotation)

    for bound in ("min", "max"):
        if bound not in spec:
            check.fail(f"{key}.{bound}", f"is required for a '{kind}' search space.")
        if not fits(spec[bound]):
            check.fail(f"{key}.{bound}", f"must be {what}. Received: {bound}={spec[bound]!r}")
    low, high = spec["min"], spec["max"]
    if low >= high:
        check.fail(key, f"needs min < max. Received: min={low}, max={high} "
                        "(for one fixed value, set the key in the recipe or with --set).")
    sampling = spec.get("sampling", "linear")
    check.field(f"{key}.sampling", sampling, schema.Field(str, "linear", "", choices=SAMPLINGS))
    if sampling != "linear" and low <= 0:
        check.fail(f"{key}.min", f"must be > 0 with {sampling} sampling (the logarithm of {low} is undefined). "
                                 f"Received: min={low}")
    step = spec.get("step")
    if step is not None:
        if not fits(step) or step <= 0:
            check.fail(f"{key}.step", f"must be {what} > 0. Received: step={step!r}")
        if sampling != "linear" and step <= 1:
            check.fail(f"{key}.step", f"is a factor with {sampling} sampling and must be > 1 (2 gives min, 2*min, "
                                      f"4*min, ...). Received: step={step!r}")
    if algorithm == "grid" and kind == "float" and step is None:
        check.fail(key, "needs a step: grid search tries every value, so a float range must be discrete.")
    default = spec.get("default")
    if default is not None and (not fits(default) or not low <= default <= high):
        check.fail(f"{key}.default", f"must be {what} in [{low}, {high}]. Received: default={default!r}")
    return Parameter(key, kind, minimum=low, maximum=high, step=step, sampling=sampling)


def _order(check: Checker, parameters: dict[str, Parameter]) -> list[Parameter]:
    """Parents first; checks that every condition names a choice or boolean."""
    for parameter in parameters.values():
        for parent, values in parameter.when:
            where = f"{parameter.key}.when.{parent}"
            if parent not in parameters:
                check.fail(where, f"must name another searched key. Searched keys: {', '.join(parameters)}")
            source = parameters[parent]
            if source.type not in ("choice", "boolean"):
                check.fail(where, f"must name a choice or boolean search space; '{parent}' is {source.type}.")
            known = [label(value) for value in source.candidates()]
            for value in values:
                if label(value) not in known:
                    check.fail(where, f"lists a value '{parent}' never takes. Expected some of: "
                                      f"{', '.join(known)}. Received: {value!r}")
    ordered: list[Parameter] = []
    visiting: set[str] = set()

    def visit(key: str) -> None:
        if any(parameter.key == key for parameter in ordered):
            return
        if key in visiting:
            check.fail(f"{key}.when", "conditions form a cycle: a key cannot depend on itself.")
        visiting.add(key)
        for parent, _ in parameters[key].when:
            visit(parent)
        visiting.discard(key)
        ordered.append(parameters[key])

    for key in parameters:
        visit(key)
    return ordered


def parse(given: Any, recipe: Recipe, algorithm: str) -> Space:
    """Checks a ``tune.space`` section against the recipe it searches.

    Args:
        given: The section as written.
        recipe: The resolved recipe (``--set`` applied) the trials vary.
        algorithm: The search algorithm (grid needs discrete ranges).

    Raises:
        RecipeError: naming the file and ``tune.space.<key>`` for a bad form,
            an unknown recipe key or a value the recipe rejects.
    """
    check = Checker(recipe.path, recipe.overridden, prefix="tune.space.")
    if not isinstance(given, dict) or not given:
        Checker(recipe.path, recipe.overridden).fail(
            "tune.space", "must map recipe keys to values to search, e.g. "
            "'model.dropout_rate: {type: float, min: 0.1, max: 0.5}'. Received: " + repr(given)
        )
    flat = _flatten(given)
    parameters = {}
    for key, spec in flat.items():
        if any(key == banned or key.startswith(f"{banned}.") for banned in UNSEARCHABLE):
            check.fail(key, f"cannot be searched: {', '.join(UNSEARCHABLE)} do not change the model trained.")
        parameters[key] = _parameter(check, key, spec, algorithm)
    ordered = _order(check, parameters)
    for parameter in ordered:
        for value in parameter.candidates():
            try:
                recipe.with_values({parameter.key: value}, prefix="tune.space.")
            except RecipeError as error:
                raise RecipeError(f"{error} (a value of the search space)") from None
    return Space(parameters=tuple(ordered), spec=flat)

