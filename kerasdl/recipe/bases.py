"""A recipe's ``base``: the recipe files it extends, merged in before the
recipe is resolved (``schema.BASE_HELP`` says it for users).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from kerasdl import schema
from kerasdl.errors import RecipeError
from kerasdl.recipe.yaml_text import load_recipe_text, parse_yaml


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
            raise RecipeError(f"{shown}: base: {name}: recipes extend each other in a cycle ({cycle}). Remove one "
                              "base.")
        inherited = read_layered(base, str(base), (*chain, here))
        if not isinstance(inherited, dict):
            raise RecipeError(f"{base}: a recipe is a mapping of sections (data, model, ...); {shown} names it as "
                              "its base.")
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
