"""Transfer learning: the transfer builder (kerasdl and keras.applications
backbones, freezing, input adaptation), the fine-tuning phase, data.classes,
and their bad inputs."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from kerasdl.builders import build_cnn, build_transfer
from kerasdl.builders.transfer import BACKBONE, SMALLEST_INPUTS, select_layers
from kerasdl.cli import main
from kerasdl.errors import BuilderArgumentError
from kerasdl.models.preprocessing import APPLICATIONS
from tests.conftest import ROOT, run_cli_here

TRANSFER = str(ROOT / "recipes" / "transfer_5to9.yaml")
PRETRAIN = str(ROOT / "recipes" / "cnn_0to4.yaml")


@pytest.fixture(scope="module")
def backbone_file(tmp_path_factory):
    """A small kerasdl CNN (with batch norm) saved as .keras."""
    path = tmp_path_factory.mktemp("backbone") / "cnn.keras"
    build_cnn((28, 28, 1), 5, filters=[4, 8], convs_per_block=1, dense_units=[16], head="flatten").save(path)
    return path


class _Named:
    def __init__(self, name):
        self.name = name


LAYERS = [_Named(name) for name in ("rescale", "block1_conv1", "block1_bn1", "block2_conv1", "block2_bn1", "dense1")]


@pytest.mark.parametrize("selection, from_top, expected", [
    (True, False, ["rescale", "block1_conv1", "block1_bn1", "block2_conv1", "block2_bn1", "dense1"]),
    (False, True, []),
    (0.5, False, ["rescale", "block1_conv1", "block1_bn1"]),
    (0.5, True, ["block2_conv1", "block2_bn1", "dense1"]),
    (2, True, ["block2_bn1", "dense1"]),
    (0, True, []),
    (["block2_*", "dense1"], True, ["block2_conv1", "block2_bn1", "dense1"]),
])
def test_select_layers_by_fraction_count_and_name(selection, from_top, expected):
    assert [layer.name for layer in select_layers(LAYERS, selection, from_top)] == expected


@pytest.mark.parametrize("selection, message", [
    (1.5, "a fraction of the layers is in [0, 1]"),
    (-1, "a count of layers is >= 0"),
    (["block9_*"], "no backbone layer is named 'block9_*'"),
    ({"top": 2}, "expected true, false, a fraction"),
])
def test_select_layers_rejects_what_it_cannot_read(selection, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]").replace("*", r"\*")):
        select_layers(LAYERS, selection, from_top=True)


def test_kerasdl_backbone_is_cut_below_its_head_and_frozen(backbone_file):
    model = build_transfer((28, 28, 1), 3, backbone=str(backbone_file), freeze=True)
    backbone = model.get_layer(BACKBONE)
    assert backbone.output.shape[-1] == 16  # dense1, below the old head's dropout and output.
    assert model.output_shape == (None, 3)
    assert not any(layer.trainable_weights for layer in backbone.layers)
    assert [weight.name for weight in model.trainable_weights] == ["kernel", "bias"]  # The new head alone.
    # The backbone's weights are the trained model's.
    original = keras.saving.load_model(backbone_file)
    np.testing.assert_array_equal(backbone.get_layer("block1_conv1").kernel.numpy(),
                                  original.get_layer("block1_conv1").kernel.numpy())


def test_a_backbones_named_augmentation_is_dropped_and_the_new_one_sees_raw_pixels(tmp_path):
    path = tmp_path / "noisy.keras"
    build_cnn((28, 28, 1), 5, filters=[4], augmentation=[{"name": "gaussian_noise", "stddev": 0.1}]).save(path)
    model = build_transfer((28, 28, 1), 3, backbone=str(path),
                           augmentation=[{"name": "random_brightness", "factor": 0.2}])
    backbone = model.get_layer(BACKBONE)
    assert not any(isinstance(layer, keras.layers.GaussianNoise) for layer in backbone.layers)
    brightness = next(layer for layer in model.layers if isinstance(layer, keras.layers.RandomBrightness))
    assert list(brightness.value_range) == [0.0, 255.0]  # transfer augments before any rescaling.


def test_backbone_augmentation_is_dropped_and_the_new_recipes_applies(tmp_path):
    path = tmp_path / "flipping.keras"
    build_cnn((28, 28, 1), 5, filters=[4], dense_units=[8], dropout_rate=0.0, head="flatten",
              random_flip="horizontal").save(path)
    model = build_transfer((28, 28, 1), 3, backbone=str(path), random_rotation=0.1)
    backbone = model.get_layer(BACKBONE)
    assert not any(isinstance(layer, keras.layers.RandomFlip) for layer in backbone.layers)
    flip = next(layer.name for layer in keras.saving.load_model(path).layers
                if isinstance(layer, keras.layers.RandomFlip))
    assert isinstance(backbone.get_layer(flip), keras.layers.Identity)  # In the flip's place, by its name.
    # Only the new recipe's augmentation, on the new data, before the backbone.
    assert [type(layer).__name__ for layer in model.layers[1:3]] == ["RandomRotation", "Functional"]
    # A training-mode call through the backbone (no dropout) is deterministic: no flip left in it.
    images = np.random.default_rng(0).uniform(0, 255, (16, 28, 28, 1)).astype("float32")
    first, second = (backbone(images, training=True).numpy() for _ in range(2))
    np.testing.assert_array_equal(first, second)
    with pytest.raises(BuilderArgumentError, match="random_flip"):
        build_transfer((28, 28, 1), 3, backbone=str(path), random_flip="sideways")


def test_freeze_a_fraction_keeps_batch_norm_frozen_in_inference_mode(backbone_file):
    model = build_transfer((28, 28, 1), 3, backbone=str(backbone_file), freeze=0.3)
    backbone = model.get_layer(BACKBONE)
    assert not backbone.get_layer("block1_conv1").trainable and backbone.get_layer("block2_conv1").trainable
    bn = backbone.get_layer("block2_bn1")
    assert not bn.trainable
    before = bn.moving_mean.numpy().copy()
    images = np.random.default_rng(0).uniform(0, 255, (8, 28, 28, 1)).astype("float32")
    model(images, training=True)  # Batch norm in inference mode: its statistics do not move.
    np.testing.assert_array_equal(bn.moving_mean.numpy(), before)


def test_rgb_images_of_another_size_are_adapted_to_a_grey_backbone(backbone_file):
    model = build_transfer((40, 36, 3), 2, backbone=str(backbone_file))
    names = [layer.name for layer in model.layers]
    assert "resize_to_backbone" in names and "rgb_to_grey" in names
    out = model.predict(np.full((2, 40, 36, 3), 128, "float32"), verbose=0)
    assert out.shape == (2, 2) and np.allclose(out.sum(axis=1), 1, atol=1e-5)


def test_application_backbone_grey_to_rgb_resized_and_saved(tmp_path):
    model = build_transfer((28, 28, 1), 4, backbone="MobileNetV2", input_size=[32, 32], freeze=0.9)
    names = [layer.name for layer in model.layers]
    assert {"resize_to_backbone", "grey_to_rgb", "preprocess"} <= set(names)
    backbone = model.get_layer(BACKBONE)
    trainable = [layer for layer in backbone.layers if layer.trainable_weights]
    assert trainable and len(trainable) < len(backbone.layers) / 5
    assert not any(isinstance(layer, keras.layers.BatchNormalization) and layer.trainable for layer in backbone.layers)
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras")
    images = np.random.default_rng(1).uniform(0, 255, (2, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(reloaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-5)


# Built and answered in the default run; every other keras.applications architecture in the slow run.
QUICK_APPLICATIONS = ("MobileNet", "VGG16", "InceptionV3")


@pytest.mark.parametrize("name", [
    name if name in QUICK_APPLICATIONS else pytest.param(name, marks=pytest.mark.slow) for name in sorted(APPLICATIONS)
])
def test_every_application_trains_from_scratch_on_small_images(name):
    """weights: null: the architecture at the data's size (raised to Keras's
    minimum for it), every layer trainable but batch norm's."""
    model = build_transfer((28, 28, 1), 3, backbone=name)
    backbone = model.get_layer(BACKBONE)
    assert backbone.input_shape[1:] == (SMALLEST_INPUTS.get(name, 32),) * 2 + (3,)
    assert all(layer.trainable for layer in backbone.layers if not isinstance(layer, keras.layers.BatchNormalization))
    out = model.predict(np.full((2, 28, 28, 1), 100.0, "float32"), verbose=0)
    assert out.shape == (2, 3) and np.allclose(out.sum(axis=1), 1, atol=1e-5)


