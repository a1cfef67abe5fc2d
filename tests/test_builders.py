"""Builders: every registered one, through the public API, with tiny shapes."""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasdl.builders import build_cnn, build_dense, build_resnet
from kerasdl.errors import BuilderArgumentError
from kerasdl.models import test_time
from kerasdl.registry import BUILDERS, create_model

SMALL = {"dense": {"units": [8]}, "cnn": {"filters": [4, 8]},
         "transfer": {"backbone": "MobileNetV2", "input_size": [32, 32]}}


# Classifiers; word2vec takes a vocabulary instead (tests/test_word2vec.py),
# the GAN makes images (tests/test_gan.py), and the autoencoder rebuilds its
# inputs (tests/test_anomaly.py).
GENERATIVE = {"gan", "autoencoder", "super_resolution"}  # Images out: tests/test_<family>.py.
CLASSIFIERS = [
    name for name in BUILDERS.names()
    if "num_classes" in inspect.signature(BUILDERS.get(name)).parameters and name not in GENERATIVE
]


def test_every_builder_is_a_classifier_word2vec_or_one_of_images_out():
    assert set(BUILDERS.names()) - set(CLASSIFIERS) == {"word2vec", "gan", "autoencoder", "super_resolution"}


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_every_builder_returns_an_uncompiled_functional_model(name):
    model = create_model(name, input_shape=(12, 12, 1), num_classes=3, **SMALL.get(name, {}))
    assert isinstance(model, keras.Model) and model.__class__.__name__ == "Functional"
    assert not model.compiled  # Uncompiled: training lives elsewhere.
    assert model.output_shape == (None, 3)
    # Usable from plain TensorFlow code: call it on a tf.Tensor.
    outputs = model(tf.random.uniform((2, 12, 12, 1), maxval=255.0), training=False)
    np.testing.assert_allclose(tf.reduce_sum(outputs, axis=-1).numpy(), [1.0, 1.0], rtol=1e-5)


@pytest.mark.parametrize(
    "activation",
    ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "swish", "silu", "gelu", "softmax", "mish"],
)
def test_dense_accepts_every_keras_activation(activation):
    model = build_dense((6,), 2, units=[4], activation=activation, rescale=None)
    layer_activations = [layer.activation.__name__ for layer in model.layers if isinstance(layer,
        keras.layers.Activation)]
    assert layer_activations == [keras.activations.get(activation).__name__]


def test_dense_initializer_with_arguments_and_regularization():
    model = build_dense(
        (784,), 10, units=[300],
        kernel_initializer={"name": "truncated_normal", "stddev": 0.01},
        l1=1e-5, l2=1e-4, batch_norm=True, rescale=None,
    )
    hidden = model.get_layer(index=2)  # inputs, flatten, dense
    assert isinstance(hidden.kernel_initializer, keras.initializers.TruncatedNormal)
    assert hidden.kernel_initializer.stddev == 0.01
    assert float(np.std(hidden.kernel.numpy())) < 0.011  # Truncated at 2 stddevs.
    assert hidden.kernel_regularizer.get_config() == {"l1": 1e-5, "l2": 1e-4}
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    assert len(model.losses) == 1  # The penalty term.


def test_cnn_residual_blocks_project_only_when_the_shape_changes():
    model = build_cnn((16, 16, 3), 4, filters=[8, 8, 16], residual=True)
    names = [layer.name for layer in model.layers]
    assert "block1_projection" in names  # 3 -> 8 channels.
    assert "block2_projection" not in names  # 8 -> 8: identity shortcut.
    assert "block3_projection" in names  # 8 -> 16 channels.
    assert sum(isinstance(layer, keras.layers.Add) for layer in model.layers) == 3


def test_cnn_strided_residual_block_projects():
    model = build_cnn((16, 16, 1), 2, filters=[4, 4], residual=True, strides=2, pooling=None)
    assert "block2_projection" in [layer.name for layer in model.layers]
    assert model.get_layer("block2_add").output.shape[1:] == (4, 4, 4)


def test_cnn_pooling_head_and_dense_units():
    model = build_cnn((28, 28, 1), 10, filters=[4, 8], pooling="avg", head="flatten", dense_units=[16])
    kinds = {type(layer).__name__ for layer in model.layers}
    assert {"AveragePooling2D", "Flatten", "Dense"} <= kinds
    assert model.get_layer("dense1").units == 16


def test_cnn_valid_padding_and_an_unpooled_last_block():
    """recipes/cnn.yaml's layout: 28 -> 26 -> 13 -> 11 -> 5 -> 3, and the
    3x3 map reaches the head whole."""
    model = build_cnn((28, 28, 1), 10, filters=[16, 32, 64], convs_per_block=1, padding="valid",
                      batch_norm=False, pool_last_block=False, head="flatten")
    assert model.get_layer("block3_conv1").output.shape[1:] == (3, 3, 64)
    assert model.get_layer("flatten").output.shape[1:] == (576,)
    assert "block3_pool" not in [layer.name for layer in model.layers]
    assert model.get_layer("block2_conv1").use_bias  # No batch norm to absorb the bias.
    pooled = build_cnn((28, 28, 1), 10, filters=[16, 32, 64], convs_per_block=1, padding="valid")
    assert pooled.get_layer("block3_pool").output.shape[1:] == (1, 1, 64)


