"""Exceptions raised by kerasdl.

Each error mixes in the builtin it behaves like (as Keras Tuner does), so
callers can catch either ``KerasdlError`` or the familiar builtin.
"""

import re
from typing import Optional


class KerasdlError(Exception):
    """Base class of every error kerasdl raises on purpose."""


class RecipeError(KerasdlError, ValueError):
    """A recipe (file or ``--set`` override) is invalid."""


class RegistryError(KerasdlError, KeyError):
    """A name is not in a registry (builders, datasets)."""

    def __str__(self) -> str:  # KeyError would quote the message.
        return str(self.args[0])


class DataError(KerasdlError, RuntimeError):
    """A dataset is missing, corrupt or malformed."""


class ExportError(KerasdlError, RuntimeError):
    """An exported model could not be written or failed verification."""


class BuilderArgumentError(KerasdlError, ValueError):
    """A builder received a value it cannot use.

    ``argument`` names the offending keyword so the recipe loader can point
    at the dotted key (``model.<argument>``) in the recipe file.
    """

    def __init__(self, argument: str, message: str):
        super().__init__(message)
        self.argument = argument


class TuningError(KerasdlError, RuntimeError):
    """A search ran but produced nothing usable (every trial failed)."""


class InputError(KerasdlError, ValueError):
    """A path or value given on the command line is unusable: a model path
    that is not a model, an input file that cannot be read, a conversion
    the model does not support."""


class RunBusy(KerasdlError, RuntimeError):
    """Another process owns the run folder (its lock is held)."""


class TrainingError(KerasdlError, RuntimeError):
    """Training cannot go on (the loss became NaN)."""


def keras_said(error: Exception, limit: int = 300) -> str:
    """What Keras or TensorFlow said in ``error``, on one line, for a message
    of kerasdl's: without terminal colours, TensorFlow's op names
    (``{{function_node ...}}``, ``[Op:Sub]``), the "Exception encountered
    when calling" header and the list of arguments received."""
    text = re.sub(r"\x1b\[[0-9;]*m|\{\{.*?\}\}|\[Op:\w+\]( name:)?", "", " ".join(str(error).split()))
    text = re.sub(r"Exception encountered when calling [\w.]+\(\)\.", "", text).split("Arguments received by")[0]
    return " ".join(text.split())[:limit].rstrip(". ")


def unknown_layer_argument(layer_class: type, arguments: dict, supplied: tuple = ()) -> Optional[str]:
    """The message for the first of ``arguments`` that ``layer_class``'s
    constructor does not take (``supplied``: those kerasdl sets itself), with
    a did-you-mean and the ones it takes; None when it takes them all."""
    import difflib
    import inspect

    accepted = [parameter for parameter in inspect.signature(layer_class.__init__).parameters
                if parameter not in ("self", "kwargs", *supplied)]
    for argument in arguments:
        if argument not in accepted:
            close = difflib.get_close_matches(argument, accepted, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            return (f"'{argument}' is not an argument of keras.layers.{layer_class.__name__}{hint}. Expected one of: "
                    f"{', '.join(accepted)}. Received: {argument}={arguments[argument]!r}")
    return None

