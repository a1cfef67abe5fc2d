"""Models saved before the package layout changed still load and answer the same.

The fixtures were written by commit 31405d4 (tests/fixtures/main-31405d4/README.md).
"""

from pathlib import Path

import keras
import numpy as np

from kerasdl.artifacts import trained

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "main-31405d4"


def test_an_old_savedmodel_export_answers_as_it_did():
    model = trained.locate(FIXTURES / "cnn_export")
    assert model.kind == "savedmodel" and model.name == "cnn_fixture"
    assert model.class_names[9] == "Ankle boot"
    inputs = np.load(FIXTURES / "inputs.npy")
    np.testing.assert_allclose(model.predictor()(inputs), np.load(FIXTURES / "cnn_probabilities.npy"), atol=1e-6)


def test_an_old_keras_file_loads_with_its_schedule_and_answers_as_it_did():
    located = trained.locate(FIXTURES / "cnn_export")
    model = located.keras_model()  # Through assets.extra/model.keras, with the optimizer.
    schedule = model.optimizer._learning_rate  # The schedule itself; .learning_rate is its current value.
    assert type(schedule).__name__ == "WarmUp" and type(schedule).__module__ == "kerasdl.models.schedules"
    inputs = np.load(FIXTURES / "inputs.npy")
    np.testing.assert_allclose(model.predict(inputs, verbose=0), np.load(FIXTURES / "cnn_probabilities.npy"), atol=1e-5)


def test_an_old_gan_and_preprocessing_layer_load():
    located = trained.locate(FIXTURES / "gan.keras")
    gan = located.keras_model()
    assert type(gan).__module__ == "kerasdl.models.gan" and gan.latent_dim == 8
    images = keras.ops.convert_to_numpy(gan.generator(np.load(FIXTURES / "gan_latent.npy"), training=False))
    np.testing.assert_allclose(images, np.load(FIXTURES / "gan_images.npy"), atol=1e-4)

    model = trained.locate(FIXTURES / "preprocessing.keras").keras_model()
    assert type(model.layers[1]).__module__ == "kerasdl.models.preprocessing"
    outputs = keras.ops.convert_to_numpy(model(np.load(FIXTURES / "preprocessing_inputs.npy")))
    np.testing.assert_allclose(outputs, np.load(FIXTURES / "preprocessing_outputs.npy"), atol=1e-5)
