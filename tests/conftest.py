"""Shared fixtures: tiny real data, a scratch working directory, the CLI runner."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

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


@pytest.fixture(scope="session")
def fashion_cnn():
    """A small CNN with a global-pooling head trained four epochs on 5,000
    Fashion-MNIST images (two thirds of its test images right), its first
    256 test images and their labels. Shared: a test that changes the model
    changes a copy."""
    import keras

    from kerasdl.builders.cnn import build_cnn
    from kerasdl.data.images import load_fashion_mnist

    data = load_fashion_mnist()
    keras.utils.set_random_seed(0)
    model = build_cnn((28, 28, 1), 10, filters=(16, 32), convs_per_block=1, batch_norm=False, dropout_rate=0.0,
                      head="global_average")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(data.x_train[:5000].astype("float32"), data.y_train[:5000], epochs=4, batch_size=32, verbose=0)
    return model, data.x_test[:256].astype("float32"), data.y_test[:256]


def run_cli(*args: str, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """Runs ``python -m kerasdl ARGS`` in a fresh process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "kerasdl", *args],
        capture_output=True, text=True, timeout=timeout, **kwargs,
    )


def run_cli_here(*args: str, cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    """``run_cli`` in this process (Click's test runner, in ``cwd``): the
    same exit code, stdout and stderr without a Python and TensorFlow
    start-up each time. For commands whose test needs no process of its
    own (no kill, no fresh TensorFlow, no environment of its own)."""
    from click.testing import CliRunner

    from kerasdl.cli import main

    before = os.getcwd()
    os.chdir(cwd or before)
    try:
        result = CliRunner().invoke(main, list(args))
    finally:
        os.chdir(before)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(["kerasdl", *args], result.exit_code, result.stdout, result.stderr)


def kill_after_epochs(command: list, workdir: Path, family: str, epochs: int) -> int:
    """Starts ``command``, SIGKILLs it once its checkpoint holds ``epochs``
    epochs, and returns how many the checkpoint holds after the kill (the
    epoch it must resume after)."""
    metadata = workdir / "runs" / family

    def checkpointed() -> int:
        for path in metadata.glob("*/backup/training_metadata.json"):
            try:
                return json.loads(path.read_text())["epoch"]
            except (OSError, ValueError):  # caught mid-write
                return 0
        return 0

    process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while checkpointed() < epochs and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    return checkpointed()


def tensorboard_summaries(folder: Path) -> dict:
    """Every summary in one TensorBoard log folder, read with TensorBoard's
    own reader: tag -> (the plugin that shows it, [(step, value), ...]);
    an image's value is its PNG bytes, text a string, a scalar a float."""
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import TENSORS, EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={TENSORS: 0})
    events.Reload()
    found = {}
    for tag in events.Tags()["tensors"]:
        plugin = events.SummaryMetadata(tag).plugin_data.plugin_name
        values = []
        for event in events.Tensors(tag):
            array = tf.make_ndarray(event.tensor_proto)
            value = array[2] if plugin == "images" else array.item() if array.ndim == 0 else array
            values.append((event.step, value.decode() if isinstance(value, bytes) and plugin == "text" else value))
        found[tag] = (plugin, values)
    return found
