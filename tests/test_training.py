"""What a run offers around training (issue 21): the plateau rule; the
run folder's provenance is tests/test_provenance.py."""

import pytest

from kerasdl.errors import RecipeError
from kerasdl.recipe.resolve import load_recipe
from tests.conftest import ROOT

CNN = str(ROOT / "recipes" / "cnn.yaml")
DENSE = str(ROOT / "recipes" / "dense.yaml")


# -- Plateaus (issue 21) -------------------------------------------------------------


def test_reduce_on_plateau_lowers_a_constant_rate_and_refuses_a_schedule(workdir):
    from kerasdl.runtime import runs as run_folders
    from kerasdl.tasks import loop

    recipe = load_recipe(DENSE, [
        "data.max_train_examples=256", "data.max_test_examples=64", "training.epochs=3", "export.enabled=false",
        "optimizer.learning_rate=0.01", "training.reduce_on_plateau={factor: 0.5, patience: 0, min_delta: 100.0}",
    ])
    summary = loop.run(recipe, verbose=0, log=lambda line: None)
    rates = run_folders.read_history(workdir / summary["run_dir"])["learning_rate"]
    # The first epoch improves on nothing (infinity); no later one improves
    # by 100: with patience 0 the rate halves after each, as logged from
    # the epoch after.
    assert rates == pytest.approx([0.01, 0.01, 0.005], rel=1e-6)
    with pytest.raises(RecipeError, match=r"training.reduce_on_plateau lowers a constant learning rate, but "
                                          r"optimizer.learning_rate is a 'cosine' schedule"):
        load_recipe(CNN, ["training.reduce_on_plateau=true"])
    with pytest.raises(RecipeError, match=r"training.reduce_on_plateau.factr is not an argument of "
                                          r"keras.callbacks.ReduceLROnPlateau"):
        load_recipe(DENSE, ["training.reduce_on_plateau={factr: 0.5}"])