def test_cnn_augmentation_is_active_only_in_training():
    model = build_cnn(
        (28, 28, 1), 3, filters=[4], random_flip="horizontal", random_rotation=0.1,
        random_zoom=0.1, random_translation=0.1, random_contrast=0.2, dropout_rate=0.0,
    )
    kinds = [type(layer).__name__ for layer in model.layers]
    for kind in ("RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast"):
        assert kind in kinds
    # Compare the augmented images themselves (batch-norm statistics differ
    # between modes too, so the logits would prove nothing).
    augment = keras.Model(model.input, model.get_layer(index=kinds.index("RandomContrast")).output)
    images = np.random.default_rng(0).uniform(0, 255, (4, 28, 28, 1)).astype("float32")
    inference = augment(images, training=False).numpy()
    np.testing.assert_allclose(inference, images / 255.0, rtol=1e-5)
    assert not np.allclose(augment(images, training=True).numpy(), inference)


@pytest.mark.parametrize(
    "builder, arguments, argument",
    [
        (build_dense, {"dropout_rate": 1.0}, "dropout_rate"),
        (build_dense, {"units": []}, "units"),
        (build_dense, {"activation": "relux"}, "activation"),
        (build_dense, {"l2": -1.0}, "l2"),
        (build_dense, {"kernel_initializer": {"name": "truncated_normal", "stdev": 1}}, "kernel_initializer"),
        (build_cnn, {"pooling": "median"}, "pooling"),
        (build_cnn, {"filters": [8, 0]}, "filters"),
        (build_cnn, {"random_flip": "sideways"}, "random_flip"),
        (build_cnn, {"head": "attention"}, "head"),
        (build_cnn, {"residual": True, "padding": "valid"}, "padding"),
        (build_cnn, {"filters": [8, 16, 32, 64], "padding": "valid"}, "filters"),
        (build_cnn, {"filters": [8] * 5}, "filters"),
    ],
)
def test_bad_arguments_name_the_argument(builder, arguments, argument):
    with pytest.raises(BuilderArgumentError) as error:
        builder((28, 28, 1), 10, **arguments)
    assert error.value.argument == argument
    assert "Received:" in str(error.value)


def test_cnn_rejects_flat_inputs_with_a_hint():
    with pytest.raises(BuilderArgumentError, match="feature_shape"):
        build_cnn((784,), 10)


def test_cnn_test_time_flip_averages_both_views_at_inference_only(tmp_path):
    model = build_cnn((12, 12, 1), 3, filters=(4,), random_flip="horizontal", test_time_flip=True)
    network = test_time.unwrapped(model)
    assert network is not model and network.name == "cnn_network"
    images = np.random.default_rng(0).uniform(0, 255, (4, 12, 12, 1)).astype("float32")
    expected = (network.predict(images, verbose=0) + network.predict(images[:, :, ::-1], verbose=0)) / 2
    np.testing.assert_allclose(model.predict(images, verbose=0), expected, rtol=1e-5, atol=1e-6)
    # A mirrored image gets the same prediction; so does a call without
    # training=, where Keras 3 would run the network's random flip.
    np.testing.assert_allclose(model.predict(images[:, :, ::-1], verbose=0), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model(images).numpy(), expected, rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict(images, verbose=0), expected, rtol=1e-5, atol=1e-6)
    # In training the wrapper runs the network once, on the image alone.
    calls = []
    network.call = lambda inputs, training=None, mask=None: calls.append(training) or inputs[:, 0, 0, :1]
    model.get_layer("test_time_flip").call(tf.constant(images), training=True)
    model.get_layer("test_time_flip").call(tf.constant(images), training=False)
    assert calls == [True, False, False]


def test_cnn_test_time_flip_needs_flips_in_training():
    with pytest.raises(BuilderArgumentError, match="random_flip") as raised:
        build_cnn((12, 12, 1), 3, filters=(4,), test_time_flip=True)
    assert raised.value.argument == "test_time_flip"


@pytest.mark.parametrize("depth, weights", [(18, 11_689_512), (34, 21_797_672)])
def test_resnet_has_the_papers_layers_and_weights(depth, weights):
    """At ImageNet's size, the trainable weights of the paper's networks
    (those torchvision's resnet18 and resnet34 count)."""
    model = build_resnet((224, 224, 3), 1000, depth=depth)
    assert model.name == f"resnet{depth}"
    assert sum(int(np.prod(weight.shape)) for weight in model.trainable_weights) == weights
    assert model.get_layer("stem_conv").kernel_size == (7, 7) and model.get_layer("stem_pool")
    blocks = [layer.name for layer in model.layers if layer.name.endswith("_add")]
    assert len(blocks) == sum({18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}[depth])
    assert model.get_layer(blocks[-1]).output.shape[1:] == (7, 7, 512)


def test_resnet_keeps_small_images_whole_in_its_stem():
    model = build_resnet((28, 28, 1), 10, filters=(4, 4, 8, 8))
    names = [layer.name for layer in model.layers]
    assert model.get_layer("stem_conv").strides == (1, 1) and "stem_pool" not in names
    assert [model.get_layer(f"stage{stage}_block1_add").output.shape[1] for stage in (1, 2, 3, 4)] == [28, 14, 7, 4]
    # Projection shortcuts where the shape changes only: the stem gives stage 1 its width.
    assert [name for name in names if name.endswith("_projection")] == [
        f"stage{stage}_block1_projection" for stage in (2, 3, 4)]


@pytest.mark.parametrize("arguments, message", [
    ({"depth": 50}, "`depth` must be one of 18, 34"),
    ({"filters": (8, 16)}, "one entry of filters per stage"),
    ({"stem": "cifar"}, "`stem` must be one of"),
])
def test_resnet_refuses_what_it_does_not_build(arguments, message):
    with pytest.raises(BuilderArgumentError, match=message):
        build_resnet((28, 28, 1), 10, **arguments)