def test_trained_backbones_stay_frozen_by_default(backbone_file):
    backbone = build_transfer((28, 28, 1), 3, backbone=str(backbone_file)).get_layer(BACKBONE)
    assert not any(layer.trainable for layer in backbone.layers if layer.weights)


def test_a_sigmoid_headed_backbone_is_cut_below_its_two_head_layers(tmp_path):
    build_cnn((28, 28, 1), 2, filters=[4, 8], convs_per_block=1, dense_units=[16],
              output_activation="sigmoid").save(tmp_path / "binary.keras")
    backbone = build_transfer((28, 28, 1), 3, backbone=str(tmp_path / "binary.keras")).get_layer(BACKBONE)
    assert backbone.layers[-1].name == "dense1" and backbone.output_shape == (None, 16)


def test_application_weights_from_a_local_file(tmp_path):
    source = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg")
    source.save_weights(tmp_path / "notop.weights.h5")
    model = build_transfer((32, 32, 3), 2, backbone="MobileNetV2", weights=str(tmp_path / "notop.weights.h5"))
    np.testing.assert_array_equal(model.get_layer(BACKBONE).get_layer("Conv1").kernel.numpy(),
                                  source.get_layer("Conv1").kernel.numpy())


@pytest.mark.parametrize("arguments, argument, message", [
    ({"backbone": "Xception", "input_size": [64, 64]}, "input_size", "Xception takes inputs of at least 71x71"),
    ({"backbone": "nowhere/model.keras"}, "backbone", "no such file or folder"),
    ({"backbone": "ResNet5O"}, "backbone", "is neither a keras.applications name"),
    ({"backbone": "MobileNetV2", "weights": "absent.h5"}, "weights", "absent.h5: no such weights file"),
    ({"backbone": "MobileNetV2", "input_size": [16, 16]}, "input_size", "each >= 32"),
])
def test_bad_backbones_name_the_argument(arguments, argument, message):
    with pytest.raises(BuilderArgumentError, match=message) as error:
        build_transfer((28, 28, 1), 3, **arguments)
    assert error.value.argument == argument


