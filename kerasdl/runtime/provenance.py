"""What produced a run: ``environment.json`` in the run folder and in the
export's ``assets.extra/``.

It records the library versions (Python, TensorFlow, Keras, NumPy,
kerasdl), the machine's devices, the strategy and precision, the command
line, the project's git commit (if the working folder is in a git
repository), and the SHA-256 of each data file the recipe names (a folder
of many files: of its sorted listing of names and sizes, so 200,000 photos
are not read twice). A run resumed in another process adds that process's
entry.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

FILE = "environment.json"
# Data files larger than this in all are fingerprinted by size and
# modification time rather than read through.
HASH_LIMIT = 2**30
# A folder of more files is fingerprinted by its listing (names and sizes).
FOLDER_FILES = 100


def environment(recipe: Any, placement: Any) -> dict:
    """This process's entry: versions, devices, placement, command, git, data."""
    import keras
    import numpy as np
    import tensorflow as tf

    from kerasdl import __version__

    return {
        "time": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": [_program(), *sys.argv[1:]],
        "working_folder": os.getcwd(),
        "versions": {
            "python": platform.python_version(), "kerasdl": __version__, "tensorflow": tf.__version__,
            "keras": keras.__version__, "numpy": np.__version__,
        },
        "platform": platform.platform(),
        "devices": [device.name for device in tf.config.list_logical_devices()],
        "strategy": placement.name, "replicas": placement.replicas, "workers": placement.workers,
        "precision": placement.precision,
        "git": git_state(Path.cwd()),
        "data": data_fingerprints(recipe["data"]),
    }


def _program() -> str:
    """``kerasdl`` for the console script and ``python -m kerasdl`` alike."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    return "kerasdl" if name in ("kerasdl", "__main__.py") else name


def git_state(folder: Path) -> Optional[dict]:
    """The commit checked out in ``folder``'s git repository and whether
    files differ from it; None outside a repository (or without git)."""
    def git(*args: str) -> Optional[str]:
        try:
            done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None
    return {"commit": commit, "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def data_fingerprints(section: dict) -> dict:
    """``{recipe key: {"path", ...}}`` for every file or folder the recipe's
    ``data`` section names (``path``, ``test_path``, ``directory``, any
    ``*_path``): a file's SHA-256; a folder's per file when it holds at
    most ``FOLDER_FILES`` files, else of its listing; ``HASH_LIMIT``
    bytes read in all."""
    budget = [HASH_LIMIT]
    found = {}
    for key, value in section.items():
        if (key.endswith("path") or key == "directory") and isinstance(value, str) and value:
            found[key] = {"path": value, **_fingerprint(Path(value).expanduser(), budget)}
    return found


def _fingerprint(path: Path, budget: list) -> dict:
    if path.is_file():
        size = path.stat().st_size
        if size > budget[0]:
            return {"bytes": size, "modified": path.stat().st_mtime, "sha256": None}
        budget[0] -= size
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(2**20), b""):
                digest.update(block)
        return {"bytes": size, "sha256": digest.hexdigest()}
    if path.is_dir():
        files = sorted(item for item in path.rglob("*") if item.is_file())
        if len(files) <= FOLDER_FILES:
            return {"files": {str(file.relative_to(path)): _fingerprint(file, budget) for file in files}}
        listing = hashlib.sha256()
        for file in files:
            listing.update(f"{file.relative_to(path)}\t{file.stat().st_size}\n".encode())
        return {"files": len(files), "listing_sha256": listing.hexdigest()}
    return {"missing": True}


def record(folder: Path, entry: dict) -> dict:
    """Writes ``environment.json`` in a run folder: the first process's
    entry, and each resuming process's under ``resumed``. Returns the whole."""
    from kerasdl.runtime import atomic

    path = folder / FILE
    try:
        content = json.loads(path.read_text())
    except (OSError, ValueError):
        content = None
    if isinstance(content, dict) and "versions" in content:
        content.setdefault("resumed", []).append(entry)
    else:
        content = entry
    atomic.write_json(path, content)
    return content


def asset(folder: Path) -> dict[str, str]:
    """The run folder's ``environment.json`` as an export asset (file name
    -> text), or {} when the run has none (a worker's scratch folder)."""
    path = folder / FILE
    return {FILE: path.read_text()} if path.is_file() else {}
