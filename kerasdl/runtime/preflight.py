"""Checks made before any data is read or any epoch trained: the folders a
run writes to can be written, and the disk has room for what it will
write. A problem found after an hour of training costs the hour.

Nothing is created here (a dry run writes nothing): a folder that does not
exist yet must be creatable, that is, its nearest existing parent must be
a folder where a file can be written (tried with an unnamed file).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from kerasdl.errors import RecipeError

# Bytes on disk per model parameter at a run's peak (after its export, before
# metrics.json: measured by tests/test_faults.py), each file with the Adam
# optimizer's two slots beside the weight where it has them: the last two
# epochs' checkpoints and the last two best epochs' weights (4 x 3), the
# trained weights (3), model.keras (3), and the export's variables (2) and
# its model.keras (3): 23 float32 values.
BYTES_PER_PARAMETER = 4 * (4 * 3 + 3 + 3 + 2 + 3)
# What Linux file systems allow: bytes in one name, and in a whole path.
MAX_NAME = 255
MAX_PATH = 4095


def writable_folder(path: str, key: str, source: str) -> Path:
    """The folder at ``path``, checked to be writable (or creatable).

    Args:
        key: The recipe key or option that names it, for the message.
        source: The recipe file (or the command) that gave it.

    Raises:
        RecipeError: naming ``source`` and ``key``: a NUL byte in the path,
            a file where a folder must be, a folder that cannot be written.
    """
    def fail(problem: str) -> RecipeError:
        return RecipeError(f"{source}: {key}: {problem} Received: {key.rsplit('.', 1)[-1]}={path!r}")

    if "\x00" in path or not path.strip():
        raise fail("is not a usable folder name (empty, or it holds a NUL byte).")
    folder = Path(path)
    too_long = [part for part in folder.parts if len(part.encode()) > MAX_NAME]
    if too_long or len(path.encode()) > MAX_PATH:
        what = f"a name of {len(too_long[0].encode())} bytes" if too_long else f"{len(path.encode())} bytes"
        raise fail(f"is {what}; file systems allow {MAX_NAME} bytes a name and {MAX_PATH} a path. Choose a shorter "
                   "one.")
    existing = _existing_ancestor(folder)
    if existing != folder and (existing / folder.relative_to(existing).parts[0]).is_symlink():
        raise fail(f"{existing / folder.relative_to(existing).parts[0]} is a broken symbolic link.")
    if not existing.is_dir():
        raise fail(f"{existing} is a file, not a folder. Remove it or choose another folder.")
    try:  # An unnamed file (O_TMPFILE): nothing is left, even by a kill.
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise fail(f"{existing} cannot be written ({error.strerror}). Choose another folder.") from None
    return folder


def check_outputs(recipe: Any) -> None:
    """The run's output folders (``training.runs_dir``, and
    ``export.directory`` when it exports) can be written."""
    writable_folder(recipe["training"]["runs_dir"], "training.runs_dir", recipe.path)
    if recipe["export"]["enabled"]:
        writable_folder(recipe["export"]["directory"], "export.directory", recipe.path)


def check_space(folders: Iterable[str], parameters: int, log: Callable[[str], None],
                extra_bytes: int = 0) -> Optional[int]:
    """Warns when the disk holding ``folders`` has less free space than a
    run of a model with ``parameters`` weights writes; returns the estimate."""
    needed = parameters * BYTES_PER_PARAMETER + extra_bytes
    for path in folders:
        free = shutil.disk_usage(_existing_ancestor(Path(path))).free
        if free < needed:
            log(f"Warning: {path} is on a disk with {free / 2**20:,.0f} MiB free; this run writes about "
                f"{needed / 2**20:,.0f} MiB (checkpoints, the trained model, the export). Free space first: "
                "a full disk stops the run (rerun it to resume).")
    return needed


def _existing_ancestor(path: Path) -> Path:
    """``path`` itself if it exists, else its nearest existing parent."""
    while not path.exists():
        path = path.parent
    return path
