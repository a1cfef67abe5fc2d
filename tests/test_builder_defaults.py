"""Every builder trains with its defaults: a user who calls ``build_x`` with
only what the data gives and trains a few steps on tiny real data gets a
model that learns (validation accuracy well above chance, or a falling
loss), not one that only its training batches see improve."""

import inspect
import math

import keras
import numpy as np
import pytest

from kerasdl.builders import (
    build_autoencoder,
    build_cnn,
    build_dense,
    build_gan,
    build_lstm,
    build_resnet,
    build_super_resolution,
    build_word2vec,
)
from kerasdl.data import corpus
from kerasdl.data import word_vectors as wordvectors
from kerasdl.data.images import load_fashion_mnist
from kerasdl.data.series import load_co2
from kerasdl.data.texts import load_tweet_sentiment
from kerasdl.errors import BuilderArgumentError
from kerasdl.evaluation import restoration
from kerasdl.models import anomaly
from kerasdl.models.word2vec_trainer import Word2VecTrainer
from kerasdl.registry import BUILDERS

TESTED = {"dense", "cnn", "resnet", "lstm", "gan", "word2vec", "autoencoder", "super_resolution"}


@pytest.fixture(scope="module")
def fashion():
    return load_fashion_mnist()


def _fit(model, x, y, x_val, y_val, epochs, batch_size=64):
    keras.utils.set_random_seed(7)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model.fit(x, y, validation_data=(x_val, y_val), epochs=epochs, batch_size=batch_size, verbose=0).history


def test_every_builder_of_its_own_is_checked_here():
    # transfer is a pretrained backbone's head: tests/test_transfer.py trains it.
    assert set(BUILDERS.names()) - {"transfer"} == TESTED


def test_super_resolution_defaults_restore_held_out_images_better_than_bicubic(fashion):
    keras.utils.set_random_seed(7)
    restorer = build_super_resolution(fashion.input_shape)
    restorer.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
    restorer.fit(fashion.x_train[:2000], epochs=1, batch_size=16, verbose=0)
    held_out = fashion.x_test[:500].astype(np.float32)
    restored = restorer.predict(held_out, verbose=0)
    bicubic = restoration.baselines(held_out, 2)["bicubic"]
    # The untrained generator is bicubic exactly (tests/test_super_resolution.py); these 125 steps gave +0.77 dB.
    # A clip in training whose gradient is zero outside 0-255 (a ReLU capped at 255) left them at 7.5 dB.
    assert restoration.scores(held_out, restored)["psnr"] > bicubic["psnr"] + 0.3


def test_dense_defaults_learn_fashion_mnist(fashion):
    keras.utils.set_random_seed(7)
    history = _fit(build_dense(fashion.input_shape, 10), fashion.x_train[:2000], fashion.y_train[:2000],
                   fashion.x_test[:1000], fashion.y_test[:1000], epochs=2)
    assert history["val_accuracy"][-1] > 0.6  # Chance is 0.1.


def test_cnn_defaults_score_as_well_on_validation_as_on_training_batches(fashion):
    """Batch norm's moving statistics keep up in a short run: with Keras's
    momentum of 0.99, 2 epochs of 3,000 images (94 steps) gave validation
    accuracy far below the training batches'."""
    keras.utils.set_random_seed(7)
    history = _fit(build_cnn(fashion.input_shape, 10), fashion.x_train[:3000], fashion.y_train[:3000],
                   fashion.x_test[:1000], fashion.y_test[:1000], epochs=2)
    assert history["val_accuracy"][-1] > 0.6
    assert history["val_accuracy"][-1] > history["accuracy"][-1] - 0.1


def test_resnet18_learns_fashion_mnist_at_a_sixteenth_of_its_widths(fashion):
    """ResNet-18 as its defaults build it but for the widths (the paper's
    take 1.85 s a step here: bench/architectures.py), on real images."""
    keras.utils.set_random_seed(7)
    model = build_resnet(fashion.input_shape, 10, filters=(4, 8, 8, 16))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(fashion.x_train[:2000], fashion.y_train[:2000], validation_data=(
        fashion.x_test[:500], fashion.y_test[:500]), epochs=2, batch_size=64, verbose=0).history
    assert history["val_accuracy"][-1] > 0.45  # Chance is 0.1.


