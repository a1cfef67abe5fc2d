"""Recipes: the schema of every key (``schema``), and loading, validating and
resolving a YAML recipe (``resolve``).

>>> from kerasdl.recipe import load_recipe
>>> recipe = load_recipe("recipes/cnn.yaml", overrides=["training.epochs=3"])
"""

from kerasdl.recipe.resolve import Recipe, load_recipe

__all__ = ["Recipe", "load_recipe"]
