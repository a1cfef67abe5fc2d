"""Recipes: loading, validating and resolving a YAML recipe (``resolve``);
the schema of every key is ``kerasdl.schema``.

>>> from kerasdl.recipe import load_recipe
>>> recipe = load_recipe("recipes/cnn.yaml", overrides=["training.epochs=3"])
"""

from typing import Any

__all__ = ["Recipe", "load_recipe"]


def __getattr__(name: str) -> Any:
    # Resolved on first use, so that importing the package alone (the CLI's
    # help does) does not load the resolver and YAML.
    if name in __all__:
        from kerasdl.recipe import resolve

        return getattr(resolve, name)
    raise AttributeError(f"module 'kerasdl.recipe' has no attribute {name!r}")
