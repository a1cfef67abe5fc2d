"""A recipe's YAML: reading a file, parsing its text with kerasdl's rules
(``1e-3`` a float, a key given twice refused) and limits (size, depth,
aliases, digits), and writing a resolved recipe back.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from kerasdl.errors import RecipeError

# Values a recipe may hold, counting each use of a YAML alias anew: a
# recipe is a few hundred; an "alias bomb" of a few lines is billions.
MAX_VALUES = 100_000
# How deep mappings and lists may nest (the shipped recipes: 4), how long
# a recipe file may be (theirs: 2 KB) and how many digits an integer has.
MAX_DEPTH = 20
MAX_BYTES = 1_000_000
MAX_DIGITS = 30


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
                    None, None, "a key is a name, not a list or a mapping (a '?' key in YAML); write the key as a "
                                "string",
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
    return yaml.dump(plain(values), Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def plain(value: Any) -> Any:
    """Nested dicts and lists (tuples become lists): what YAML writes plainly."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


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

