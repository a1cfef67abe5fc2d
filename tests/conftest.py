"""Shared fixtures: tiny real data, a scratch working directory, the CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
RECIPES = sorted((ROOT / "recipes").glob("*.yaml"))

# A few hundred real Fashion-MNIST images and a tiny CNN: seconds per run.
TINY = [
    "data.max_train_examples=600",
    "data.max_test_examples=200",
    "training.epochs=2",
    "training.batch_size=64",
    "model.filters=[4, 8]",
    "model.convs_per_block=1",
    "optimizer.learning_rate=0.003",
]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """Runs the test inside an empty folder, so runs/ and saved_models/ land there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_cli(*args: str, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """Runs ``python -m kerasdl ARGS`` in a fresh process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "kerasdl", *args],
        capture_output=True, text=True, timeout=timeout, **kwargs,
    )
