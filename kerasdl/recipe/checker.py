"""The checks of single values against the schema or a signature, and the
messages they give: each names the file, the dotted key (``--set`` when the
user set it on the command line), what was expected and what was received.
"""

from __future__ import annotations

import difflib
import math
from typing import Any, Iterable, NoReturn

from kerasdl import schema
from kerasdl.errors import RecipeError


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
            shown = ", ".join(str(choice).lower() if isinstance(choice, bool) else str(choice)
                              for choice in field.choices)
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


def check_numbers(check: Checker, values: Any, key: str = "") -> None:
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
        check_numbers(check, value, f"{key}[{name}]" if isinstance(name, int) else f"{key}.{name}".lstrip("."))
