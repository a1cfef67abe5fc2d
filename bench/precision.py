"""Training throughput by precision, and the CNN recipe against the keras-io
convnet at equal accuracy, side by side in one run.

1. Throughput, interleaved: each recipe's model trains on its real data,
   built and compiled as ``kerasdl run`` builds it (``tasks.loop.prepared``),
   in float32 and in mixed_bfloat16 (where the CPU has bfloat16
   arithmetic); Word2Vec (float32 only) trains whole epochs with its own
   step. The keras-io "Simple MNIST convnet" (on Fashion-MNIST) trains on
   a tf.data pipeline like the recipes'. Contenders take turns round by
   round, so that a noisy neighbour slows all of them alike; medians are
   printed, and ratios (to float32, and for the image classifiers to the
   keras-io convnet) as the median of each round's ratio: the machine
   switches between full and about half speed within seconds, and pairs
   taken seconds apart share the state more often than whole medians do.
2. To the end (skip with ``--no-accuracy``): the keras-io convnet as
   written there (``model.fit`` on arrays, batch 128, 15 epochs,
   validation_split 0.1), and ``kerasdl run recipes/cnn.yaml`` in float32
   and in mixed_bfloat16, each trained to its last epoch and scored on
   the 10,000 test images: test accuracy, training samples/s (first epoch
   left out) and the training's wall time.

    python bench/precision.py [--rounds 9] [--seconds 2] [--no-accuracy]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

from kerasdl.data import catalogue  # noqa: E402
from kerasdl.data.images import load_fashion_mnist  # noqa: E402
from kerasdl.recipe import load_recipe  # noqa: E402
from kerasdl.runtime import devices  # noqa: E402
from kerasdl.tasks import loop, word2vec  # noqa: E402
from kerasdl.tasks.building import build_model  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
KERAS_IO = "keras-io convnet"
CNN = "cnn.yaml"


def keras_io_convnet() -> keras.Model:
    """keras-io/examples/vision/mnist_convnet.py, as written."""
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
    return model


def keras_io_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The example's preprocessing: [0, 1] floats, one-hot labels (the
    images are already [n, 28, 28, 1]: its expand_dims is done)."""
    data = load_fashion_mnist()
    scale = lambda x: x.astype("float32") / 255  # noqa: E731
    one_hot = lambda y: keras.utils.to_categorical(y, 10)  # noqa: E731
    return scale(data.x_train), one_hot(data.y_train), scale(data.x_test), one_hot(data.y_test)


@dataclass
class Contender:
    """One round: ``train(steps)`` trains ``steps`` steps and returns the
    samples it saw (for Word2Vec, ``steps`` is ignored: one epoch, in words)."""

    train: Callable[[int], float]
    steps: int = 5
    batch: Optional[int] = None

    def rate(self) -> float:
        start = time.perf_counter()
        samples = self.train(self.steps)
        return samples / (time.perf_counter() - start)


def _fitter(model: keras.Model, dataset: tf.data.Dataset, batch: int) -> Contender:
    iterator_dataset = dataset.repeat()

    def train(steps: int) -> float:
        model.fit(iterator_dataset, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)
        return steps * batch

    return Contender(train, batch=batch)


def keras_io_contender() -> Contender:
    x, y, _, _ = keras_io_arrays()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).cache().shuffle(len(x)).batch(128).prefetch(tf.data.AUTOTUNE)
    return _fitter(keras_io_convnet(), dataset, 128)


def recipe_contender(recipe_file: str, precision: str) -> Contender:
    recipe = load_recipe(ROOT / "recipes" / recipe_file, [f"training.precision={precision}"])
    prepared = loop.prepared(recipe, pretrain=False, log=lambda _: None)
    return _fitter(prepared.model, prepared.train_data, prepared.batch_size)


def word2vec_contender() -> Contender:
    recipe = load_recipe(ROOT / "recipes" / "word2vec.yaml")
    data = catalogue.from_recipe(recipe)
    trainer = word2vec.trainer_for(recipe, build_model(recipe, data), data)
    rng = np.random.default_rng(0)

    def train(_: int) -> float:
        trainer.train_epoch(rng)
        return float(data.tokens)

    return Contender(train)


def sized(contender: Contender, seconds: float) -> Contender:
    """Traces and warms the contender up, then sizes its round."""
    contender.rate()
    if contender.batch is not None:
        step = contender.batch / contender.rate()
        contender.steps = max(5, int(seconds / step))
    return contender


