"""Dotted keys (``training.epochs``): setting one in nested sections,
flattening sections to them, and the ``--set KEY=VALUE`` that names one.
"""

from __future__ import annotations

from typing import Any

from kerasdl.errors import RecipeError
from kerasdl.recipe.yaml_text import parse_yaml


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


def apply_override(values: dict, assignment: str, path: str) -> str:
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
