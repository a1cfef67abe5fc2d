"""Magnitude pruning (issue 36, ``training.pruning``, models/pruning.py):
the schedule, the masks, zeros that stay zeros through training, a kill
and the export (docs/compression.md)."""

import json
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasdl.models import pruning
from kerasdl.runtime import runs
from tests.conftest import ROOT, TINY, kill_after_epochs, run_cli_here

RECIPE = str(ROOT / "recipes" / "cnn_pruned.yaml")


def _sets(settings):
    return [item for setting in settings for item in ("--set", setting)]


def test_the_mask_zeroes_exactly_the_smallest_share():
    weights = np.array([[0.5, -0.1], [-3.0, 0.05], [0.2, 1.0]], np.float32)
    np.testing.assert_array_equal(pruning.magnitude_mask(weights, 0.5), [[1, 0], [1, 0], [0, 1]])
    assert pruning.magnitude_mask(weights, 0.0).all()
    assert pruning.magnitude_mask(np.zeros((10, 10)), 0.9).sum() == 10  # Ties: still the exact count.


def test_the_schedule_ramps_cubically_from_begin_to_end():
    assert pruning.schedule(5, 0.8, begin=10, end=30) == 0.0
    assert pruning.schedule(20, 0.8, begin=10, end=30) == pytest.approx(0.8 * (1 - 0.5**3))
    assert pruning.schedule(30, 0.8, begin=10, end=30) == pruning.schedule(99, 0.8, begin=10, end=30) == 0.8
    ramp = [pruning.schedule(step, 0.8, 10, 30) for step in range(40)]
    assert ramp == sorted(ramp)


def test_pruned_weights_stay_zero_through_every_step_of_training():
    """Adam's momentum moves a zeroed weight at the next step: only the
    mask as the kernel's constraint keeps it at zero between two mask
    updates (here one, at the first step past the ramp)."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(4)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    x, y = np.random.default_rng(0).standard_normal((512, 16)).astype(np.float32), np.arange(512) % 4
    pruner = pruning.Pruner({"sparsity": 0.75, "begin_epoch": 0, "end_epoch": 1, "frequency": 1000},
                            steps_per_epoch=16, epochs=4)
    zeros_seen = []

    class Watch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            zeros_seen.append([np.flatnonzero(keras.ops.convert_to_numpy(k) == 0) for k in pruning.kernels(model)])

    model.fit(x, y, epochs=4, batch_size=32, verbose=0, callbacks=[pruner, Watch()])
    final = zeros_seen[-1]
    for kernel, found in zip(pruning.kernels(model), final):
        assert len(found) == round(0.75 * kernel.shape[0] * kernel.shape[1])
    # From the first mask at the final sparsity on, the same weights are zero after every step.
    settled = [index for index, seen in enumerate(zeros_seen) if all(
        len(zeros) == round(0.75 * np.prod(kernel.shape)) for zeros, kernel in zip(seen, pruning.kernels(model)))]
    assert settled and len(zeros_seen) - settled[0] > 40
    for seen in zeros_seen[settled[0]:]:
        for zeros, expected in zip(seen, final):
            np.testing.assert_array_equal(zeros, expected)
    assert pruning.sparsity(model) == pytest.approx(0.75, abs=1e-3)


def test_the_pruned_recipe_trains_exports_and_reloads_its_zeros(workdir):
    settings = [*TINY, "training.epochs=3", "training.pruning.begin_epoch=0", "training.pruning.end_epoch=2",
                "training.pruning.frequency=3"]
    result = run_cli_here("run", RECIPE, "--json", *_sets(settings), cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["test"]["sparsity"] == pytest.approx(0.8, abs=1e-3)
    history = runs.read_history(workdir / summary["run_dir"])
    assert history["sparsity"][0] < history["sparsity"][1] <= history["sparsity"][2] == pytest.approx(0.8, abs=1e-3)
    reloaded = keras.saving.load_model(workdir / summary["run_dir"] / "model.keras", safe_mode=True)
    assert pruning.sparsity(reloaded) == pytest.approx(0.8, abs=1e-3)
    assert not any(isinstance(k.constraint, pruning.Masked) for k in pruning.kernels(reloaded))  # Masks not saved.
    exported = tf.saved_model.load(str(workdir / summary["export_path"]))
    kernels = [v.numpy() for v in exported.variables if "kernel" in v.name and v.shape.rank >= 2]
    assert kernels and np.mean(np.concatenate([k.ravel() for k in kernels]) == 0) == pytest.approx(0.8, abs=1e-3)


def test_kill_9_mid_ramp_then_the_same_command_ends_at_the_sparsity(workdir):
    epochs = 6
    command = [sys.executable, "-m", "kerasdl", "run", RECIPE, "--json", "--quiet",
               *_sets([*TINY, f"training.epochs={epochs}", "export.enabled=false", "training.pruning.end_epoch=4",
                       "training.pruning.frequency=2"])]
    done_before = kill_after_epochs(command, workdir, "cnn_pruned", 2)
    assert 2 <= done_before < 4
    import subprocess

    resumed = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads(resumed.stdout)
    assert summary["resumed_from_epoch"] == done_before
    assert summary["test"]["sparsity"] == pytest.approx(0.8, abs=1e-3)
    history = runs.read_history(workdir / summary["run_dir"])
    assert history["epoch"] == list(range(epochs))
    assert history["sparsity"] == sorted(history["sparsity"])  # The ramp went on; nothing grew back.


@pytest.mark.parametrize("recipe, settings, message", [
    ("cnn_pruned.yaml", ["training.pruning.sparsity=1.0"], "training.pruning.sparsity"),
    ("cnn_pruned.yaml", ["training.pruning.end_epoch=9"], "end_epoch at most training.epochs (7)"),
    ("cnn_pruned.yaml", ["training.pruning.begin_epoch=5"], "begin_epoch must come before end_epoch"),
    ("cnn_pruned.yaml", ["training.pruning.sparsty=0.5"], "training.pruning.sparsty"),
    ("gan.yaml", ["training.pruning=0.5"], "training.pruning: prunes a model that Keras's fit trains"),
])
def test_bad_pruning_recipes_fail_cleanly_before_writing(workdir, recipe, settings, message):
    result = run_cli_here("run", str(ROOT / "recipes" / recipe), "--set", "tune=null", *_sets(settings), cwd=workdir)
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert not (workdir / "runs").exists() and not (workdir / "saved_models").exists()
