"""Registries filled by decorators: model builders, dataset loaders and tasks.

Example:

>>> from kerasdl.registry import BUILDERS, create_model
>>> BUILDERS.names()
['cnn', 'dense', 'gan', 'lstm', 'word2vec']
>>> model = create_model("dense", input_shape=(28, 28, 1), num_classes=10)
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from typing import Any, Callable

from kerasdl.errors import RegistryError


class Registry:
    """Maps short names to functions; filled by the ``register`` decorator.

    Args:
        kind: What the entries are, for messages ("model builder").
        module: The module whose import registers every entry.
        data_arguments: Parameters supplied by kerasdl rather than by the
            recipe; ``parameters()`` leaves them out.
    """

    def __init__(self, kind: str, module: str, data_arguments: tuple = ()):
        self.kind = kind
        self.module = module
        self.data_arguments = data_arguments
        self._entries: dict[str, Callable[..., Any]] = {}
        self._traits: dict[str, dict[str, Any]] = {}

    def register(self, name: str, **traits: Any) -> Callable[[Callable], Callable]:
        """Decorator that registers a function under ``name``.

        Args:
            traits: What the entry says of itself, read back with
                ``traits(name)`` (a dataset: ``shipped``, ``locations``).
        """

        def decorator(function: Callable) -> Callable:
            if self._entries.get(name, function) is not function:
                raise ValueError(f"A {self.kind} named '{name}' is already registered.")
            self._entries[name] = function
            self._traits[name] = traits
            return function

        return decorator

    def traits(self, name: str) -> dict[str, Any]:
        """What the entry ``name`` declared when it registered (``{}`` for nothing).

        Raises:
            RegistryError: for an unknown name.
        """
        self.get(name)
        return dict(self._traits[name])

    def _load(self) -> None:
        importlib.import_module(self.module)  # Modules register on import.

    def names(self) -> list[str]:
        """Sorted names of every registered entry."""
        self._load()
        return sorted(self._entries)

    def get(self, name: str) -> Callable[..., Any]:
        """Returns the entry called ``name``.

        Raises:
            RegistryError: for an unknown name; the message lists the known
                names and the closest one.
        """
        self._load()
        if name not in self._entries:
            known = sorted(self._entries)
            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise RegistryError(
                f"Unknown {self.kind} '{name}'{hint}. Expected one of: "
                f"{', '.join(known)}. Received: {name!r}"
            )
        return self._entries[name]

    def data_arguments_of(self, name: str) -> set[str]:
        """The parameters of an entry that kerasdl supplies from the data."""
        return set(inspect.signature(self.get(name)).parameters) & set(self.data_arguments)

    def signature(self, name: str) -> dict[str, inspect.Parameter]:
        """Every parameter of an entry, by name."""
        return dict(inspect.signature(self.get(name)).parameters)

    def parameters(self, name: str) -> dict[str, inspect.Parameter]:
        """The recipe-settable parameters of an entry, by name."""
        return {
            key: parameter
            for key, parameter in inspect.signature(self.get(name)).parameters.items()
            if key not in self.data_arguments
        }


# Builders take from the data: the input shape and class count, or the
# forecast horizon; the training inputs that preprocessing layers adapt to;
# for word2vec, the vocabulary size.
BUILDERS = Registry(
    "model builder", "kerasdl.builders", ("input_shape", "num_classes", "horizon", "adapt_data", "vocabulary_size")
)
# Loaders take the seed from the training section. A loader that reads only
# data a package ships registers with shipped=True, and names in locations
# its arguments that choose a place to read from (the trust rule of a
# model's recipe, kerasdl.artifacts.trust).
DATASETS = Registry("dataset", "kerasdl.data.catalogue", ("seed",))

# A task per model family: what a run does with a builder's model.
TASKS = Registry("task", "kerasdl.tasks.catalogue")

register_builder = BUILDERS.register
register_dataset = DATASETS.register


def register_task(name: str) -> Callable[[type], type]:
    """Decorator that registers a task class under ``name``, which also
    becomes its ``name`` (its section in metrics.json)."""

    def decorator(task: type) -> type:
        task.name = name
        return TASKS.register(name)(task)

    return decorator


def create_model(name: str, **kwargs: Any) -> Any:
    """Builds the model registered under ``name`` with ``kwargs``."""
    return BUILDERS.get(name)(**kwargs)
