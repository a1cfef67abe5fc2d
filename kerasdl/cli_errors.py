"""How the command line ends: kerasdl's own errors, a full disk and Ctrl-C
turned into one message and the documented exit code (docs/runs.md#exit-codes);
``--debug`` shows the traceback instead."""

from __future__ import annotations

import errno
import os
import sys
from typing import Any, Callable, Optional

import click

# The work failed (an export that does not reproduce the model, a search
# with no completed trial, a diverged training, a full disk), bad input (a
# recipe, a --set, a path, a model or data file), the run folder busy,
# interrupted (Ctrl-C).
FAILED, BAD_INPUT, BUSY, INTERRUPTED = 1, 2, 3, 130

# OSErrors that a path given to kerasdl causes (bad input), rather than the
# disk or the system (the work failed, and rerunning may go on).
_PATH_ERRORS = (errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR, errno.ELOOP, errno.EEXIST)
# The commands that resume where a failed run stopped.
_RESUMING = ("run", "tune")


class BadInput(click.ClickException):
    """A recipe, path or data problem: message, no traceback, exit code 2."""

    exit_code = BAD_INPUT


class Busy(click.ClickException):
    """Another process owns the run folder: exit code 3."""

    exit_code = BUSY


def debugging() -> bool:
    """Whether ``--debug`` (or ``KERASDL_DEBUG``) is on for this command."""
    context = click.get_current_context(silent=True)
    return bool(context is not None and context.find_root().params.get("debug"))


def call(function: Callable[[], Any]) -> Any:
    """Runs library code, its failures ending the command as documented."""
    from kerasdl.errors import (
        DataError,
        ExportError,
        InputError,
        RecipeError,
        RegistryError,
        RunBusy,
        TrainingError,
        TuningError,
    )

    if debugging():
        return function()
    context = click.get_current_context(silent=True)
    try:
        return function()
    except (RecipeError, RegistryError, InputError, DataError) as error:
        raise BadInput(str(error)) from None
    except RunBusy as error:
        raise Busy(str(error)) from None
    except (ExportError, TuningError, TrainingError) as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:  # Disk full, a folder that became read-only, a name too long, ...
        if error.errno is None:
            raise
        raise _os_error(error, context) from None
    except KeyboardInterrupt:
        resumes = context is not None and context.info_name in _RESUMING
        click.echo("Interrupted." + (" Rerun the same command to resume where it stopped." if resumes else ""),
                   err=True)
        sys.exit(INTERRUPTED)


def _os_error(error: OSError, context: Optional[click.Context]) -> click.ClickException:
    """The message and exit code for an OSError: bad input for a path that
    cannot be, failed otherwise, with the resume advice only where true."""
    where = f": {error.filename}" if error.filename else ""
    if error.errno in _PATH_ERRORS:
        return BadInput(f"{os.strerror(error.errno)}{where}. Give a shorter or different path.")
    command = context.info_name if context is not None else None
    after = ("then rerun the same command: the run resumes where it stopped" if command in _RESUMING
             else "then rerun the same command")
    return click.ClickException(f"{os.strerror(error.errno)}{where}. Free space or fix the folder, {after}.")
