"""Adversarial examples (models/adversarial.py): FGSM and PGD stay in the
epsilon ball and the pixels' range and lower a trained classifier's
accuracy; ``training.adversarial`` trains on the attacked batches; the
recipe key is refused where there are no images to attack. The command
line (``kerasdl evaluate --attack``) is tested in test_use.py."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasdl.models.adversarial import Attack, attacked_predictions, train_against
from tests.conftest import ROOT, run_cli_here


@pytest.fixture(scope="module")
def trained(fashion_cnn):
    return fashion_cnn


def _accuracy(model, attack, images, labels):
    predictions, kept = attacked_predictions(model, attack, [(images, labels)], keep=len(images))
    return float(np.mean(np.argmax(predictions, axis=-1) == labels)), kept


def test_attacks_lower_accuracy_within_the_epsilon_ball(trained):
    model, images, labels = trained
    clean = float(np.mean(np.argmax(model.predict(images, verbose=0), axis=-1) == labels))
    fgsm, fgsm_images = _accuracy(model, Attack("fgsm", 0.1), images, labels)
    pgd, pgd_images = _accuracy(model, Attack("pgd", 0.1, steps=10), images, labels)
    assert clean > 0.6
    assert fgsm < clean - 0.25, (clean, fgsm)  # An attack that climbs the wrong way fails here.
    assert pgd <= fgsm + 0.01, (fgsm, pgd)  # Ten projected steps find at least what one step finds.
    for attacked in (fgsm_images, pgd_images):
        change = np.abs(attacked - images)
        assert change.max() <= 0.1 * 255 + 1e-3
        assert attacked.min() >= 0 and attacked.max() <= 255
        assert change.mean() > 1.0  # The images were moved.
    # FGSM without a random start moves every pixel that can move by epsilon.
    movable = (images > 25.5) & (images < 255 - 25.5)
    assert np.allclose(np.abs(fgsm_images - images)[movable], 25.5, atol=1e-3)


def test_a_smaller_epsilon_hurts_less(trained):
    model, images, labels = trained
    small, _ = _accuracy(model, Attack("pgd", 0.01, steps=5), images, labels)
    large, _ = _accuracy(model, Attack("pgd", 0.1, steps=5), images, labels)
    assert small > large + 0.2, (small, large)


def test_step_sizes_follow_the_literature():
    assert Attack("fgsm", 0.1).step == pytest.approx(0.1)
    assert Attack("fgsm", 0.1, random_start=True).step == pytest.approx(0.125)  # Wong et al.
    assert Attack("pgd", 0.1, steps=10).step == pytest.approx(0.025)  # Madry et al.: 2.5 epsilon / steps.
    assert Attack("pgd", 0.1, steps=10, step_size=0.01).describe()["step_size"] == 0.01
    with pytest.raises(ValueError, match="is not one of fgsm, pgd"):
        Attack("deepfool", 0.1)


def test_adversarial_training_steps_on_attacked_batches(trained, tmp_path):
    """With a learning rate of 0 a step only measures: the loss it logs is
    the attacked batch's, well above the clean batch's."""
    model, images, labels = trained
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())

    def logged_loss(attack):
        copy.compile(optimizer=keras.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
        if attack is not None:
            train_against(copy, attack)
        return copy.fit(images, labels, batch_size=len(images), epochs=1, verbose=0).history["loss"][0]

    clean = logged_loss(None)
    attacked = logged_loss(Attack.for_training({"attack": "fgsm", "epsilon": 0.1, "steps": 1, "step_size": None}))
    assert clean == pytest.approx(copy.evaluate(images, labels, verbose=0, return_dict=True)["loss"], rel=1e-4)
    assert attacked > clean + 0.5, (clean, attacked)
    # The weights did not move (learning rate 0); the model saves and loads in safe mode as it answered.
    assert all(np.array_equal(a, b) for a, b in zip(copy.get_weights(), model.get_weights()))
    copy.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)


@pytest.mark.parametrize("recipe, setting, message", [
    ("lstm.yaml", "training.adversarial={}", "training.adversarial: attacks images"),
    ("gan.yaml", "training.adversarial={}", "training.adversarial: attacks the images of a classifier"),
    ("cnn.yaml", "training.adversarial={attack: pgd, epsilonn: 0.1}", "did you mean 'epsilon'"),
    ("cnn.yaml", "training.adversarial={epsilon: 2}", "training.adversarial.epsilon"),
    ("cnn.yaml", "training.adversarial={attack: deepfool}", "training.adversarial.attack"),
])
def test_the_recipe_key_is_refused_where_it_cannot_work(recipe, setting, message, workdir):
    result = run_cli_here("run", str(ROOT / "recipes" / recipe), "--dry-run", "--set", setting)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not any(workdir.iterdir())


def test_an_adversarial_recipe_resolves(workdir):
    result = run_cli_here("run", str(ROOT / "recipes" / "cnn_adversarial.yaml"), "--dry-run")
    assert result.returncode == 0, result.stderr