def throughput(rounds: int, seconds: float) -> dict[str, list[float]]:
    precisions = ["float32"] + (["mixed_bfloat16"] if devices.cpu_supports_bfloat16() else [])
    builders: dict[str, Callable[[], Contender]] = {f"{KERAS_IO} float32": keras_io_contender}
    for recipe_file in (CNN, "cnn_bn.yaml", "lstm.yaml", "gan.yaml"):
        for precision in precisions:
            builders[f"{recipe_file} {precision}"] = (lambda r=recipe_file, p=precision: recipe_contender(r, p))
    builders["word2vec.yaml float32"] = word2vec_contender
    contenders = {}
    for name, build in builders.items():
        contenders[name] = sized(build(), seconds)
        print(f"  {name}: {contenders[name].steps if contenders[name].batch else 'one epoch'} a round", flush=True)
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, contender in contenders.items():
            rates[name].append(contender.rate())
    medians = {name: statistics.median(values) for name, values in rates.items()}

    def ratio(name: str, base: str) -> float:
        return statistics.median(ours / theirs for ours, theirs in zip(rates[name], rates[base]))

    print(f"\n1. Training throughput, median of {rounds} interleaved rounds:\n")
    print("| contender | batch | steps/s | samples/s | vs its float32 | vs keras-io convnet | rounds |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, median in medians.items():
        batch = contenders[name].batch
        versus = f"{ratio(name, f'{KERAS_IO} float32'):.2f}×" if name.startswith(("cnn", "keras-io")) else ""
        steps = f"{median / batch:.1f}" if batch else ""
        unit = "" if batch else " words"
        spread = " ".join(f"{value:.0f}" for value in rates[name])
        own = ratio(name, name.replace("mixed_bfloat16", "float32"))
        print(f"| {name} | {batch or ''} | {steps} | {median:,.0f}{unit} | {own:.2f}× | {versus} | {spread} |")
    return rates


class _EpochTimer(keras.callbacks.Callback):
    """Training seconds of each epoch, validation excluded."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_test_begin(self, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def keras_io_to_the_end() -> dict:
    """The example's training, as written, then its test accuracy."""
    keras.utils.set_random_seed(42)
    x, y, x_test, y_test = keras_io_arrays()
    model, timer = keras_io_convnet(), _EpochTimer()
    start = time.perf_counter()
    model.fit(x, y, batch_size=128, epochs=15, validation_split=0.1, verbose=0, callbacks=[timer])
    wall = time.perf_counter() - start
    trained = int(len(x) * 0.9)
    return {
        "accuracy": model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"],
        "samples/s": trained * len(timer.seconds[1:]) / sum(timer.seconds[1:]),
        "seconds": wall,
    }


def recipe_to_the_end(precision: str) -> dict:
    """``kerasdl run recipes/cnn.yaml`` in a fresh process, nothing exported."""
    with tempfile.TemporaryDirectory() as scratch:
        command = [
            sys.executable, "-m", "kerasdl", "run", str(ROOT / "recipes" / CNN), "--json", "--quiet",
            "--set", f"training.precision={precision}", "--set", "export.enabled=false",
            "--set", f"training.runs_dir={scratch}",
        ]
        result = subprocess.run(command, capture_output=True, text=True, cwd=scratch)
    if result.returncode != 0:
        sys.exit(f"benchmark command failed: {' '.join(command)}\n{result.stderr[-3000:]}")
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    return {
        "accuracy": summary["test"]["accuracy"],
        "samples/s": summary["train_samples_per_second"],
        "seconds": summary["train_seconds"],
    }


def to_the_end() -> None:
    precisions = ["float32"] + (["mixed_bfloat16"] if devices.cpu_supports_bfloat16() else [])
    results = {f"{KERAS_IO} as written, float32": keras_io_to_the_end()}
    for precision in precisions:
        results[f"`kerasdl run recipes/{CNN}`, {precision}"] = recipe_to_the_end(precision)
    reference = results[f"{KERAS_IO} as written, float32"]
    print("\n2. Trained to the end (15 epochs, 54,000 images), scored on the 10,000 test images:\n")
    print("| model | test accuracy | training samples/s | vs keras-io | training time | at equal accuracy |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, result in results.items():
        ratio = result["samples/s"] / reference["samples/s"]
        gap = 100 * (result["accuracy"] - reference["accuracy"])
        verdict = "" if name.startswith(KERAS_IO) else (
            f"{gap:+.2f} points; target ≥ 1.3× {'met' if ratio >= 1.3 and gap >= 0 else 'MISSED'}"
        )
        print(f"| {name} | {result['accuracy']:.4f} | {result['samples/s']:,.0f} | {ratio:.2f}× "
              f"| {result['seconds']:.0f} s | {verdict} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=2.0, help="About how long each contender trains per round.")
    parser.add_argument("--no-accuracy", action="store_true", help="Throughput only: train nothing to the end.")
    arguments = parser.parse_args()
    keras.utils.set_random_seed(0)
    throughput(arguments.rounds, arguments.seconds)
    if not arguments.no_accuracy:
        to_the_end()


if __name__ == "__main__":
    main()
