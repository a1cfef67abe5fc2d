"""Property-based fuzzing of the recipe loader with Hypothesis: recipes
mutated from every shipped one (a value of every schema type set at any
key, a key deleted, a line duplicated, values nested, bytes spliced in).
Each mutation either resolves (to a recipe whose saved YAML resolves to the
same values), or is refused with one message that names the recipe file,
exit code 2, and nothing written: never a traceback.

The default run tries a few hundred mutations; ``pytest -m slow
tests/test_fuzz.py`` tries thousands, and dry-runs the ones that resolve
(data read, model built) on a few examples.
"""

from __future__ import annotations

import copy
import math
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from conftest import RECIPES, ROOT, run_cli_here
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kerasdl.errors import KerasdlError
from kerasdl.recipe.keys import flatten
from kerasdl.recipe.resolve import load_recipe

# No example database: the suite writes nothing into the checkout.
FAST = settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
SLOW = settings(max_examples=3000, deadline=None, database=None, suppress_health_check=list(HealthCheck))

SHIPPED = {path.name: path.read_text() for path in RECIPES}
PARSED = {name: yaml.safe_load(text) for name, text in SHIPPED.items()}
# Every dotted key a shipped recipe resolves to: the schema's keys, the
# builders' and loaders' arguments.
KEYS = sorted({key for path in RECIPES for key in flatten(load_recipe(path).values)} - {"name"})

# The values at the edges that bugs live at, drawn as often as all the rest.
EDGES = st.sampled_from([
    math.nan, math.inf, -math.inf, -1, 0, 1, -0.0, 0.5, 1.0, 2**31, 2**32, 2**63, 2**64, 10**30, 1e308, True, False,
    None, "", [], {}, [0], [-1], [10**10], {"": None},
])
VALUES = st.one_of(
    EDGES,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-3, max_value=300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", "..", "/etc", "auto", "none", "disk", "grpc://127.0.0.1:1", "~", "\x00", "é", "1e-3"]),
    st.booleans(),
    st.none(),
    st.lists(st.integers(min_value=-5, max_value=10**12), max_size=4),
    st.lists(st.text(max_size=4), max_size=3),
    st.dictionaries(st.text(max_size=6), st.integers(), max_size=2),
)


def set_key(values: dict, key: str, value) -> dict:
    node = values
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        node[part] = child = child if isinstance(child, dict) else {}
        node = child
    node[parts[-1]] = value
    return values


def delete_key(values: dict, key: str) -> dict:
    node = values
    for part in key.split(".")[:-1]:
        node = node.get(part) if isinstance(node.get(part), dict) else {}
    node.pop(key.split(".")[-1], None)
    return values


# YAML the reader must refuse in its own words: complex keys, deep nesting,
# long integers, tags that construct objects, aliases, tabs, a BOM, NULs.
HAZARDS = st.sampled_from([
    "? [a, b]\n: 1\n", "? {a: 1}\n: 2\n", "x: " + "[" * 1000 + "]" * 1000 + "\n", "x: " + "9" * 5000 + "\n",
    "x: !!python/object/apply:os.system [echo]\n", "x: &a [1]\ny: *a\n", "x: *undefined\n", "\tx: 1\n",
    "\ufeffx: 1\n", "x: \x00\n", "x: {a: 1, a: 2}\n", "---\nx: 1\n---\ny: 2\n", "x: !!binary AAAA\n",
    "x: 2001-12-14\n", "x: 0x_1F\n", "- 1\n", "x: " + "{a: " * 30 + "1" + "}" * 30 + "\n",
])


