"""The rules between keys of a resolved recipe: each takes the checker and
the resolved values and fails with a message naming both keys and the way
out. ``RULES`` lists them; ``resolve`` runs them after every section.
"""

from __future__ import annotations

from typing import Callable

from kerasdl.recipe.checker import Checker


def label_smoothing_needs_crossentropy(check: Checker, resolved: dict) -> None:
    """``training.label_smoothing`` softens the targets of a crossentropy loss."""
    from kerasdl.models import losses

    try:
        losses.loss(resolved["loss"], resolved["training"]["label_smoothing"])
    except ValueError as error:
        check.fail("training.label_smoothing", f"{error}. Set training.label_smoothing: 0, or a crossentropy loss.")


def plateau_needs_constant_rate(check: Checker, resolved: dict) -> None:
    """``training.reduce_on_plateau`` lowers a rate that no schedule sets."""
    rate = resolved["optimizer"]["learning_rate"]
    if resolved["training"]["reduce_on_plateau"] and isinstance(rate, dict):
        check.fail(
            "training.reduce_on_plateau",
            f"lowers a constant learning rate, but optimizer.learning_rate is a '{rate.get('schedule')}' schedule, "
            "which sets the rate itself at every step. Keep one: a constant optimizer.learning_rate, or "
            "training.reduce_on_plateau: false.",
        )


RULES: tuple[Callable[[Checker, dict], None], ...] = (
    label_smoothing_needs_crossentropy,
    plateau_needs_constant_rate,
)