def test_autoencoder_defaults_rebuild_unseen_garments_better_than_their_mean(fashion):
    """Trained as the anomaly task trains it (the detector's mean score), on
    real images: the test garments' error falls below that of answering
    every garment with the training images' mean."""
    keras.utils.set_random_seed(7)
    detector = anomaly.detector(build_autoencoder(fashion.input_shape), 1 / 255)
    detector.compile(optimizer=keras.optimizers.Adam(2e-3), loss=anomaly.MeanScore())
    train, test = fashion.x_train[:3000].astype("float32"), fashion.x_test[:500].astype("float32")
    detector.fit(train, np.zeros(len(train)), epochs=3, batch_size=64, verbose=0)
    mean_image = np.mean((test - train.mean(axis=0)) ** 2) / 255**2
    assert float(np.mean(detector.predict(test, verbose=0))) < mean_image / 2


def test_cnn_batch_norm_momentum_is_an_argument_in_range():
    model = build_cnn((12, 12, 1), 3, filters=(4,), batch_norm_momentum=0.8)
    momenta = {layer.momentum for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)}
    assert momenta == {0.8}
    assert inspect.signature(build_dense).parameters["batch_norm_momentum"].default == 0.9
    for builder in (build_cnn, build_dense):
        with pytest.raises(BuilderArgumentError, match=r"must be in \[0, 1\)") as raised:
            builder((12, 12, 1), 3, batch_norm_momentum=1.0)
        assert raised.value.argument == "batch_norm_momentum"


def test_lstm_defaults_learn_tweet_sentiment_and_co2():
    tweets = load_tweet_sentiment()
    model = build_lstm(num_classes=3, adapt_data=tweets.x_train[:1500])
    history = _fit(model, tweets.x_train[:1500], tweets.y_train[:1500], tweets.x_test[:1000], tweets.y_test[:1000],
                   epochs=2)
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.45  # The largest class is 42% of the tweets.

    series = load_co2()
    keras.utils.set_random_seed(7)
    forecaster = build_lstm(series.input_shape, horizon=series.horizon, adapt_data=series.x_train)
    forecaster.compile(optimizer="adam", loss="mse")
    losses = forecaster.fit(series.x_train, series.y_train, epochs=2, batch_size=64, verbose=0).history["loss"]
    assert losses[-1] < 0.8 * losses[0]


def test_gan_defaults_need_no_class_count_and_train(fashion):
    keras.utils.set_random_seed(7)
    gan = build_gan(fashion.input_shape, seed=7)  # An unconditional DCGAN: no num_classes.
    gan.compile(
        discriminator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        generator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
    )
    history = gan.fit(fashion.x_train[:960], epochs=2, batch_size=64, verbose=0).history
    # The discriminator tells real from generated (a discriminator that
    # cannot scores log 4 = 1.386), and the generator's images stay in the
    # data's range.
    assert history["d_loss"][-1] < math.log(4) - 0.05 and history["d_real"][-1] > history["d_fake"][-1] + 0.1
    images = keras.ops.convert_to_numpy(gan(np.random.default_rng(0).standard_normal((8, 128)).astype("float32")))
    assert np.isfinite(images).all() and images.min() >= 0.0 and images.max() <= 255.0


def test_word2vec_defaults_lower_the_loss_on_real_news():
    texts = wordvectors.benchmark_file("lee_background.cor").read_text().splitlines()
    data = corpus.build_corpus(texts, "lee", min_count=2, max_vocabulary_size=None, window=5, sample=1e-3,
                               block_size=16, shared_negatives=5, lowercase=True)
    model = build_word2vec(len(data.vocabulary))
    trainer = Word2VecTrainer(model, data, 512)
    rng = np.random.default_rng(7)
    losses = [trainer.train_epoch(rng)["loss"] for _ in range(3)]
    assert losses[-1] < 0.9 * losses[0]
