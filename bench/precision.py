"""Training throughput by precision, side by side in one process.

Each contender trains on its recipe's real data, built and compiled as
``kerasdl run`` builds it (``training.Prepared``), once in float32 and once
in mixed_bfloat16 (where the CPU has bfloat16 arithmetic), plus the keras-io
"Simple MNIST convnet" as written there (on Fashion-MNIST). Contenders are
timed round by round, interleaved, so that a noisy neighbour slows all of
them alike; medians of the rounds are printed, with the ratio to the
keras-io convnet for the image classifiers and to float32 for each recipe.

    python bench/precision.py [--rounds 5] [--seconds 4]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from kerasdl import devices
from kerasdl.datasets import load_fashion_mnist
from kerasdl.recipe import load_recipe
from kerasdl.training import Prepared

ROOT = Path(__file__).resolve().parent.parent


def keras_io_convnet() -> tuple[keras.Model, tf.data.Dataset, int]:
    """keras-io/examples/vision/mnist_convnet.py, as written (batch 128)."""
    data = load_fashion_mnist()
    x = data.x_train.astype("float32") / 255  # Already [n, 28, 28, 1]: the guide's expand_dims is done.
    y = keras.utils.to_categorical(data.y_train, 10)
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).cache().shuffle(len(x)).batch(128).prefetch(tf.data.AUTOTUNE)
    return model, dataset.repeat(), 128


def recipe_contender(recipe_file: str, precision: str) -> tuple[keras.Model, tf.data.Dataset, int]:
    recipe = load_recipe(ROOT / "recipes" / recipe_file, [f"training.precision={precision}"])
    prepared = Prepared(recipe, pretrain=False, log=lambda _: None)
    return prepared.model, prepared.train.repeat(), prepared.batch_size


def timed(model: keras.Model, dataset: tf.data.Dataset, steps: int) -> float:
    start = time.perf_counter()
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0, help="About how long each contender trains per round.")
    arguments = parser.parse_args()
    keras.utils.set_random_seed(0)
    precisions = ["float32"] + (["mixed_bfloat16"] if devices.cpu_supports_bfloat16() else [])
    builders: dict[str, Callable] = {"keras-io convnet (float32)": keras_io_convnet}
    for recipe_file in ("cnn.yaml", "lstm.yaml", "gan.yaml"):
        for precision in precisions:
            builders[f"{recipe_file} {precision}"] = (lambda r=recipe_file, p=precision: recipe_contender(r, p))
    contenders = {}
    for name, build in builders.items():
        model, dataset, batch = build()
        warm = timed(model, dataset, 5)  # Trace and warm up; then size a round.
        step = timed(model, dataset, 5) / 5
        contenders[name] = (model, dataset, batch, max(5, int(arguments.seconds / step)))
        print(f"  {name}: {contenders[name][3]} steps a round (warm-up {warm:.1f} s)", flush=True)
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(arguments.rounds):
        for name, (model, dataset, batch, steps) in contenders.items():
            rates[name].append(steps * batch / timed(model, dataset, steps))
    medians = {name: statistics.median(values) for name, values in rates.items()}
    reference = medians["keras-io convnet (float32)"]
    print(f"\nTraining samples/s, median of {arguments.rounds} rounds (one process, interleaved):")
    print(f"{'contender':<30} {'samples/s':>10} {'vs float32':>11} {'vs keras-io':>12}   rounds")
    for name, median in medians.items():
        base = medians.get(name.replace("mixed_bfloat16", "float32"), median)
        versus = f"{median / reference:>11.2f}x" if name.startswith(("cnn", "keras-io")) else f"{'':>12}"
        spread = " ".join(f"{value:.0f}" for value in rates[name])
        print(f"{name:<30} {median:>10.0f} {median / base:>10.2f}x {versus}   {spread}")


if __name__ == "__main__":
    main()
