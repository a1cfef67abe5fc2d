"""FusedBatchNormalization (models/fused.py) is Keras's BatchNormalization
with TensorFlow's fused kernel in training: the same outputs, gradients
and moving statistics in training, the same answers at inference, and a
model holding it saves and loads in safe mode."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasdl.models.fused import FusedBatchNormalization


def _pair(**arguments):
    images = np.random.default_rng(0).normal(3.0, 2.0, (16, 7, 7, 5)).astype("float32")
    layers = [keras.layers.BatchNormalization(**arguments), FusedBatchNormalization(**arguments)]
    for layer in layers:
        layer.build(images.shape)
    weights = [np.random.default_rng(1).uniform(0.5, 1.5, weight.shape).astype("float32")
               for weight in layers[0].get_weights()]
    for layer in layers:
        layer.set_weights(weights)
    return layers, tf.constant(images)


@pytest.mark.parametrize("arguments", [{"momentum": 0.9}, {"momentum": 0.99, "center": False},
                                       {"momentum": 0.5, "scale": False, "epsilon": 1e-2}])
def test_training_matches_keras_outputs_gradients_and_moving_statistics(arguments):
    layers, images = _pair(**arguments)
    pull = tf.constant(np.random.default_rng(2).normal(size=images.shape).astype("float32"))
    found = []
    for layer in layers:
        with tf.GradientTape() as tape:
            tape.watch(images)
            outputs = layer(images, training=True)
            loss = tf.reduce_sum(outputs * pull)
        gradients = tape.gradient(loss, [images, *layer.trainable_weights])
        found.append((outputs.numpy(), [g.numpy() for g in gradients],
                      [w.numpy() for w in (layer.moving_mean, layer.moving_variance)]))
    (keras_out, keras_grads, keras_moving), (fused_out, fused_grads, fused_moving) = found
    np.testing.assert_allclose(fused_out, keras_out, atol=1e-5)
    for fused, expected in zip(fused_grads, keras_grads):
        np.testing.assert_allclose(fused, expected, atol=1e-4)
    for fused, expected in zip(fused_moving, keras_moving):
        np.testing.assert_allclose(fused, expected, rtol=1e-6, atol=1e-6)  # Biased variance, as Keras's.


def test_inference_is_keras_own_and_the_layer_saves(tmp_path):
    layers, images = _pair(momentum=0.9)
    np.testing.assert_array_equal(layers[1](images, training=False).numpy(), layers[0](images, training=False).numpy())
    inputs = keras.Input((7, 7, 5))
    model = keras.Model(inputs, FusedBatchNormalization(name="bn")(inputs))
    model.get_layer("bn").set_weights(layers[1].get_weights())
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert type(loaded.get_layer("bn")) is FusedBatchNormalization
    np.testing.assert_array_equal(loaded.predict(images, verbose=0), model.predict(images, verbose=0))


def test_frozen_or_mixed_precision_goes_to_keras(monkeypatch):
    layers, images = _pair(momentum=0.9)
    fused = layers[1]
    calls = []
    monkeypatch.setattr(tf.compat.v1.nn, "fused_batch_norm", lambda *a, **k: calls.append(1) or (_ for _ in ()).throw(
        AssertionError("fused kernel used")))
    fused.trainable = False  # Frozen: Keras runs it in inference mode.
    np.testing.assert_allclose(fused(images, training=True).numpy(), layers[0](images, training=False).numpy(),
                               atol=1e-6)
    half = FusedBatchNormalization(dtype="mixed_float16")  # Computes in float16: Keras's call upcasts it.
    assert half(tf.cast(images, tf.float16), training=True).dtype == tf.float16
    assert calls == []
