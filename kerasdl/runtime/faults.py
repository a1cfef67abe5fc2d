"""Fault injection: kill the process at a named point of a run, as a power
cut or ``kill -9`` would, so tests can check that a rerun loses nothing.

Set ``KERASDL_FAULT`` to a point's name (``POINTS``) and the process
sends itself SIGKILL when it gets there; ``epoch:N`` kills in the middle
of epoch N (1-based), after its first batch. Unset (always, outside
tests) a point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

VARIABLE = "KERASDL_FAULT"
# Where a run can be killed, in the order they come.
POINTS = (
    "trained",    # training done, its result not yet recorded
    "evaluate",   # the model scored on the test split, the baselines not yet
    "judge",      # a GAN's judge trained, its samples not yet scored
    "save",       # model.keras written under its temporary name
    "export",     # the export written and verified, not yet in place
    "published",  # the export in place, not yet recorded
    "report",     # everything recorded, metrics.json not yet written
)


def kill() -> None:
    """Ends the process at once: no cleanup, no ``finally``."""
    os.kill(os.getpid(), signal.SIGKILL)


def point(name: str) -> None:
    """Kills the process when ``KERASDL_FAULT`` names this point."""
    if name not in POINTS:
        raise ValueError(f"Unknown fault point {name!r}; add it to POINTS. Expected one of: {', '.join(POINTS)}")
    if os.environ.get(VARIABLE) == name:
        kill()


def epoch_killer() -> list:
    """A callback that kills mid-epoch (after the epoch's first batch) when
    ``KERASDL_FAULT=epoch:N``; none otherwise."""
    value = os.environ.get(VARIABLE, "")
    if not value.startswith("epoch:"):
        return []
    import keras  # Here: the CLI imports this module before it needs Keras.

    target, current = int(value.split(":", 1)[1]) - 1, [-1]

    def on_train_batch_end(batch: int, logs: dict) -> None:
        if current[0] == target:
            kill()

    return [keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: current.__setitem__(0, epoch), on_train_batch_end=on_train_batch_end,
    )]
