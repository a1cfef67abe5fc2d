"""The memory a model will take, checked before it is built: a recipe that
asks for ten billion units is refused with a message, not met with an
out-of-memory traceback (or, just below that size, a machine that swaps).

The model is built once abstractly: inside ``keras.StatelessScope`` with
deferred initialization a variable has a shape but no memory, so the
parameters are counted for free. That build leaves no trace: Python's and
NumPy's random state and Keras's layer-name counters are put back, so the
real model gets the same weights and names as without the check.
"""

from __future__ import annotations

import copy
import os
import random
from typing import Any, Callable, Optional

import numpy as np

from kerasdl.errors import RecipeError

# Bytes a float32 parameter takes while training: the weight, its gradient,
# and an optimizer slot per entry (Adam keeps two moments; SGD with
# momentum, RMSprop, Adagrad and Lion one).
BYTES_PER_VALUE = 4
SLOTS = {"adam": 2, "adamw": 2, "nadam": 2, "adamax": 2, "sgd": 1, "rmsprop": 1, "adagrad": 1, "lion": 1}


def parameters(build: Callable[[], Any]) -> Optional[int]:
    """The parameter count of the model ``build`` returns, built without
    allocating its weights; None when the builder cannot be built that way
    (one that loads weights from a file, say) or refuses its arguments: the
    real build then decides, and names the argument.
    """
    import keras
    from keras.src.backend.common import (
        global_state,  # Keras's own counters, put back below.
    )

    python_state, numpy_state = random.getstate(), np.random.get_state()
    names = copy.deepcopy(global_state.get_global_attribute("object_name_uids"))
    pending = list(global_state.get_global_attribute("uninitialized_variables") or [])
    try:
        with keras.StatelessScope(initialize_variables=False):
            model = build()
            return int(sum(np.prod(weight.shape, dtype=np.int64) for weight in model.weights))
    except Exception:  # A bad argument, or what Keras refuses in a stateless scope (loading a backbone):
        return None  # the real build decides, with its own message.
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        global_state.set_global_attribute("object_name_uids", names)
        global_state.set_global_attribute("uninitialized_variables", pending)  # The abstract ones are dropped.


def training_bytes(count: int, optimizer: str) -> int:
    """Bytes ``count`` parameters take while training with ``optimizer``."""
    return count * BYTES_PER_VALUE * (2 + SLOTS.get(optimizer, 2))


def available_bytes() -> int:
    """Memory the machine can give now (``MemAvailable``; all of it where
    that is not known)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_fits(count: Optional[int], optimizer: str, source: str, available: Optional[int] = None) -> None:
    """Refuses a model whose parameters and optimizer state exceed the
    memory available.

    Raises:
        RecipeError: naming ``source`` (the recipe and ``model``), the
            parameters and both sizes.
    """
    if count is None:
        return
    needed, available = training_bytes(count, optimizer), available or available_bytes()
    if needed > available:
        raise RecipeError(
            f"{source}: the model has {count:,} parameters, which train in about {needed / 2**30:,.1f} GiB "
            f"(weights, gradients and the {optimizer} optimizer's state), but this machine has "
            f"{available / 2**30:,.1f} GiB available. Make the model smaller (fewer units, filters or layers)."
        )
