"""docs/recipes.md is generated from the code; it must say what the code says."""

from pathlib import Path

from kerasdl.commands import reference

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_the_committed_recipe_reference_is_what_the_generator_writes():
    assert (DOCS / "recipes.md").read_text() == reference.markdown(), (
        "docs/recipes.md is out of date: run `make docs` and commit it."
    )


def test_the_reference_documents_every_key_builder_and_dataset():
    from kerasdl import schema
    from kerasdl.registry import BUILDERS, DATASETS

    text = reference.markdown()
    for section, fields in schema.SECTIONS.items():
        assert f"## `{section}`" in text
        assert all(f"| `{key}` |" in text for key in fields)
    for name in BUILDERS.names() + DATASETS.names():
        assert f"### `{name}`" in text
    # Every argument a recipe can set has its meaning written down.
    assert "|  |" not in text


def test_argument_help_reads_grouped_and_inherited_arguments():
    def loader(path: str, window: int = 5, a: int = 1, b: int = 2):
        """Loads.

        Args:
            path: The file.
            a, b: Both
                numbers.
            Others: as for ``news_articles``.
        """

    from kerasdl.registry import DATASETS

    found = reference.argument_help(loader, DATASETS)
    assert found["path"] == "The file." and found["a"] == found["b"] == "Both numbers."
    assert found["window"].startswith("Largest distance between a word and its context")