@st.composite
def mutated(draw) -> bytes:
    """A shipped recipe's text with one to three mutations."""
    name = draw(st.sampled_from(sorted(SHIPPED)))
    values = copy.deepcopy(PARSED[name])
    text = None
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["set", "set", "set", "new key", "delete", "nest", "duplicate line", "bytes",
                                     "hazard", "hazard"]))
        if kind == "set":
            values = set_key(values, draw(st.sampled_from(KEYS)), draw(VALUES))
        elif kind == "new key":
            section = draw(st.sampled_from(["", "data.", "model.", "training.", "optimizer.", "export."]))
            values = set_key(values, section + draw(st.text("abcdefgh_", min_size=1, max_size=8)), draw(VALUES))
        elif kind == "delete":
            values = delete_key(values, draw(st.sampled_from(KEYS + ["model", "data", "model.builder", "base"])))
        elif kind == "nest":
            key = draw(st.sampled_from(KEYS))
            depth = draw(st.integers(1, 30))
            value = draw(VALUES)
            for _ in range(depth):
                value = [value] if draw(st.booleans()) else {"x": value}
            values = set_key(values, key, value)
        elif kind == "duplicate line":
            lines = yaml.safe_dump(values, sort_keys=False).splitlines()
            index = draw(st.integers(0, len(lines) - 1))
            text = "\n".join(lines[: index + 1] + lines[index:]) + "\n"
        elif kind == "hazard":  # A line of hazardous YAML before, inside or after the recipe.
            lines = (text or yaml.safe_dump(values, sort_keys=False)).splitlines(keepends=True)
            # Between top-level keys, so the rest of the document still parses.
            at = draw(st.sampled_from([index for index, line in enumerate(lines) if line[:1] not in " -"]
                                      + [len(lines)]))
            return ("".join(lines[:at]) + draw(HAZARDS) + "".join(lines[at:])).encode()
        else:  # Bytes spliced into the text: not UTF-8, control characters, YAML syntax.
            base = (text or yaml.safe_dump(values, sort_keys=False)).encode()
            at = draw(st.integers(0, len(base)))
            return base[:at] + draw(st.binary(min_size=1, max_size=8)) + base[at:]
    return (text or yaml.safe_dump(values, sort_keys=False)).encode()


def leaves(value):
    """Every scalar in nested mappings and lists."""
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from leaves(item)
    else:
        yield value


@pytest.fixture(scope="module")
def recipes_folder():
    """A recipes folder with the shipped bases, where mutants are written."""
    folder = Path(tempfile.mkdtemp(prefix="kerasdl-fuzz-"))
    shutil.copytree(ROOT / "recipes" / "bases", folder / "bases")
    yield folder
    shutil.rmtree(folder)


def check(folder: Path, content: bytes, dry_run: bool = False) -> None:
    """The property: resolves, or one message naming the file, exit 2, nothing written."""
    recipe = folder / "fuzzed.yaml"
    recipe.write_bytes(content)
    before = sorted(folder.rglob("*"))
    try:
        resolved = load_recipe(recipe)
    except KerasdlError as error:
        assert str(error).startswith(f"{recipe}: "), str(error)
    except Exception as error:  # Anything else is the bug this test looks for.
        raise AssertionError(f"{type(error).__name__}: {error}\n--- recipe ---\n{content!r}") from error
    else:
        event("resolved")
        for value in leaves(resolved.values):  # Every number a run acts on is finite and fits int64.
            assert not isinstance(value, float) or math.isfinite(value), content
            assert not isinstance(value, int) or abs(value) < 2**63, content
        # What a run folder keeps reproduces the recipe: its YAML resolves to the same values.
        (folder / "copy.yaml").write_text(resolved.to_yaml())
        try:
            assert load_recipe(folder / "copy.yaml", bases=False).values == resolved.values, content
        finally:
            (folder / "copy.yaml").unlink()
        if not dry_run:
            return
        result = run_cli_here("run", str(recipe), "--dry-run", "--set", "data.max_train_examples=64",
                              "--set", "data.max_test_examples=32", cwd=folder)
        assert result.returncode in (0, 2), (result.returncode, result.stderr[-3000:], content)
        assert "Traceback" not in result.stderr, (result.stderr[-3000:], content)
        assert sorted(folder.rglob("*")) == before, content
        return
    event("refused")
    result = run_cli_here("run", str(recipe), "--dry-run", cwd=folder)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert result.returncode == 2 and len(errors) == 1, (result.returncode, result.stderr[-3000:], content)
    assert errors[0].startswith(f"Error: {recipe}: ") and "Traceback" not in result.stderr
    assert sorted(folder.rglob("*")) == before, content


@FAST
@given(content=mutated())
def test_a_mutated_recipe_resolves_or_is_refused_with_one_message(recipes_folder, content):
    check(recipes_folder, content)


@pytest.mark.slow
@SLOW
@given(content=mutated())
def test_thousands_of_mutated_recipes_and_the_dry_runs_of_those_that_resolve(recipes_folder, content):
    check(recipes_folder, content, dry_run=True)