def test_bad_backbone_contents_and_shapes(backbone_file, tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(BuilderArgumentError, match="is not a model file kerasdl reads") as error:
        build_transfer((28, 28, 1), 3, backbone=str(tmp_path / "notes.txt"))
    assert error.value.argument == "backbone"
    with pytest.raises(BuilderArgumentError, match="adapts images .height, width, channels. only"):
        build_transfer((784,), 3, backbone=str(backbone_file))
    with pytest.raises(BuilderArgumentError, match="have 2 channels and the backbone takes 1"):
        build_transfer((28, 28, 2), 3, backbone=str(backbone_file))
    with pytest.raises(BuilderArgumentError, match="no backbone layer is named 'block7'") as error:
        build_transfer((28, 28, 1), 3, backbone=str(backbone_file), freeze=["block7"])
    assert error.value.argument == "freeze"


def _run(arguments, cwd) -> dict:
    result = run_cli_here(*arguments, cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_pretrain_then_fine_tune_end_to_end(tmp_path):
    """cnn_0to4 on a few hundred images, then transfer_5to9 from its export:
    the first phase trains the head alone, the second the top of the backbone."""
    quick = ["--set", "data.max_train_examples=1000", "--set", "data.max_test_examples=300", "--set",
             "training.epochs=3",
             "--set", "optimizer.learning_rate.warmup_steps=5"]
    pretrained = _run(["run", PRETRAIN, "--json", "--quiet", *quick], tmp_path)
    assert pretrained["test"]["accuracy"] > 0.5  # Five classes: chance is 0.2.
    summary = _run([
        "run", TRANSFER, "--json", "--quiet", "--set", "training.epochs=2", "--set", "fine_tune.epochs=2",
        "--set", "data.max_test_examples=300", "--set", "model.feature_layer=dense1", "--set", "fine_tune.unfreeze=0.5",
    ], tmp_path)
    assert summary["epochs"] == 4
    names = (tmp_path / summary["export_path"] / "assets.extra" / "class_names.txt").read_text().split("\n")[:5]
    assert names == ["Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    model = keras.saving.load_model(tmp_path / summary["run_dir"] / "model.keras")
    backbone = model.get_layer(BACKBONE)
    start = keras.saving.load_model(tmp_path / pretrained["run_dir"] / "model.keras")
    # The top half moved in the second phase, the bottom never did.
    assert not np.array_equal(backbone.get_layer("dense1").kernel.numpy(), start.get_layer("dense1").kernel.numpy())
    np.testing.assert_array_equal(backbone.get_layer("block1_conv1").kernel.numpy(),
                                  start.get_layer("block1_conv1").kernel.numpy())


def test_transfer_recipe_without_its_backbone_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", TRANSFER])
    assert result.exit_code == 2, result.output
    assert "model.backbone: saved_models/cnn_0to4: no such file or folder" in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("options, message", [
    (["--set", "fine_tune.epochs=2"], "fine_tune.epochs: a second phase unfreezes a backbone"),
    (["--set", "data.classes=[3, 12]"], "data.classes: Fashion-MNIST"),
    (["--set", "data.classes=[3, 3]"], "data.classes: expected distinct class indices"),
])
def test_bad_fine_tune_and_classes(options, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", str(ROOT / "recipes" / "cnn.yaml"), "--dry-run", *options])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert list(tmp_path.iterdir()) == []


def test_data_classes_keeps_and_relabels(monkeypatch):
    from kerasdl.data.images import load_fashion_mnist

    data = load_fashion_mnist()
    subset = data.only([9, 5])
    assert subset.class_names == ["Ankle boot", "Sandal"]
    assert set(np.unique(subset.y_train)) == {0, 1}
    assert len(subset.x_train) == 12000 and len(subset.x_test) == 2000
    np.testing.assert_array_equal(subset.x_train[subset.y_train == 0], data.x_train[data.y_train == 9])


def test_a_bad_unfreeze_fails_before_any_training(backbone_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, [
        "run", TRANSFER, "--dry-run", "--set", f"model.backbone={backbone_file}",
        "--set", "model.feature_layer=null", "--set", "fine_tune.unfreeze=[block9_*]",
    ])
    assert result.exit_code == 2, result.output
    assert "fine_tune.unfreeze: no backbone layer is named 'block9_*'" in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_fine_tuning_beats_training_from_scratch(tmp_path):
    """The demonstration as the README runs it (about 6 minutes): the
    backbone on classes 0-4, then classes 5-9 from 500 labels, with it and
    from scratch. Measured: 0.9388 vs 0.9336, test loss 0.21 vs 0.24."""
    backbone = _run(["run", PRETRAIN, "--json", "--quiet"], tmp_path)
    assert backbone["test"]["accuracy"] > 0.94
    transfer = _run(["run", TRANSFER, "--json", "--quiet"], tmp_path)
    scratch = _run(["run", str(ROOT / "recipes" / "scratch_5to9.yaml"), "--json", "--quiet"], tmp_path)
    assert transfer["test"]["accuracy"] > scratch["test"]["accuracy"]
    assert transfer["test"]["loss"] < scratch["test"]["loss"]
