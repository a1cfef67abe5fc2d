"""The code's style, as pyproject.toml configures ruff: line length 120,
imports sorted, no unused names. A contributor runs `ruff check --fix`."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _ruff() -> list[str]:
    beside = Path(sys.executable).with_name("ruff")
    found = str(beside) if beside.is_file() else shutil.which("ruff")
    if found is None:
        pytest.fail("ruff is not installed: it is in the test extra (make install).")
    return [found]


def test_the_code_passes_ruff():
    checked = subprocess.run([*_ruff(), "check", "--no-cache", "kerasdl", "tests", "bench"], cwd=ROOT,
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
