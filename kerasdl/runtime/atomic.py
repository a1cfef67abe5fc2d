"""Writes a kill cannot leave half done: a file replaced whole
(``write_text``, ``write_json``), a folder renamed into place once written
(``write_folder``, in a ``staging_folder`` that a killed writer's
successor removes), and the timestamped name of a new result folder.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Callable


def unused_stamp(parent: Path) -> Path:
    """``parent/<timestamp>`` (``%Y%m%d-%H%M%S``), or with ``-1``, ``-2``, ...
    when that exists: a folder name for a new result (two commands in one
    second get two folders)."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return next(parent / name for name in (stamp, *(f"{stamp}-{n}" for n in range(1, 10_000)))
                if not (parent / name).exists())


def write_text(path: Path, text: str) -> None:
    """Writes a file whole or not at all (a kill leaves the old one)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def write_json(path: Path, content: dict) -> None:
    write_text(path, json.dumps(content, indent=2) + "\n")


def staging_folder(parent: Path, label: str) -> Path:
    """A new hidden folder in ``parent`` to write into before a rename
    (``.tmp-<label>-<pid>-<random>``, with the umask's usual mode, not
    mkdtemp's 0700). Those that a killed process left are removed first.
    """
    parent.mkdir(parents=True, exist_ok=True)
    prefix = f".tmp-{label}-"
    for left in parent.glob(f"{prefix}*"):
        pid = left.name[len(prefix):].split("-")[0]
        if pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(left, ignore_errors=True)
    while True:
        folder = parent / f"{prefix}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (someone else's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # Someone else's process.
        return True
    return True


def write_folder(folder: Path, write: Callable[[Path], None]) -> None:
    """Runs ``write(staging)`` into a hidden folder beside ``folder``, then
    renames it to ``folder``: a kill never leaves half a folder (and the
    hidden one is removed by the next write beside it).

    Raises:
        OSError: when ``folder`` exists and is not empty (an empty one is
            replaced), or what ``write`` raised; nothing is left behind.
    """
    staging = staging_folder(folder.parent, folder.name)
    try:
        write(staging)
        os.rename(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
