"""The model's memory, estimated before it is built (kerasdl/runtime/memory.py)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from conftest import ROOT, run_cli_here

from kerasdl.builders import build_cnn, build_dense, build_gan, build_lstm
from kerasdl.errors import RecipeError
from kerasdl.runtime import memory

BUILDS = {
    "dense": lambda: build_dense((28, 28, 1), 10, units=(64, 32)),
    "cnn": lambda: build_cnn((28, 28, 1), 10, filters=(4, 8), batch_norm=True),
    "lstm text": lambda: build_lstm(num_classes=3, adapt_data=np.array(["a good day", "a bad day"] * 8),
                                    units=(8,), max_tokens=50),
    "lstm series": lambda: build_lstm(input_shape=(12, 1), horizon=2, units=(8,),
                                      adapt_data=np.random.default_rng(0).normal(size=(16, 12, 1))),
    "gan": lambda: build_gan((28, 28, 1), latent_dim=8),
}


@pytest.mark.parametrize("family", sorted(BUILDS))
def test_the_abstract_count_is_the_real_models(family):
    counted = memory.parameters(BUILDS[family])
    assert counted is not None and counted == BUILDS[family]().count_params()


def test_the_abstract_build_leaves_no_trace():
    """The model built after the count has the weights and layer names it
    has without the count: seeds and name counters are put back."""
    def built(count_first: bool):
        keras.backend.clear_session()
        keras.utils.set_random_seed(7)
        if count_first:
            memory.parameters(BUILDS["cnn"])
        model = BUILDS["cnn"]()
        return [layer.name for layer in model.layers], [weight.numpy() for weight in model.weights]

    (names, weights), (names_after, weights_after) = built(False), built(True)
    assert names == names_after
    assert all(np.array_equal(a, b) for a, b in zip(weights, weights_after)) and len(weights) == len(weights_after)


def test_a_model_larger_than_memory_is_refused_naming_its_size():
    count = 3 * 2**30  # Parameters: 48 GiB to train with Adam.
    with pytest.raises(RecipeError, match=r"r.yaml: model: the model has 3,221,225,472 parameters, which train in "
                                          r"about 48.0 GiB .* adam .* 24.0 GiB available"):
        memory.check_fits(count, "adam", "r.yaml: model", available=24 * 2**30)
    memory.check_fits(count, "sgd", "r.yaml: model", available=40 * 2**30)  # 36 GiB with one slot: fits.
    memory.check_fits(None, "adam", "r.yaml: model")  # Not countable: the real build decides.


def test_ten_billion_units_stop_the_dry_run_before_anything_is_allocated(workdir):
    result = run_cli_here("run", str(ROOT / "recipes" / "dense.yaml"), "--dry-run", "--set",
                          "model.units=[10000000000]", "--set", "data.max_train_examples=100", cwd=workdir)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "dense.yaml: model: the model has 7,950,000,000,010 parameters" in result.stderr
    assert "Traceback" not in result.stderr and not list(workdir.iterdir())
