"""Keras 3's image augmentation layers from a recipe (issue 35): every
layer kerasdl names builds into a model and runs in training only; bad
names, arguments and layers that do not fit the images are refused naming
the list entry."""

import keras
import numpy as np
import pytest

from kerasdl.builders import augmentations, build_cnn
from kerasdl.errors import BuilderArgumentError
from tests.conftest import ROOT, run_cli_here

# The least each layer needs to do something visible on a batch.
ARGUMENTS = {
    "random_flip": {"mode": "horizontal_and_vertical"},
    "random_rotation": {"factor": 0.2},
    "random_zoom": {"height_factor": 0.3},
    "random_translation": {"height_factor": 0.2, "width_factor": 0.2},
    "random_shear": {"x_factor": 0.3},
    "random_perspective": {"factor": 1.0, "scale": 0.5},
    "random_elastic_transform": {"factor": 1.0, "scale": 1.0},
    "random_contrast": {"factor": 0.5},
    "random_brightness": {"factor": 0.5},
    "random_color_jitter": {"brightness_factor": 0.5, "contrast_factor": 0.5},
    "random_color_degeneration": {"factor": 0.9},
    "random_hue": {"factor": 0.5},
    "random_saturation": {"factor": 0.9},
    "random_sharpness": {"factor": 0.9},
    "random_grayscale": {"factor": 1.0},
    "random_invert": {"factor": 1.0},
    "random_posterization": {"factor": [1, 2]},
    "solarization": {"addition_factor": 0.5, "threshold_factor": 0.5},
    "random_gaussian_blur": {"factor": 1.0, "kernel_size": 5, "sigma": 1.0},
    "gaussian_noise": {"stddev": 0.2},
    "random_erasing": {"factor": 1.0, "scale": [0.2, 0.4]},
    "rand_augment": {"num_ops": 3, "factor": 0.9},
    "aug_mix": {},
}


def test_every_layer_has_its_case():
    assert set(ARGUMENTS) == set(augmentations.LAYERS)


@pytest.mark.parametrize("name", list(augmentations.LAYERS))
def test_each_layer_builds_and_changes_images_in_training_only(name):
    keras.utils.set_random_seed(0)
    model = build_cnn((32, 32, 3), 3, filters=(4,), convs_per_block=1,
                      augmentation=[{"name": name, **ARGUMENTS[name]}])
    layer = next(layer for layer in model.layers if isinstance(layer, augmentations.LAYERS[name]))
    if hasattr(layer, "value_range"):
        assert list(layer.value_range) == [0.0, 1.0]  # The range after the model's 1/255 rescaling.
    images = np.random.default_rng(1).uniform(0, 1, (8, 32, 32, 3)).astype("float32")
    trained_on = keras.ops.convert_to_numpy(layer(images, training=True))
    assert trained_on.shape == images.shape and not np.allclose(trained_on, images, atol=1e-3), name
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(images, training=False)), images)
    # Whole model: inference is deterministic, as validation, test and the export see it.
    raw = (images * 255).astype("float32")
    np.testing.assert_array_equal(model.predict(raw, verbose=0), model.predict(raw, verbose=0))


@pytest.mark.parametrize("augmentation, message", [
    ([{"name": "gausian_noise", "stddev": 0.1}], "unknown augmentation layer 'gausian_noise' "
                                                 "(did you mean 'gaussian_noise'?)"),
    (["random_flip", {"name": "gaussian_noise", "stdev": 0.1}], "'stdev' is not an argument of "
                                                              "keras.layers.GaussianNoise (did you mean 'stddev'?)"),
    ([{"name": "random_rotation", "factor": -3}], "keras.layers.RandomRotation refuses these arguments: The "
                                                  "`factor` argument should be a number"),
    ([{"name": "random_hue", "factor": 0.2}], "RandomHue fails on images of shape (28, 28, 1) (1 channel): input "
                                              "must have 3 channels"),
    ([{"name": "random_crop", "height": 24, "width": 24}], "RandomCrop crops to a smaller size in training"),
    ([{"name": "random_zoom", "height_factor": 0.1, "fill_mode": "mirror"}], "RandomZoom refuses these arguments"),
    (["mix_up"], "mixes the labels of two examples as well as their images"),
    ([{"factor": 0.1}], "must be a name or a mapping with a 'name' key and the constructor's arguments, e.g. "
                        "{name: random_rotation, factor: 0.1}"),
])
def test_bad_layers_are_refused_naming_the_entry(augmentation, message):
    with pytest.raises(BuilderArgumentError) as raised:
        build_cnn((28, 28, 1), 10, filters=(4,), augmentation=augmentation)
    assert message in str(raised.value)
    assert raised.value.argument == f"augmentation[{len(augmentation) - 1}]"


def test_a_recipe_names_layers_and_a_bad_one_gets_its_key(workdir):
    recipe = str(ROOT / "recipes" / "cnn.yaml")
    small = ["--set", "data.max_train_examples=200", "--set", "model.filters=[4]"]
    good = "[{name: random_color_jitter, brightness_factor: 0.2}, {name: random_erasing, factor: 0.5}]"
    result = run_cli_here("run", recipe, "--dry-run", *small, "--set", f"model.augmentation={good}", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "random_color_jitter" in result.stdout and "random_erasing" in result.stdout  # The model summary.
    bad = run_cli_here("run", recipe, "--dry-run", *small, "--set", "model.augmentation=[{name: random_hue}]",
                       cwd=workdir)
    assert bad.returncode == 2 and "cnn.yaml: model.augmentation[0]: keras.layers.RandomHue refuses" in bad.stderr
    assert list(workdir.iterdir()) == []
