"""``build_cnn`` with its defaults in a plain TensorFlow training loop,
against the keras-io convnet (examples/vision/mnist_convnet.py) in the same
loop, side by side in one run: the test a TensorFlow user makes of the
builders in their own code.

Each model trains 2 epochs on the first 10,000 MNIST training images
(batch 128, Adam at 1e-3, a ``tf.GradientTape`` step under ``tf.function``,
no ``fit``), then is scored on the 10,000 test images; the keras-io convnet
gets its inputs scaled to [0, 1] as the example does (``build_cnn`` scales
inside the model). Prints each seed's test accuracy, the medians, and the
issue's target (build_cnn at least the convnet's 0.940).

    python bench/custom_loop.py [--seeds 1 2 3]
"""

from __future__ import annotations

import argparse
import statistics

EXAMPLES, EPOCHS, BATCH = 10_000, 2, 128


def keras_io_convnet():
    """bench/precision.py's keras-io convnet, as written; this loop compiles nothing."""
    from precision import keras_io_convnet as written

    return written()


def train_and_score(model, images, labels, test_images, test_labels, seed: int) -> float:
    """The custom loop: shuffled batches, Adam, gradient tape; test accuracy."""
    import keras
    import tensorflow as tf

    optimizer = keras.optimizers.Adam(1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True)) + tf.add_n(model.losses or [tf.constant(0.0)])
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).shuffle(len(images), seed=seed).batch(BATCH)
    for _ in range(EPOCHS):
        for x, y in dataset:
            step(x, y)
    predictions = model.predict(test_images, batch_size=1024, verbose=0)
    return float((predictions.argmax(axis=1) == test_labels).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    arguments = parser.parse_args()
    import keras

    from kerasdl.builders import build_cnn
    from kerasdl.data.images import load_mnist

    data = load_mnist()
    images, labels = data.x_train[:EXAMPLES].astype("float32"), data.y_train[:EXAMPLES]
    test_images, test_labels = data.x_test.astype("float32"), data.y_test
    found: dict[str, list[float]] = {"build_cnn defaults": [], "keras-io convnet": []}
    for seed in arguments.seeds:
        keras.utils.set_random_seed(seed)
        found["build_cnn defaults"].append(
            train_and_score(build_cnn((28, 28, 1), 10), images, labels, test_images, test_labels, seed))
        keras.utils.set_random_seed(seed)
        found["keras-io convnet"].append(train_and_score(
            keras_io_convnet(), images / 255.0, labels, test_images / 255.0, test_labels, seed))
        print(f"seed {seed}: " + ", ".join(f"{name} {values[-1]:.4f}" for name, values in found.items()), flush=True)
    medians = {name: statistics.median(values) for name, values in found.items()}
    print("medians: " + ", ".join(f"{name} {value:.4f}" for name, value in medians.items()))
    target = medians["keras-io convnet"]
    verdict = "met" if medians["build_cnn defaults"] >= target else "missed"
    print(f"target: build_cnn defaults >= the convnet's {target:.4f}: {verdict}")


if __name__ == "__main__":
    main()
