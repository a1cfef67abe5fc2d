"""The options several ``kerasdl`` commands share, defined once, and where a
command's lines go (``Output``)."""

from __future__ import annotations

import contextlib
import json
import re
import sys
from typing import Any, Callable, Iterable

import click


class Duration(click.ParamType):
    """A time span: seconds (90), or with units: 90s, 45m, 2h, 1h30m."""

    name = "duration"

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        text = str(value).strip().lower()
        parts = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?", text)
        if not text or parts is None or not any(parts.groups()):
            self.fail(f"{value!r} is not a duration: give seconds (900) or units (90s, 45m, 2h, 1h30m).", param, ctx)
        hours, minutes, seconds = (float(group or 0) for group in parts.groups())
        total = hours * 3600 + minutes * 60 + seconds
        if total <= 0:
            self.fail(f"{value!r}: the budget must be longer than 0.", param, ctx)
        return total


def overrides(example: str = "training.epochs=3", of: str = "a recipe key") -> Callable:
    """``--set KEY=VALUE``, repeatable."""
    return click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                        help=f"Override {of}, e.g. --set {example} (repeatable; values are YAML).")


def as_json(what: str = "one JSON object with the results") -> Callable:
    """``--json``: the result as JSON on stdout, and nothing else there."""
    return click.option("--json", "as_json", is_flag=True, help=f"Print {what}.")


trust_savedmodel = click.option(
    "--trust-savedmodel", is_flag=True,
    help="Let a SavedModel's own TensorFlow graph answer (it can run any TensorFlow op): only for one you "
         "made or trust. Without it the model.keras beside it answers, in Keras safe mode.")

quiet = click.option("--quiet", is_flag=True, help="No progress bar.")

runs_dir = click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False),
                        help="The folder of runs (training.runs_dir).")


def given(name: str) -> bool:
    """Whether the running command's option ``name`` came from the command line (not its default)."""
    return click.get_current_context().get_parameter_source(name) is not click.core.ParameterSource.DEFAULT


def verbosity(quiet: bool) -> int:
    """Keras's ``verbose``: a progress bar on a terminal, one line per epoch
    in a log file (a bar redrawn with carriage returns fills logs)."""
    if quiet:
        return 0
    return 1 if sys.stdout.isatty() else 2


class Output:
    """Where a command's lines go: stdout, or, with ``--json``, stderr, so
    that stdout carries the JSON result alone."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def echo(self, text: str) -> None:
        click.echo(text, err=self.as_json)

    def library_output(self) -> contextlib.AbstractContextManager:
        """Keras's progress lines and Keras Tuner's trial reports, which
        print to stdout, sent where the command's own lines go."""
        return contextlib.redirect_stdout(sys.stderr) if self.as_json else contextlib.nullcontext()

    def result(self, result: Any, lines: Callable[[Any], Iterable[str]]) -> None:
        """The command's result: as JSON, or as the lines ``lines`` makes of it."""
        if self.as_json:
            click.echo(json.dumps(result, default=str))
            return
        for line in lines(result):
            self.echo(line)
