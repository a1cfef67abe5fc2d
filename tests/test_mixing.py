"""Label mixing (models/mixing.py, ``training.label_mixing``): Keras's
MixUp and CutMix mix each training batch's images and its labels alike
(integer labels made one-hot), validation batches are not mixed, a recipe
trains with it, and what cannot work is refused before training."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from kerasdl.data.images import load_fashion_mnist
from kerasdl.models import mixing
from tests.conftest import ROOT, TINY, run_cli_here


@pytest.fixture(scope="module")
def batch():
    data = load_fashion_mnist()
    return data.x_test[:16].astype("float32"), data.y_test[:16].astype("int64")


def _mixed(spec, images, labels):
    """What Keras's step receives from the mixing step: (images, labels)."""
    received = {}

    def step(data):
        received["images"], received["labels"], _ = keras.utils.unpack_x_y_sample_weight(data)
        return {}

    mixing.mixing_step(mixing.mixer(spec, seed=1), 10, step)((images, labels))
    return np.asarray(received["images"]), np.asarray(received["labels"])


def test_mix_up_mixes_each_image_and_its_label_by_the_same_weight(batch):
    images, labels = batch
    mixed, soft = _mixed({"name": "mix_up", "alpha": 0.4}, images, labels)
    assert soft.shape == (16, 10) and np.allclose(soft.sum(axis=1), 1.0, atol=1e-5)
    two = [row for row in range(16) if np.count_nonzero(soft[row] > 1e-6) == 2]
    assert len(two) >= 8, soft  # A mixing that leaves the labels one-hot fails here.
    for row in two:
        weight = soft[row, labels[row]]
        # The image is weight x its own + (1 - weight) x another of the batch, whose label has the rest.
        errors = [np.abs(mixed[row] - (weight * images[row] + (1 - weight) * images[other])).max()
                  for other in range(16) if labels[other] != labels[row]]
        assert min(errors) < 1e-2, (row, weight)


def test_cut_mix_pastes_a_patch_and_weighs_the_label_by_its_area(batch):
    _, labels = batch
    images = np.random.default_rng(0).uniform(0, 255, (16, 28, 28, 1)).astype("float32")  # No two pixels alike.
    mixed, soft = _mixed("cut_mix", images, labels)
    assert np.allclose(soft.sum(axis=1), 1.0, atol=1e-5)
    changed = [row for row in range(16) if not np.array_equal(mixed[row], images[row])]
    assert any(soft[row, labels[row]] < 1 - 1e-6 for row in changed)  # Pasted images have mixed labels.
    for row in changed:
        kept = np.mean(mixed[row] == images[row])
        if soft[row, labels[row]] < 1 - 1e-6:  # The patch came from another class: its share is the patch's area.
            assert soft[row, labels[row]] == pytest.approx(kept, abs=0.01)


def test_validation_batches_are_one_hot_and_not_mixed(batch):
    images, labels = batch
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    model.test_step = mixing.one_hot_test_step(model, 10)
    scored = model.evaluate(images, labels, verbose=0, return_dict=True)
    probabilities = model.predict(images, verbose=0)
    clean = -np.mean(np.log(probabilities[np.arange(16), labels]))
    assert scored["loss"] == pytest.approx(clean, rel=1e-4)
    assert scored["accuracy"] == pytest.approx(np.mean(np.argmax(probabilities, axis=1) == labels))


def test_a_recipe_trains_on_mixed_batches(workdir):
    result = run_cli_here("run", str(ROOT / "recipes" / "cnn.yaml"), "--json", "--quiet", *[
        part for setting in (*TINY, "training.label_mixing={name: mix_up, alpha: 0.4}", "export.enabled=false")
        for part in ("--set", setting)])
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["test"]["accuracy"] > 0.3
    recipe = (workdir / summary["run_dir"] / "recipe.yaml").read_text()
    assert "label_mixing:" in recipe and "mix_up" in recipe


@pytest.mark.parametrize("recipe, settings, message", [
    ("lstm.yaml", ["training.label_mixing=mix_up"], "training.label_mixing: mixes images"),
    ("gan.yaml", ["training.label_mixing=mix_up"], "training.label_mixing: mixes the images and labels of a"),
    ("cnn.yaml", ["training.label_mixing=mixup"], "is not a label-mixing layer (did you mean 'mix_up'?)"),
    ("cnn.yaml", ["training.label_mixing={name: mix_up, alpah: 0.2}"], "(did you mean 'alpha'?)"),
    ("cnn.yaml", ["training.label_mixing=cut_mix", "loss=mse"], "Use loss: sparse_categorical_crossentropy"),
    ("cnn.yaml", ["training.label_mixing=mix_up", "metrics=[sparse_categorical_accuracy]"],
     "metrics[0]: sparse_categorical_accuracy reads integer labels"),
    ("cnn.yaml", ["model.augmentation=[mix_up]"], "Use training.label_mixing: {name: mix_up, alpha: 0.2}"),
])
def test_what_cannot_mix_is_refused_before_training(recipe, settings, message, workdir):
    result = run_cli_here("run", str(ROOT / "recipes" / recipe), "--dry-run",
                          *[part for setting in settings for part in ("--set", setting)])
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
