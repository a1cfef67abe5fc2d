"""Recipes: load a YAML file, apply ``--set`` overrides, validate, resolve.

A resolved recipe has every key with its value or default, so the copy
saved in a run folder reproduces the run on its own. The parts: the YAML
(``yaml_text``), ``base`` recipes (``bases``), dotted keys and ``--set``
(``keys``), the checks and their messages (``checker``), each top-level key
(``sections``) and the rules between keys (``rules``).

Example:

>>> recipe = load_recipe("recipes/cnn.yaml", overrides=["training.epochs=3"])
>>> recipe["training"]["epochs"]
3
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any, Iterable, Optional

from kerasdl import schema
from kerasdl.errors import RecipeError
from kerasdl.recipe.bases import read_layered
from kerasdl.recipe.checker import Checker, check_numbers
from kerasdl.recipe.keys import apply_override, set_dotted
from kerasdl.recipe.rules import RULES
from kerasdl.recipe.sections import RESOLVERS
from kerasdl.recipe.yaml_text import dump_yaml, load_recipe_text, parse_yaml


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
        raise RecipeError(f"{path}: a recipe is a mapping of sections (data, model, ...). Received: "
                          f"{type(raw).__name__}")
    values = copy.deepcopy(raw)
    overridden = {apply_override(values, assignment, path) for assignment in overrides}
    check = Checker(path, overridden, prefix)
    _check_outline(check, values)
    resolved = {key: resolver(check, values) for key, resolver in RESOLVERS.items()}
    for rule in RULES:
        rule(check, resolved)
    resolved.update({section: values[section] for section in schema.READ_ELSEWHERE if values.get(section) is not None})
    return Recipe(path=path, values=resolved, raw=values, overridden=frozenset(overridden))


def _check_outline(check: Checker, values: dict) -> None:
    """What holds for the recipe as a whole: no ``base`` left, finite
    numbers, known sections, each a mapping."""
    if schema.BASE in values:
        check.fail(
            schema.BASE,
            "extends a recipe file you wrote: kerasdl follows it in recipes it reads with `kerasdl run`, `tune` "
            "and `evaluate --recipe`, not in a recipe that came with a model or run folder (those are flat). "
            f"Merge the base into this recipe. Received: base={values[schema.BASE]!r}",
        )
    check_numbers(check, values)
    sections = [*schema.TOP_LEVEL, *schema.SECTIONS, *schema.READ_ELSEWHERE]
    check.unknown_keys("", values, sections, "a recipe section")
    for section in [*schema.SECTIONS, *schema.READ_ELSEWHERE]:
        if values.get(section) is not None and not isinstance(values[section], dict):
            check.fail(section, f"must be a mapping of keys. Received: {section}={values[section]!r}")


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
