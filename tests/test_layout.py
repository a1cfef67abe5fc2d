"""The package's layers: each module imports only its own layer or lower
ones, no import circles, and every enumeration has its implementation."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "kerasdl"
# Lowest first. A module belongs to the first entry its name starts with.
LAYERS = [
    ("kerasdl.errors", "kerasdl.registry", "kerasdl.schema"),
    ("kerasdl.data",),
    ("kerasdl.models",),
    ("kerasdl.runtime",),
    ("kerasdl.recipe",),
    ("kerasdl.artifacts",),
    ("kerasdl.builders",),
    ("kerasdl.evaluation",),
    ("kerasdl.tasks",),
    ("kerasdl.tune",),
    ("kerasdl.commands",),
    ("kerasdl.cli", "kerasdl.cli_errors", "kerasdl.cli_options", "kerasdl.__main__"),
]


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts).removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _layer(module: str) -> int:
    if module == "kerasdl":
        return 0  # The version, nothing else.
    for index, prefixes in enumerate(LAYERS):
        if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes):
            return index
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS")


def _imports(module: str) -> set[str]:
    """kerasdl modules imported anywhere in ``module`` (in functions too)."""
    tree = ast.parse(MODULES[module].read_text())
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES else node.module
                     for alias in node.names]
        found |= {name for name in names if name in MODULES and name != module}
    return found


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_no_higher_layer(module):
    higher = sorted(name for name in _imports(module) if _layer(name) > _layer(module))
    assert not higher, f"{module} (layer {_layer(module)}) imports higher layers: {higher}"


def test_no_import_circles():
    graph = {module: _imports(module) for module in MODULES}
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in graph[module]:
            if state.get(target) == 1:
                raise AssertionError("import circle: " + " -> ".join(path[path.index(target):] + [module, target]))
            if target not in state:
                visit(target, path + [module])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_the_run_loop_and_tuning_name_no_model_family():
    """Only the tasks know the families: the loop and the search ask the
    catalogue, never a builder's name or a data type."""
    families = ("Corpus", "Series", "Dataset", "GAN", '"gan"', '"word2vec"', '"transfer"', '"lstm"', '"cnn"',
                '"dense"', "builder ==", "builder !=", "is_text")
    for path in [PACKAGE / "tasks" / "loop.py", *sorted((PACKAGE / "tune").glob("*.py"))]:
        text = path.read_text()
        assert not [word for word in families if word in text], path


def test_every_enumeration_has_its_implementation():
    from kerasdl import schema
    from kerasdl.runtime import optimizers
    from kerasdl.tune.tuners import TUNERS

    assert set(TUNERS) == set(schema.ALGORITHMS)
    for name in schema.SCHEDULES:
        assert optimizers.schedule_class(name)
    for name in schema.OPTIMIZERS:
        assert optimizers.optimizer_class(name)


def test_every_builder_has_a_task_and_every_task_is_registered():
    from kerasdl.registry import BUILDERS, TASKS

    claimed = {builder for name in TASKS.names() for builder in (TASKS.get(name).builders or ())}
    assert claimed <= set(BUILDERS.names())
    assert {TASKS.get(name).name for name in TASKS.names()} == set(TASKS.names())
    assert any(TASKS.get(name).builders is None for name in TASKS.names())  # The rest are trained by data kind.
